"""DICOM series discovery and volume geometry, on tiny series written in code.

Truths: the positions and orientations we write, and SimpleITK/GDCM reading the same files.
"""

import os
import re

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, generate_uid
from ragaliv.errors import RagalivInputError
from ragaliv.io.dicom_series import list_series, load_volume, select_series

CT_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
NM_STORAGE = "1.2.840.10008.5.1.4.1.1.20"
ENHANCED_CT_STORAGE = "1.2.840.10008.5.1.4.1.1.2.1"


def save(dataset: Dataset, path) -> str:
    """Write a Part 10 file with pydicom 2.4 or 3.x."""
    path = os.fspath(path)
    if int(pydicom.__version__.split(".")[0]) >= 3:
        dataset.save_as(path, enforce_file_format=True)
    else:  # pragma: no cover - exercised on the pydicom 2.4 environment
        dataset.is_little_endian = True
        dataset.is_implicit_VR = False
        dataset.save_as(path, write_like_original=False)
    return path


def image(pixels: np.ndarray, sop_class: str = CT_STORAGE, **attributes) -> FileDataset:
    """A greyscale image dataset holding ``pixels`` (2D, or 3D for multi-frame) as int16."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset("", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = "1.2.3.4"
    ds.SeriesInstanceUID = "1.2.3.4.5"
    ds.Modality = "CT"
    ds.SeriesDescription = "test"
    pixels = np.asarray(pixels, dtype=np.int16)
    ds.Rows, ds.Columns = pixels.shape[-2:]
    if pixels.ndim == 3:
        ds.NumberOfFrames = pixels.shape[0]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.PixelData = pixels.tobytes()
    if sop_class == CT_STORAGE:  # Type 1 in the CT Image module
        ds.RescaleSlope, ds.RescaleIntercept = "1", "0"
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    return ds


def write_stack(
    folder, positions, orientation, pixel_spacing, values=None, slopes=None, intercepts=None, **kw
):
    """One single-frame file per position; file names in the given order; slice k holds ``values[k]``."""
    os.makedirs(folder, exist_ok=True)
    paths = []
    for k, position in enumerate(positions):
        stored = np.full((3, 4), values[k] if values is not None else k, dtype=np.int16)
        stored[0, 0] = 7  # a marker voxel: checks that rows/columns are not transposed
        attributes = {
            "ImagePositionPatient": [float(v) for v in position],
            "ImageOrientationPatient": [float(v) for v in orientation],
            "PixelSpacing": [float(v) for v in pixel_spacing],
            "SliceThickness": 2.5,
            "InstanceNumber": k + 1,
        }
        if slopes is not None:
            attributes["RescaleSlope"] = slopes[k]
            attributes["RescaleIntercept"] = intercepts[k] if intercepts is not None else 0.0
        attributes.update(kw)
        paths.append(save(image(stored, **attributes), os.path.join(folder, f"slice_{k:03d}.dcm")))
    return paths


ROW = np.array([np.cos(np.radians(30.0)), np.sin(np.radians(30.0)), 0.0])
COLUMN = np.array([0.0, np.sin(np.radians(20.0)), -np.cos(np.radians(20.0))])
COLUMN = COLUMN - ROW * np.dot(ROW, COLUMN)
COLUMN /= np.linalg.norm(COLUMN)
NORMAL = np.cross(ROW, COLUMN)


def test_oblique_shuffled_stack_matches_written_geometry_and_simpleitk(tmp_path):
    origin = np.array([-10.0, 20.0, 5.0])
    spacing_k = 2.5
    order = [3, 0, 4, 1, 2]  # files written out of order
    positions = [origin + k * spacing_k * NORMAL for k in order]
    paths = write_stack(tmp_path / "s", positions, np.r_[ROW, COLUMN], (2.0, 3.0), values=order)
    volume = load_volume(select_series(str(tmp_path / "s"), ("CT",), "CT"))

    matrix = volume.geometry.ijk_to_lps
    np.testing.assert_allclose(matrix[:3, 0], ROW * 3.0, atol=1e-5)  # i along a row: column spacing
    np.testing.assert_allclose(matrix[:3, 1], COLUMN * 2.0, atol=1e-5)  # j down a column: row spacing
    np.testing.assert_allclose(matrix[:3, 2], NORMAL * spacing_k, atol=1e-5)
    np.testing.assert_allclose(matrix[:3, 3], origin, atol=1e-5)
    assert volume.array.shape == (5, 3, 4)
    for k in range(5):
        assert volume.array[k, 1, 1] == k  # sorted along the normal
        assert volume.array[k, 0, 0] == 7

    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(tmp_path / "s")))
    reference = reader.Execute()
    np.testing.assert_allclose(volume.geometry.spacing_mm, reference.GetSpacing(), atol=1e-4)
    np.testing.assert_allclose(volume.geometry.origin_lps_mm, reference.GetOrigin(), atol=1e-4)
    np.testing.assert_allclose(volume.geometry.direction.ravel(), reference.GetDirection(), atol=1e-5)
    np.testing.assert_array_equal(volume.array, sitk.GetArrayFromImage(reference))
    assert sorted(volume.metadata["files"]) == sorted(paths)


def test_reversed_slice_order_is_sorted_along_the_normal(tmp_path):
    # Slice 0 of the file order is the highest z: the volume must start at the lowest.
    positions = [(0.0, 0.0, 40.0 - 4.0 * n) for n in range(4)]
    write_stack(tmp_path, positions, (1, 0, 0, 0, 1, 0), (4.0, 4.0), values=[30, 20, 10, 0])
    volume = load_volume(select_series(str(tmp_path), ("CT",)))
    np.testing.assert_allclose(volume.geometry.origin_lps_mm, (0.0, 0.0, 28.0))
    np.testing.assert_allclose(volume.geometry.ijk_to_lps[:3, 2], (0.0, 0.0, 4.0))
    assert [volume.array[k, 2, 2] for k in range(4)] == [0, 10, 20, 30]
    assert [h.InstanceNumber for h in volume.metadata["slice_headers"]] == [4, 3, 2, 1]


def test_rescale_is_applied_per_slice(tmp_path):
    slopes = [0.5, 2.0, 3.25]
    intercepts = [0.0, 0.0, -10.0]
    write_stack(
        tmp_path, [(0, 0, 2.0 * k) for k in range(3)], (1, 0, 0, 0, 1, 0), (1.0, 1.0), [100, 100, 100],
        slopes, intercepts,
    )  # fmt: skip
    volume = load_volume(select_series(str(tmp_path), ("CT",)))
    assert volume.array.dtype == np.float64
    np.testing.assert_allclose(volume.array[:, 1, 1], [50.0, 200.0, 315.0])
    assert volume.metadata["rescale_slopes"] == slopes
    assert volume.unit == "HU"


def test_single_slice_uses_slice_thickness(tmp_path):
    write_stack(tmp_path, [(1.0, 2.0, 3.0)], (1, 0, 0, 0, 1, 0), (0.5, 0.5))
    volume = load_volume(select_series(str(tmp_path), ("CT",)))
    np.testing.assert_allclose(volume.geometry.spacing_mm, (0.5, 0.5, 2.5))


def test_missing_slice_is_an_error_naming_the_gap(tmp_path):
    positions = [(0.0, 0.0, 3.0 * k) for k in (0, 1, 2, 4, 5)]
    write_stack(tmp_path, positions, (1, 0, 0, 0, 1, 0), (1.0, 1.0))
    with pytest.raises(RagalivInputError, match=r"1 slice is missing between 6\.00 mm and 12\.00 mm"):
        load_volume(select_series(str(tmp_path), ("CT",)))


def test_duplicate_positions_and_mixed_orientations_are_errors(tmp_path):
    write_stack(tmp_path / "dup", [(0, 0, 0), (0, 0, 2), (0, 0, 2)], (1, 0, 0, 0, 1, 0), (1.0, 1.0))
    with pytest.raises(RagalivInputError, match="same position"):
        load_volume(select_series(str(tmp_path / "dup"), ("CT",)))
    write_stack(tmp_path / "mix", [(0, 0, 0), (0, 0, 2)], (1, 0, 0, 0, 1, 0), (1.0, 1.0))
    save(
        image(np.zeros((3, 4)), ImagePositionPatient=[0, 0, 4], ImageOrientationPatient=[1, 0, 0, 0, 0, -1],
              PixelSpacing=[1, 1]),
        tmp_path / "mix" / "other.dcm",
    )  # fmt: skip
    with pytest.raises(RagalivInputError, match=r"ImageOrientationPatient \(0020,0037\)"):
        load_volume(select_series(str(tmp_path / "mix"), ("CT",)))


def test_missing_geometry_attribute_names_the_tag(tmp_path):
    save(
        image(np.zeros((3, 4)), ImageOrientationPatient=[1, 0, 0, 0, 1, 0], PixelSpacing=[1, 1]),
        tmp_path / "a.dcm",
    )
    with pytest.raises(RagalivInputError, match=r"ImagePositionPatient \(0020,0032\)"):
        load_volume(select_series(str(tmp_path), ("CT",)))


def test_nm_multiframe_geometry_from_detector_information(tmp_path):
    frames = np.stack([np.full((3, 4), 10 * f, dtype=np.int16) for f in range(4)])
    detector = Dataset()
    detector.ImagePositionPatient = [-100.0, -50.0, 20.0]
    detector.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 0.0, -1.0]  # coronal frames
    nm = image(
        frames, NM_STORAGE, Modality="NM", PixelSpacing=[4.8, 4.8], SpacingBetweenSlices=4.8,
        SliceThickness=9.6, DetectorInformationSequence=Sequence([detector]), RescaleSlope=0.5,
    )  # fmt: skip
    save(nm, tmp_path / "spect.dcm")
    (tmp_path / "notes.txt").write_text("not DICOM")
    volume = load_volume(select_series(str(tmp_path), ("NM",), "SPECT"))
    normal = np.cross([1.0, 0.0, 0.0], [0.0, 0.0, -1.0])  # (0, 1, 0): posterior
    np.testing.assert_allclose(volume.geometry.ijk_to_lps[:3, 2], normal * 4.8)
    np.testing.assert_allclose(volume.geometry.origin_lps_mm, (-100.0, -50.0, 20.0))
    np.testing.assert_allclose(volume.geometry.spacing_mm, (4.8, 4.8, 4.8))
    np.testing.assert_allclose(volume.array[:, 1, 1], [0.0, 5.0, 10.0, 15.0])
    assert len(volume.metadata["slice_headers"]) == 4
    assert volume.unit == "counts"


def test_enhanced_multiframe_with_per_frame_positions(tmp_path):
    frames = np.stack([np.full((3, 4), f, dtype=np.int16) for f in range(3)])
    per_frame = []
    for f in range(3):  # frames stored from top to bottom
        group = Dataset()
        position = Dataset()
        position.ImagePositionPatient = [0.0, 0.0, 10.0 - 5.0 * f]
        group.PlanePositionSequence = Sequence([position])
        per_frame.append(group)
    shared = Dataset()
    orientation, measures, transform = Dataset(), Dataset(), Dataset()
    orientation.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    measures.PixelSpacing = [0.7, 0.7]
    measures.SliceThickness = 5.0
    transform.RescaleSlope, transform.RescaleIntercept = 2.0, -1024.0
    shared.PlaneOrientationSequence = Sequence([orientation])
    shared.PixelMeasuresSequence = Sequence([measures])
    shared.PixelValueTransformationSequence = Sequence([transform])
    enhanced = image(
        frames, ENHANCED_CT_STORAGE, PerFrameFunctionalGroupsSequence=Sequence(per_frame),
        SharedFunctionalGroupsSequence=Sequence([shared]),
    )  # fmt: skip
    save(enhanced, tmp_path / "enhanced.dcm")
    volume = load_volume(select_series(str(tmp_path), ("CT",)))
    np.testing.assert_allclose(volume.geometry.origin_lps_mm, (0.0, 0.0, 0.0))
    np.testing.assert_allclose(volume.geometry.ijk_to_lps[:3, 2], (0.0, 0.0, 5.0))
    np.testing.assert_allclose(volume.array[:, 0, 0], [2 * 2 - 1024, 2 * 1 - 1024, -1024])


def test_list_series_groups_and_skips_non_dicom(tmp_path):
    write_stack(tmp_path / "a", [(0, 0, 0), (0, 0, 1)], (1, 0, 0, 0, 1, 0), (1, 1))
    write_stack(
        tmp_path / "b", [(0, 0, 0)], (1, 0, 0, 0, 1, 0), (1, 1), SeriesInstanceUID="9.9", Modality="MR"
    )
    (tmp_path / "DICOMDIR").write_bytes(b"\0" * 200)
    (tmp_path / "readme.txt").write_text("hello")
    found = {s.series_instance_uid: s for s in list_series(str(tmp_path))}
    assert set(found) == {"1.2.3.4.5", "9.9"}
    assert len(found["1.2.3.4.5"].files) == 2 and found["9.9"].modality == "MR"
    assert found["9.9"].describe() == "MR 'test' (1 file)"
    one_file = list_series(found["9.9"].files[0])
    assert [s.series_instance_uid for s in one_file] == ["9.9"]
    as_list = list_series(found["1.2.3.4.5"].files)
    assert len(as_list) == 1 and len(as_list[0].headers) == 2


def test_missing_path_is_an_input_error(tmp_path):
    with pytest.raises(RagalivInputError, match="not found"):
        list_series(str(tmp_path / "nowhere"))


def test_direct_pixel_read_equals_pydicom(tmp_path):
    """The fast path (pixels read from the offset found during the header pass) matches pydicom."""
    import datetime

    import pydicom
    from ragaliv.geometry import Geometry, Volume
    from ragaliv.io.dicom_series import _read_pixels, list_series
    from ragaliv.phantom.dicom_writer import write_slices

    geometry = Geometry.from_spacing((3, 5, 4), (2.0, 2.0, 3.0), (0.0, 0.0, 0.0))
    values = np.arange(60, dtype=float).reshape(3, 5, 4) * 37.5 - 400.0
    when = datetime.datetime(2026, 1, 1, 10, 0, 0)
    patient = {"name": "A", "id": "1", "birth_date": "", "sex": "O", "weight_kg": 70.0, "height_cm": 170.0}
    study = {"uid": "1.2.3.4", "id": "1", "time": when, "description": "", "accession": ""}
    for modality in ("PT", "CT", "MR"):
        series = {"uid": f"1.2.3.5.{len(modality)}{ord(modality[0])}", "number": 1, "time": when, "modality": modality,
                  "description": modality, "frame_of_reference": "1.2.3.6"}
        pet = {"radiopharmaceutical": "x", "injection_time": when, "injected_bq": 1e8, "half_life_s": 6586.2}
        folder = tmp_path / modality
        write_slices(Volume(np.abs(values) if modality == "MR" else values, geometry), str(folder), modality,
                     patient, study, series, pet)
        (found,) = list_series(str(folder))
        for record in found.records:
            assert record.native_little_endian and record.pixel_offset is not None
            fast = _read_pixels(record)
            reference = pydicom.dcmread(record.path).pixel_array
            assert fast.dtype == reference.dtype and np.array_equal(fast, reference), (modality, record.path)


# --- the fast header reader (ragaliv.io.dicom_header) against pydicom ----------------------------------------
def _plain(value):
    """pydicom and fast-reader values on one footing: PersonName and MultiValue as str and list."""
    from pydicom.multival import MultiValue
    from pydicom.valuerep import PersonName

    if isinstance(value, PersonName):
        return str(value)
    if isinstance(value, (MultiValue, list)):
        return [_plain(item) for item in value]
    if isinstance(value, float) and np.isnan(value):
        return "nan"
    return value


def assert_same_as_pydicom(ours, theirs, where):
    """Every element of ``theirs`` (pydicom) is in ``ours`` (fast reader) with an equal value; sequences
    recursively; nothing more."""
    assert {int(element.tag) for element in theirs} == {element.tag for element in ours}, where
    for element in theirs:
        mine = ours.get(int(element.tag)).value
        if element.VR == "SQ":
            assert len(mine) == len(element.value), where
            for index, (a, b) in enumerate(zip(mine, element.value)):
                if isinstance(a, Dataset):  # a sequence the fast reader left to pydicom
                    assert a == b, where
                else:
                    assert_same_as_pydicom(a, b, f"{where} {element.tag}[{index}]")
        else:
            assert _plain(mine) == _plain(element.value), (where, element.tag, element.VR, mine, element.value)


def _every_file(folder):
    return sorted(os.path.join(root, name) for root, _, names in os.walk(folder) for name in names)


def test_fast_headers_equal_pydicom_on_the_synthetic_patient(synthetic_patient_dir):
    """MR, PT (with the radiopharmaceutical sequence), CT and multi-frame NM: every element, every value."""
    from ragaliv.io.dicom_header import read_dicom_file

    checked = 0
    for folder in ("mri", "pet_ia", "spect/tp1_004h/spect", "spect/tp1_004h/ct"):
        files = _every_file(synthetic_patient_dir / folder)
        for path in files[:3] + files[-1:]:
            record = read_dicom_file(path)
            theirs = pydicom.dcmread(path, stop_before_pixels=True)
            assert_same_as_pydicom(record.header, theirs, path)
            assert_same_as_pydicom(record.header.file_meta, theirs.file_meta, path)
            checked += 1
    assert checked == 14  # the SPECT time point is one multi-frame file


def test_fast_headers_equal_pydicom_on_the_validation_data(shared_data):
    """Real exports: IBSI DROs (explicit VR, private tags), NEMA PET (implicit VR), ACRIN (Siemens, sequences),
    IBSI RT structure sets (implicit VR, nested sequences)."""
    from ragaliv.io.dicom_header import read_dicom_file

    files = []
    for name in ("ibsi_suv_dro", "nema_iec_pet", "acrin_flt_pet_slices"):
        found = [f for f in _every_file(shared_data(name)) if f.endswith(".dcm")]
        files += found[::7] if len(found) > 40 else found
    for path in files:
        record = read_dicom_file(path)
        theirs = pydicom.dcmread(path, stop_before_pixels=True)
        assert record is not None, path
        assert_same_as_pydicom(record.header, theirs, path)
    assert len(files) > 60


def test_fast_reader_implicit_vr_and_character_sets(tmp_path):
    """Implicit VR little endian; UTF-8 and Latin-1 text decoded here; an ISO 2022 character set left to pydicom
    (same value); private elements of an implicit VR file take pydicom's value."""
    from ragaliv.io.dicom_header import read_dicom_file

    cases = {"utf8": ("ISO_IR 192", "Müller^Jürgen", ExplicitVRLittleEndian),
             "latin1": ("ISO_IR 100", "Müller^Jürgen", ImplicitVRLittleEndian),
             "iso2022": (["", "ISO 2022 IR 87"], "Yamada^Tarou=山田^太郎", ExplicitVRLittleEndian)}
    for name, (charset, person, syntax) in cases.items():
        ds = image(np.arange(12).reshape(3, 4), SpecificCharacterSet=charset, PatientName=person,
                   SeriesDescription="Lésion 1", ImagePositionPatient=[0, 0, 0], PixelSpacing=[1, 1])
        ds.file_meta.TransferSyntaxUID = syntax
        ds.add_new((0x0009, 0x0010), "LO", "GEMS_PETD_01")
        ds.add_new((0x0009, 0x100D), "DT", "20260101101010")
        path = str(tmp_path / f"{name}.dcm")
        if int(pydicom.__version__.split(".")[0]) >= 3:
            ds.save_as(path, implicit_vr=syntax == ImplicitVRLittleEndian, little_endian=True)
        else:  # pragma: no cover - pydicom 2.4
            ds.is_little_endian, ds.is_implicit_VR = True, syntax == ImplicitVRLittleEndian
            ds.save_as(path, write_like_original=False)
        record = read_dicom_file(path)
        theirs = pydicom.dcmread(path, stop_before_pixels=True)
        assert str(record.header.get("PatientName")) == str(theirs.PatientName)
        assert record.header.get("SeriesDescription") == "Lésion 1"
        assert_same_as_pydicom(record.header, theirs, name)
        assert np.array_equal(_read_pixels_of(record), theirs.pixel_array if "PixelData" in theirs else
                              pydicom.dcmread(path).pixel_array)


