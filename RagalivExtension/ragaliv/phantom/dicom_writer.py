"""Write the synthetic patient as real DICOM: MR, PET (PT), CT and NM (SPECT) series.

Headers carry what clinical software needs: patient/study/series identity, geometry (Image Position /
Orientation, spacing), per-slice rescale, and for PET the full SUV set (Units BQML, DecayCorrection START,
CorrectedImage, RadiopharmaceuticalInformationSequence with dose, start date-time and half-life,
PatientWeight/Size/Sex). UIDs are derived from the seed, so a patient is byte-for-byte reproducible.
Works with pydicom 2.4 and 3.0.
"""

import datetime
import os
from typing import Optional

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, ExplicitVRLittleEndian, generate_uid

from ..geometry import Volume

MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
PET_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.128"
NM_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.20"
_PYDICOM_2 = int(pydicom.__version__.split(".")[0]) < 3


def deterministic_uid(*parts: object) -> str:
    return generate_uid(entropy_srcs=["ragaliv-synthetic", *(str(part) for part in parts)])


def _da(value: datetime.datetime) -> str:
    return value.strftime("%Y%m%d")


def _tm(value: datetime.datetime) -> str:
    return value.strftime("%H%M%S.%f")[:13]


def _dt(value: datetime.datetime) -> str:
    return value.strftime("%Y%m%d%H%M%S.%f")[:21]


