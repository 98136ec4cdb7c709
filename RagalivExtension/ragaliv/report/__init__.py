"""Trial outputs: provenance sidecars, plots, case reports, DICOM SEG/SR export.

* :mod:`.provenance` — ``provenance.json`` beside every result folder;
* :mod:`.plots` — the PNG plots (lesion ratios, time-activity curves; matplotlib, optional);
* :mod:`.case_report` with :mod:`.html_template`, :mod:`.figures`, :mod:`.snapshots`, :mod:`.pdf` — the report
  a radiologist and a physicist sign;
* :mod:`.dicom_export` with :mod:`.dicom_seg`, :mod:`.dicom_sr`, :mod:`.dicom_codes`, :mod:`.dicom_common` —
  DICOM SEG and TID 1500 SR (highdicom);
* :mod:`.phi` and :mod:`.identity` — de-identification.
"""