def _read_pixels_of(record):
    from ragaliv.io.dicom_series import _read_pixels

    return _read_pixels(record)


def test_fast_reader_refuses_truncated_files_and_skips_non_dicom(tmp_path):
    from ragaliv.io.dicom_header import UnreadableDicomFile, read_dicom_file

    whole = save(image(np.arange(12).reshape(3, 4), ImagePositionPatient=[0, 0, 0]), tmp_path / "whole.dcm")
    data = open(whole, "rb").read()
    (tmp_path / "head.dcm").write_bytes(data[:300])
    (tmp_path / "pixels.dcm").write_bytes(data[:-5])
    (tmp_path / "empty.dcm").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not DICOM")
    assert read_dicom_file(whole).pixel_length == 24
    assert read_dicom_file(str(tmp_path / "notes.txt")) is None
    for name, reason in (("head.dcm", "inside its DICOM header"), ("pixels.dcm", "holds 19 of the 24 bytes"),
                         ("empty.dcm", "is empty (0 bytes)")):
        with pytest.raises(UnreadableDicomFile, match=re.escape(reason)):
            read_dicom_file(str(tmp_path / name))


def test_keyword_table_agrees_with_the_dicom_dictionary():
    from pydicom.datadict import dictionary_VR, tag_for_keyword
    from ragaliv.io.dicom_keywords import KEYWORDS

    for keyword, (tag, vr) in KEYWORDS.items():
        assert tag_for_keyword(keyword) == tag, keyword
        assert dictionary_VR(tag) == vr, keyword