def save(dataset: Dataset, path: str) -> None:
    """Write a Part-10 file (pydicom 2 and 3)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if _PYDICOM_2:
        dataset.is_little_endian = True
        dataset.is_implicit_VR = False
        dataset.save_as(path, write_like_original=False)
    else:
        dataset.save_as(path, enforce_file_format=True)


def _base(sop_class: str, sop_instance: str, patient: dict[str, object], study: dict[str, object],
          series: dict[str, object]) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_instance
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_instance
    ds.PatientName = patient["name"]
    ds.PatientID = patient["id"]
    ds.PatientBirthDate = patient["birth_date"]
    ds.PatientSex = patient["sex"]
    ds.PatientWeight = f"{patient['weight_kg']:.1f}"
    ds.PatientSize = f"{patient['height_cm'] / 100.0:.2f}"
    ds.StudyInstanceUID = study["uid"]
    ds.StudyID = study["id"]
    ds.StudyDate = _da(study["time"])
    ds.StudyTime = _tm(study["time"])
    ds.StudyDescription = study["description"]
    ds.AccessionNumber = study["accession"]
    ds.ReferringPhysicianName = ""
    ds.Manufacturer = "Ragaliv synthetic patient"
    ds.InstitutionName = "Ragaliv"
    ds.SeriesInstanceUID = series["uid"]
    ds.SeriesNumber = series["number"]
    ds.SeriesDescription = series["description"]
    ds.SeriesDate = _da(series["time"])
    ds.SeriesTime = _tm(series["time"])
    ds.Modality = series["modality"]
    ds.FrameOfReferenceUID = series["frame_of_reference"]
    ds.PositionReferenceIndicator = ""
    ds.PatientPosition = "FFS" if series["modality"] in ("PT", "NM") else "HFS"
    return ds


def _image_pixel(ds: Dataset, pixels: np.ndarray, signed: bool, bits_stored: int = 16) -> None:
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = int(pixels.shape[-2]), int(pixels.shape[-1])
    ds.BitsAllocated = 16
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 1 if signed else 0
    ds.PixelData = np.ascontiguousarray(pixels.astype(np.int16 if signed else np.uint16)).tobytes()


def write_slices(
    volume: Volume,
    directory: str,
    modality: str,
    patient: dict[str, object],
    study: dict[str, object],
    series: dict[str, object],
    pet: Optional[dict[str, object]] = None,
) -> list[str]:
    """One file per slice (MR, CT, PT). PET slices get their own RescaleSlope (int16 full range)."""
    sop_class = {"MR": MR_IMAGE_STORAGE, "CT": CT_IMAGE_STORAGE, "PT": PET_IMAGE_STORAGE}[modality]
    geometry = volume.geometry
    spacing = geometry.spacing_mm
    orientation = [float(v) for v in geometry.direction[:, 0]] + [float(v) for v in geometry.direction[:, 1]]
    paths = []
    for k in range(geometry.shape_kji[0]):
        uid = deterministic_uid(series["uid"], k)
        ds = _base(sop_class, uid, patient, study, series)
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.InstanceNumber = k + 1
        ds.AcquisitionDate = _da(series["time"])
        ds.AcquisitionTime = _tm(series["time"])
        ds.ContentDate, ds.ContentTime = ds.AcquisitionDate, ds.AcquisitionTime
        position = geometry.index_to_lps(np.array([0.0, 0.0, float(k)]))
        ds.ImagePositionPatient = [f"{v:.4f}" for v in position]
        ds.ImageOrientationPatient = [f"{v:.6f}" for v in orientation]
        ds.PixelSpacing = [f"{spacing[1]:.5f}", f"{spacing[0]:.5f}"]  # row spacing (j), column spacing (i)
        ds.SliceThickness = f"{spacing[2]:.4f}"
        ds.SliceLocation = f"{position[2]:.4f}"
        values = volume.array[k]
        if modality == "MR":
            ds.ScanningSequence, ds.SequenceVariant, ds.ScanOptions = "GR", "SP", ""
            ds.MRAcquisitionType = "3D"
            ds.SequenceName = "t1_vibe_tra_pv"
            ds.RepetitionTime, ds.EchoTime, ds.FlipAngle = "4.1", "1.9", "9"
            ds.MagneticFieldStrength = "1.5"
            ds.WindowCenter, ds.WindowWidth = "500", "1000"
            _image_pixel(ds, np.clip(np.rint(values), 0, 4095), signed=False, bits_stored=12)
        elif modality == "CT":
            ds.KVP, ds.XRayTubeCurrent = "120", "40"
            ds.ConvolutionKernel = "B30f"
            ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = "-1024", "1", "HU"
            ds.WindowCenter, ds.WindowWidth = "40", "400"
            _image_pixel(ds, np.clip(np.rint(values) + 1024, 0, 4095), signed=False, bits_stored=12)
        else:
            _pet_slice(ds, values, k, geometry.shape_kji[0], series, pet or {})
        path = os.path.join(directory, f"{modality}_{k + 1:04d}.dcm")
        save(ds, path)
        paths.append(path)
    return paths


def _radiopharmaceutical(pet: dict[str, object]) -> Dataset:
    item = Dataset()
    item.Radiopharmaceutical = pet["radiopharmaceutical"]
    item.RadiopharmaceuticalStartTime = _tm(pet["injection_time"])
    item.RadiopharmaceuticalStartDateTime = _dt(pet["injection_time"])
    item.RadionuclideTotalDose = f"{pet['injected_bq']:.1f}"
    item.RadionuclideHalfLife = f"{pet['half_life_s']:.1f}"
    if pet.get("positron_fraction"):
        item.RadionuclidePositronFraction = f"{pet['positron_fraction']}"
    if pet.get("nuclide_code"):
        code = Dataset()
        code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = pet["nuclide_code"]
        item.RadionuclideCodeSequence = Sequence([code])
    return item


def _pet_slice(ds: Dataset, values: np.ndarray, k: int, count: int, series: dict[str, object],
               pet: dict[str, object]) -> None:
    peak = float(np.abs(values).max())
    slope = peak / 32767.0 if peak > 0 else 1.0
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.SeriesType = ["WHOLE BODY", "IMAGE"]
    ds.Units = "BQML"
    ds.CountsSource = "EMISSION"
    ds.DecayCorrection = "START"
    ds.CorrectedImage = ["NORM", "DTIM", "ATTN", "SCAT", "DECY", "RAN"]
    ds.ReconstructionMethod = "OSEM 3i21s"
    ds.RandomsCorrectionMethod = "DLYD"
    ds.AttenuationCorrectionMethod = "measured"
    ds.ScatterCorrectionMethod = "model-based"
    ds.DecayFactor = "1.0"
    ds.FrameReferenceTime = "0"
    ds.ActualFrameDuration = str(int(pet.get("frame_duration_ms", 180000)))
    ds.NumberOfSlices = count
    ds.ImageIndex = k + 1
    ds.RescaleIntercept = "0"
    ds.RescaleSlope = f"{slope:.10g}"
    ds.RescaleType = "BQML"
    ds.RadiopharmaceuticalInformationSequence = Sequence([_radiopharmaceutical(pet)])
    stored = np.rint(values / float(ds.RescaleSlope))
    _image_pixel(ds, np.clip(stored, -32768, 32767), signed=True)


def write_nm_tomo(
    volume: Volume,
    path: str,
    patient: dict[str, object],
    study: dict[str, object],
    series: dict[str, object],
    nm: dict[str, object],
) -> str:
    """A reconstructed SPECT as one NM multi-frame file (frames = slices), values in Bq/mL."""
    geometry = volume.geometry
    spacing = geometry.spacing_mm
    ds = _base(NM_IMAGE_STORAGE, deterministic_uid(series["uid"], "nm"), patient, study, series)
    ds.ImageType = ["ORIGINAL", "PRIMARY", "RECON TOMO", "EMISSION"]
    ds.InstanceNumber = 1
    ds.AcquisitionDate = _da(series["time"])
    ds.AcquisitionTime = _tm(series["time"])
    ds.ContentDate, ds.ContentTime = ds.AcquisitionDate, ds.AcquisitionTime
    ds.NumberOfFrames = geometry.shape_kji[0]
    ds.FrameIncrementPointer = pydicom.tag.Tag(0x0054, 0x0080)  # SliceVector
    ds.SliceVector = list(range(1, geometry.shape_kji[0] + 1))
    ds.NumberOfSlices = geometry.shape_kji[0]
    ds.PixelSpacing = [f"{spacing[1]:.5f}", f"{spacing[0]:.5f}"]
    ds.SliceThickness = f"{spacing[2]:.5f}"
    ds.SpacingBetweenSlices = f"{spacing[2]:.5f}"
    detector = Dataset()
    detector.ImagePositionPatient = [f"{v:.4f}" for v in geometry.origin_lps_mm]
    orientation = list(geometry.direction[:, 0]) + list(geometry.direction[:, 1])
    detector.ImageOrientationPatient = [f"{float(v):.6f}" for v in orientation]
    ds.DetectorInformationSequence = Sequence([detector])
    ds.NumberOfDetectors = 1
    energy = Dataset()
    energy.EnergyWindowLowerLimit, energy.EnergyWindowUpperLimit = "187.5", "229.2"
    window = Dataset()
    window.EnergyWindowRangeSequence = Sequence([energy])
    window.EnergyWindowName = "Lu177 208 keV"
    ds.EnergyWindowInformationSequence = Sequence([window])
    ds.NumberOfEnergyWindows = 1
    ds.ActualFrameDuration = str(int(nm.get("frame_duration_ms", 20000)))
    ds.Units = "BQML"  # (0054,1001); quantitative SPECT in Bq/mL as vendors export it
    ds.RadiopharmaceuticalInformationSequence = Sequence([_radiopharmaceutical(nm)])
    # Activity is never negative: unsigned 16 bits give low-uptake tissue twice the resolution.
    peak = float(np.max(volume.array))
    slope = peak / 65535.0 if peak > 0 else 1.0
    ds.RescaleIntercept = "0"
    ds.RescaleSlope = f"{slope:.10g}"
    stored = np.clip(np.rint(volume.array / float(ds.RescaleSlope)), 0, 65535)
    _image_pixel(ds, stored, signed=False)
    save(ds, path)
    return path
