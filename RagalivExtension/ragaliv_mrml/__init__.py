"""MRML adapters shared by the two Ragaliv module Libs: nodes <-> ragaliv core objects.

Imports ``slicer`` MRML classes and ``vtk`` only (no Qt, no ``slicer.mrmlScene``), so the same code runs
inside Slicer and under pytest on the ``slicer-core`` wheel. Every function takes its scene or nodes
explicitly. The core (``ragaliv``) never imports this package.
"""
