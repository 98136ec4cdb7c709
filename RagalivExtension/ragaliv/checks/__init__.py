"""Plausibility and consistency checks of the inputs and results: one place, used by the CLI, the batch and the
Slicer modules' Libs (issue 8: no silent wrong number).

Modules, each with one job:

* :mod:`.findings` - a check's result (refuse / undetermined / warn), the check ids the user can ``--accept``,
  and how findings become an error (exit 2) or warnings;
* :mod:`.ranges` - the plausibility ranges and tolerances, each with its source;
* :mod:`.nuclides` - radionuclide identity: header half-life against the named nuclide and the expected tracer;
* :mod:`.pet_values` - weight, height, BMI, injected activity and uptake time of one PET (used by the SUV
  header rules, so every PET loaded anywhere is checked);
* :mod:`.voxels` - the activity in a PET image against the injected activity (absurd voxels, wrong dose);
* :mod:`.pair` - the IA/IV pair: one patient, two different scans that agree (NOT DETERMINED otherwise);
* :mod:`.spect` - the SPECT study and its TACs/TIACs against the administered activity and physics;
* :mod:`.outputs` - output folders checked before computing and holding the files of one run only.
"""
