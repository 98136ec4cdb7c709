"""PET quantification: SUV from DICOM headers (QIBA vendor-neutral rules, IBSI DROs), body-size normalisers.

* :mod:`.suv` — the conversion: ``load_pet`` (DICOM or Bq/mL image -> activity + SUV), ``compute_suv_parameters``;
* :mod:`.suv_parameters` — overrides, normalisers and the record of values used with their sources;
* :mod:`.header_rules` — resolves each SUV value from the headers (with :mod:`.patient_rules` for weight,
  height, sex, activity, nuclide and half-life, and :mod:`.timing_rules` for scan, injection and decay times);
* :mod:`.dicom_time` and :mod:`.dicom_values` — DA/TM/DT, numbers and private elements read defensively;
* :mod:`.body` — lean body mass, BSA, IBW.
"""
