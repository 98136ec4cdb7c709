"""Files in and out: images, DICOM series and segmentations, and the atomic writers every result goes through.

* :mod:`.images` — NRRD/NIfTI/MHA images with their geometry (SimpleITK);
* :mod:`.dicom_series` — one DICOM series as a volume (geometry from the headers), read with
  :mod:`.dicom_header` (fast header parse, :mod:`.dicom_keywords` its tag table), :mod:`.dicom_geometry`
  (slices as planes, the grid they form) and :mod:`.dicom_checks` (whole series, valid rescale, or a refusal);
* :mod:`.segmentation` — Slicer ``.seg.nrrd`` and labelmaps + labels CSV;
* :mod:`.atomic` — write a file completely or not at all (temporary file + rename);
* :mod:`.results` — result tables (CSV) and documents (JSON), byte-identical for the same inputs;
* :mod:`.suffix` — file-name suffixes such as ``.seg.nrrd`` and ``.nii.gz``.
"""
