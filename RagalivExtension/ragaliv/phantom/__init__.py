"""The synthetic RAGALIV patient (``ragaliv phantom OUTDIR``): real DICOM, a Slicer segmentation, truth.

Layout of OUTDIR::

    truth.json                 true concentrations, SUVs, ratios, eligibility, TACs, TIAs
    mri/                       T1-weighted abdominal MR series (1.5 x 1.5 x 3 mm)
    pet_ia/  pet_iv/           68Ga PET series after intra-arterial / intravenous injection
    segmentation.seg.nrrd      "Lesion 1".."Lesion 5", "Healthy liver", "Kidney left/right", "Spleen",
                               "Bone marrow", "Extrahepatic 1" on the MRI grid
    labels.nrrd  labels.csv    the same segments as a labelmap + (label,name) table
    spect/study.json           input of ``ragaliv dosimetry``
    spect/segmentation.seg.nrrd  VOIs on the reference (first) CT
    spect/tpN_XXXh/{spect,ct}/ 177Lu SPECT (NM, Bq/mL) and CT per time point
"""

import datetime
import json
import os
from collections.abc import Sequence
from typing import Optional

import numpy as np

from ..geometry import Volume
from ..io.atomic import write_text
from ..io.images import write_image
from ..io.segmentation import paste_into, write_seg_nrrd
from .dicom_writer import deterministic_uid, write_nm_tomo, write_slices
from .patient import SyntheticPatient, build_patient

__all__ = ["SyntheticPatient", "build_patient", "generate", "write_patient"]


def _patient_info(patient: SyntheticPatient) -> dict[str, object]:
    return {"name": patient.patient_name, "id": patient.patient_id, "birth_date": patient.birth_date,
            "sex": patient.sex, "weight_kg": patient.weight_kg, "height_cm": patient.height_cm}


def write_patient(patient: SyntheticPatient, outdir: str) -> dict[str, str]:
    """Write every series, the segmentations, ``study.json`` and ``truth.json``; return their paths."""
    os.makedirs(outdir, exist_ok=True)
    seed = patient.seed
    info = _patient_info(patient)
    frame_of_reference = deterministic_uid(seed, "for-pet-mri")
    paths: dict[str, str] = {}

    mri_time = patient.ia.injection_time.replace(hour=14, minute=20) - datetime.timedelta(days=1)
    study = {"uid": deterministic_uid(seed, "study-mri"), "id": "MR1", "time": mri_time,
             "description": "MRI abdomen liver protocol", "accession": f"A{seed:03d}01"}
    series = {"uid": deterministic_uid(seed, "series-mri"), "number": 5, "time": mri_time, "modality": "MR",
              "description": "T1 VIBE portal venous", "frame_of_reference": frame_of_reference}
    paths["mri"] = os.path.join(outdir, "mri")
    write_slices(patient.mri, paths["mri"], "MR", info, study, series)

    for scan, number in ((patient.ia, 1), (patient.iv, 2)):
        key = f"pet_{scan.role.lower()}"
        route = "intra-arterial (hepatic artery)" if scan.role == "IA" else "intravenous"
        study = {"uid": deterministic_uid(seed, f"study-{key}"), "id": f"PT{number}", "time": scan.injection_time,
                 "description": f"68Ga-DOTATATE PET/CT {route}", "accession": f"A{seed:03d}1{number}"}
        series = {"uid": deterministic_uid(seed, f"series-{key}"), "number": 3, "time": scan.scan_time,
                  "modality": "PT", "description": f"PET AC {scan.role} 68Ga-DOTATATE",
                  "frame_of_reference": frame_of_reference}
        pet = {"radiopharmaceutical": "68Ga-DOTATATE", "injection_time": scan.injection_time,
               "injected_bq": scan.injected_mbq * 1e6, "half_life_s": scan.half_life_s,
               "positron_fraction": 0.889, "nuclide_code": ("C-131A1", "SRT", "^68^Gallium")}
        paths[key] = os.path.join(outdir, key)
        write_slices(scan.activity, paths[key], "PT", info, study, series, pet)

    paths["segmentation"] = os.path.join(outdir, "segmentation.seg.nrrd")
    write_seg_nrrd(paths["segmentation"], patient.segments, patient.mri.geometry)
    paths["labels"] = os.path.join(outdir, "labels.nrrd")
    labelmap = np.zeros(patient.mri.geometry.shape_kji, np.uint8)
    for label, segment in enumerate(patient.segments, start=1):
        labelmap[paste_into(segment, patient.mri.geometry)] = label
    write_image(Volume(labelmap, patient.mri.geometry), paths["labels"])
    write_text(os.path.join(outdir, "labels.csv"),
               "label,name\n" + "".join(f"{n},{s.name}\n" for n, s in enumerate(patient.segments, start=1)))

    paths.update(_write_spect(patient, os.path.join(outdir, "spect"), info))
    paths["truth"] = os.path.join(outdir, "truth.json")
    write_text(paths["truth"], json.dumps(patient.truth, indent=2, sort_keys=True) + "\n")
    return paths


