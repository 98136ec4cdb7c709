"""DICOM export of trial results: segments as DICOM SEG, measurements as a TID 1500 SR (QuantitativeReporting
style), both readable back by Ragaliv.

Public API
----------
* :func:`write_dicom_seg` / :func:`read_dicom_seg` - segments <-> DICOM Segmentation (BINARY);
* :func:`write_dicom_sr` / :func:`read_dicom_sr` - lesion-ratio analysis (+ optional dosimetry) <-> Comprehensive
  3D SR, TID 1500 Measurement Report;
* :func:`write_dicom_outputs` - both, for one patient, into a folder;
* :func:`dose_measurements_from_rows` - neutral dosimetry input from ``dose.csv``-style rows.

Writing needs highdicom (``pip install highdicom``; in Slicer ``slicer.util.pip_install('highdicom')``), which is
imported only when a writer is called; reading needs pydicom only.

Design decisions
----------------
* **UIDs.** New SEG/SR Series/SOP Instance UIDs, segment Tracking UIDs and the observer UID are derived from
  the inputs (hash of the source series UID, the masks, the numbers, the Ragaliv version), so the same inputs
  give byte-identical files. UIDs of the source images are never re-mapped, also not when de-identifying: the
  SEG and SR must keep referencing the PET/MRI instances that are in the trial archive. If a site re-maps UIDs
  when pseudonymising images, it must run the same mapping over these two files.
* **Dates.** Content Date/Time are those of the source series (SEG: the MRI series; SR: the later PET series),
  not of the run; Instance Creation Date/Time and Contribution DateTime (Type 3) are left out.
* **De-identification** (:class:`~ragaliv.report.phi.Deidentifier`): patient name/ID -> pseudonym, every date
  shifted by the patient's offset (times kept), birth date year only, accession number, study ID, other person
  and institution names removed; Patient Identity Removed = YES and the method recorded.
* **Studies.** The SEG belongs to the study of its source series (MRI); the SR to the IA PET study, with the IV
  PET and the SEG as Pertinent Other Evidence.
* **Codes.** :mod:`ragaliv.report.dicom_codes` lists every code and its source; quantities without a standard
  code (IA/IV ratio, aggregate, threshold, verdict, TIA, TIAC, BED) use the private scheme ``99RAGALIV``.
"""

import os
from collections.abc import Mapping, Sequence
from typing import Any, Optional

from ..geometry import SegmentMask
from ..ratio.analysis import RatioAnalysis
from .dicom_common import SeriesInput, import_highdicom
from .dicom_seg import SegExport, read_dicom_seg, write_dicom_seg
from .dicom_sr import SrExport, dose_measurements_from_rows, read_dicom_sr, write_dicom_sr
from .phi import Deidentifier

SEG_FILENAME = "segmentation.seg.dcm"
SR_FILENAME = "measurements.sr.dcm"

__all__ = [
    "SEG_FILENAME",
    "SR_FILENAME",
    "SegExport",
    "SrExport",
    "dose_measurements_from_rows",
    "import_highdicom",
    "read_dicom_seg",
    "read_dicom_sr",
    "write_dicom_outputs",
    "write_dicom_seg",
    "write_dicom_sr",
]


def write_dicom_outputs(
    outdir: str,
    segments: Sequence[SegmentMask],
    analysis: RatioAnalysis,
    reference_series: SeriesInput,
    ia_series: SeriesInput,
    iv_series: SeriesInput,
    deidentifier: Optional[Deidentifier] = None,
    dose_measurements: Optional[Sequence[Mapping[str, Any]]] = None,
) -> dict[str, Any]:
    """Write ``segmentation.seg.dcm`` (on the grid of ``reference_series``) and ``measurements.sr.dcm`` into
    ``outdir``; return ``{"seg": SegExport, "sr": SrExport, "warnings": [...]}``."""
    os.makedirs(outdir, exist_ok=True)
    seg = write_dicom_seg(segments, reference_series, os.path.join(outdir, SEG_FILENAME), deidentifier)
    sr = write_dicom_sr(analysis, ia_series, iv_series, seg, os.path.join(outdir, SR_FILENAME), deidentifier,
                        dose_measurements)
    return {"seg": seg, "sr": sr, "warnings": [*seg.warnings, *sr.warnings]}
