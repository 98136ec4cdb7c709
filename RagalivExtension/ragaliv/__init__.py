"""Ragaliv core: PET SUV and IA/IV uptake ratios, 177Lu SPECT/CT kinetics and dosimetry.

Pure Python on numpy, scipy, SimpleITK and pydicom (all shipped inside 3D Slicer). No ``slicer``, ``vtk`` or
``qt`` import anywhere in this package: the Slicer modules adapt MRML nodes to these functions.
"""

__version__ = "0.1.0"