def _write_spect(patient: SyntheticPatient, directory: str, info: dict[str, object]) -> dict[str, str]:
    seed = patient.seed
    timepoints = []
    for index, point in enumerate(patient.spect):
        folder = f"tp{index + 1}_{round(point.time_h):03d}h"
        # Aligned time points share one frame of reference (as after registration and resampling); when the
        # patient moves between sessions (spect_shift_mm), each session has its own, as on a real scanner.
        moved = patient.spect_shift_mm is not None and index > 0
        frame_of_reference = deterministic_uid(seed, "for-spect", index if moved else 0)
        study = {"uid": deterministic_uid(seed, "study-spect", index), "id": f"NM{index + 1}",
                 "time": point.acquisition_time, "description": "177Lu-DOTATATE SPECT/CT dosimetry",
                 "accession": f"A{seed:03d}2{index + 1}"}
        ct_series = {"uid": deterministic_uid(seed, "series-ct", index), "number": 2, "time": point.acquisition_time,
                     "modality": "CT", "description": "CT low dose AC", "frame_of_reference": frame_of_reference}
        write_slices(point.ct, os.path.join(directory, folder, "ct"), "CT", info, study, ct_series)
        nm_series = {"uid": deterministic_uid(seed, "series-nm", index), "number": 3, "time": point.acquisition_time,
                     "modality": "NM", "description": "SPECT Lu177 quantitative Bq/mL",
                     "frame_of_reference": frame_of_reference}
        nm = {"radiopharmaceutical": "177Lu-DOTATATE", "injection_time": patient.spect_injection_time,
              "injected_bq": patient.administered_mbq * 1e6, "half_life_s": 574300.8}
        write_nm_tomo(point.activity, os.path.join(directory, folder, "spect", "NM_0001.dcm"), info, study,
                      nm_series, nm)
        timepoints.append({"image": f"{folder}/spect", "ct": f"{folder}/ct", "units": "Bq/mL"})
    segmentation = os.path.join(directory, "segmentation.seg.nrrd")
    write_seg_nrrd(segmentation, patient.spect_segments, patient.spect[0].ct.geometry)
    study_json = {
        "administered_mbq": patient.administered_mbq,
        "injection_time": patient.spect_injection_time.isoformat(),
        "radiopharmaceutical": "177Lu-DOTATATE",
        "timepoints": timepoints,
        "segmentation": "segmentation.seg.nrrd",
        "reference_timepoint": 0,
        "register": False,
        "calibration_rel_uncertainty": 0.05,  # a typical SPECT calibration uncertainty (EANM, Gear 2018)
    }
    study_path = os.path.join(directory, "study.json")
    write_text(study_path, json.dumps(study_json, indent=2) + "\n")
    return {"spect_study": study_path, "spect_segmentation": segmentation}


def generate(outdir: str, seed: int = 0, blur_fwhm_mm: float = 0.0, noise: bool = False,
             spect_shift_mm: Optional[Sequence[float]] = None) -> dict[str, str]:
    """Build and write a synthetic patient; the ``ragaliv phantom`` command."""
    patient = build_patient(seed, blur_fwhm_mm=blur_fwhm_mm, noise=noise, spect_shift_mm=spect_shift_mm)
    return write_patient(patient, outdir)