def test_ratio_command_does_not_import_pydicom(synthetic_patient_dir, tmp_path):
    """The start-up cost of issue 12: the ratio command on DICOM PETs reads them without pydicom."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from ragaliv.cli import main\n"
        f"assert main(['ratio', '--ia', {str(synthetic_patient_dir / 'pet_ia')!r}, '--iv', "
        f"{str(synthetic_patient_dir / 'pet_iv')!r}, '--segmentation', "
        f"{str(synthetic_patient_dir / 'segmentation.seg.nrrd')!r}, '-o', {str(tmp_path / 'out')!r}]) == 0\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pydicom', 'scipy', 'matplotlib', "
        "'highdicom', 'SimpleITK')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stdout


def test_rescale_slopes_and_headers_of_a_loaded_series(tmp_path):
    """Per-slice rescale values, the fast headers and the pydicom headers describe the same sorted slices."""
    slopes = [0.25, 4.0, 1.5]
    write_stack(tmp_path, [(0, 0, 6.0 - 3.0 * k) for k in range(3)], (1, 0, 0, 0, 1, 0), (1.0, 1.0),
                [8, 8, 8], slopes, [1.0, 0.0, -2.0])
    volume = load_volume(select_series(str(tmp_path), ("CT",)))
    assert volume.metadata["rescale_slopes"] == [1.5, 4.0, 0.25]  # sorted along the normal (z up)
    np.testing.assert_allclose(volume.array[:, 1, 1], [8 * 1.5 - 2.0, 32.0, 8 * 0.25 + 1.0])
    fast = [h.get("InstanceNumber") for h in volume.metadata["fast_slice_headers"]]
    slow = [int(h.InstanceNumber) for h in volume.metadata["slice_headers"]]
    assert fast == slow == [3, 2, 1]
    assert volume.metadata["warnings"] == []


def test_broken_file_of_another_series_does_not_block_and_unknown_one_does(tmp_path):
    """A truncated file whose SeriesInstanceUID was read belongs to that series only; one cut before its UID
    could belong to any series of the folder, so every series of that folder is refused."""
    write_stack(tmp_path, [(0, 0, 0), (0, 0, 2)], (1, 0, 0, 0, 1, 0), (1, 1))
    other = write_stack(tmp_path / "other", [(0, 0, 0), (0, 0, 2)], (1, 0, 0, 0, 1, 0), (1, 1),
                        SeriesInstanceUID="9.9", Modality="MR")
    data = open(other[1], "rb").read()
    open(other[1], "wb").write(data[:-4])  # pixel data cut: its series (9.9) is known
    volume = load_volume(select_series(str(tmp_path), ("CT",)))
    assert volume.array.shape == (2, 3, 4)
    with pytest.raises(RagalivInputError, match=r"slice_001\.dcm is truncated"):
        load_volume(select_series(str(tmp_path), ("MR",), "MRI"))
    open(other[1], "wb").write(data[:200])  # cut in the header: its series is unknown
    with pytest.raises(RagalivInputError, match=r"slice_001\.dcm is truncated: it ends at byte 200"):
        select_series(str(tmp_path), ("CT",))


def test_nm_counts_without_rescale_are_the_stored_values_and_mr_needs_none(tmp_path):
    """The NM Image and MR Image IODs have no Modality LUT: without RescaleSlope the stored values are the
    image (not a missing tag). An NM series in Bq/mL (Units BQML) without it is refused (test_bad_input_series)."""
    frames = np.stack([np.full((3, 4), 10 * f + 1, dtype=np.int16) for f in range(3)])
    detector = Dataset()
    detector.ImagePositionPatient = [0.0, 0.0, 0.0]
    detector.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    os.makedirs(tmp_path / "nm")
    save(image(frames, NM_STORAGE, Modality="NM", PixelSpacing=[4.0, 4.0], SpacingBetweenSlices=4.0,
               DetectorInformationSequence=Sequence([detector])), tmp_path / "nm" / "counts.dcm")
    volume = load_volume(select_series(str(tmp_path / "nm"), ("NM",), "SPECT"))
    np.testing.assert_array_equal(volume.array[:, 0, 0], [1.0, 11.0, 21.0])
    assert volume.metadata["rescale_slopes"] == [1.0, 1.0, 1.0]
    write_stack(tmp_path / "mr", [(0, 0, 0), (0, 0, 2)], (1, 0, 0, 0, 1, 0), (1, 1), values=[5, 6], Modality="MR")
    for path in sorted((tmp_path / "mr").iterdir()):
        dataset = pydicom.dcmread(path)
        del dataset.RescaleSlope, dataset.RescaleIntercept
        save(dataset, path)
    assert load_volume(select_series(str(tmp_path / "mr"), ("MR",), "MRI")).array[:, 1, 1].tolist() == [5.0, 6.0]


def test_values_stored_with_vr_un_are_decoded_like_pydicom(tmp_path):
    """A VR lost in transfer (UN): RescaleSlope and a private element decode as pydicom decodes them."""
    from pydicom.dataelem import DataElement
    from ragaliv.io.dicom_header import read_dicom_file

    ds = image(np.arange(12).reshape(3, 4), ImagePositionPatient=[0, 0, 0], PixelSpacing=[1, 1],
               ImageOrientationPatient=[1, 0, 0, 0, 1, 0])
    ds[0x00281053] = DataElement(0x00281053, "UN", b"0.25")
    ds.add_new((0x7053, 0x0010), "LO", "Philips PET Private Group")
    ds[0x70531000] = DataElement(0x70531000, "UN", b"1.5 ")
    path = save(ds, tmp_path / "un.dcm")
    record = read_dicom_file(path)
    theirs = pydicom.dcmread(path, stop_before_pixels=True)
    assert record.header.get("RescaleSlope") == theirs.RescaleSlope == 0.25
    assert_same_as_pydicom(record.header, theirs, "un.dcm")
    volume = load_volume(select_series(str(tmp_path), ("CT",)))
    np.testing.assert_allclose(volume.array[0], np.arange(12).reshape(3, 4) / 4)
