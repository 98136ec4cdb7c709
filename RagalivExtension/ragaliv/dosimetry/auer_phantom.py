"""Reader of the Auer 177Lu-DOTATATE voxel phantom (Interfile label image + GATE activity table).

Phantom: patient 15 (low-dose CT of a female 177Lu-DOTATATE patient, The Christie NHS Foundation Trust,
segmentation Dr Emma Page), github.com/BenAuer2021/Phantoms-For-Nuclear-Medicine-Imaging-Simulation
commit 3fed323, ``patient_LuDOTATATE_phantoms.zip``, README §9; MIT. Dosimetry notes §1.1.

* ``*.h33``/``*.i33``: Interfile 3.3 header + raw voxels (uint16 little-endian), 108 × 70 × 90.
  The header writes ``slice thickness (pixels) := 4.4196``; the value is in mm (the upstream GATE macro
  centres the source with setPosition −198.882 mm = −90 × 4.4196/2), so it is read as mm.
* ``patient15_activity_235MBq.dat``: GATE range table, "n" then rows ``label_low label_high Bq/voxel`` of
  **gamma emissions**. 177Lu activity = gamma activity / 0.172688, the total gamma intensity the upstream GATE
  source uses (IAEA LiveChart/ENSDF lines, :data:`AUER_GAMMA_LINES`); the README states "For 1MBq of 177Lu,
  Gamma activity = 0.172688 MBq" and 235 MBq in total. (ICRP-107 gives 0.18033 γ/decay; it is not used here
  because the table was built with the IAEA yield.)

The geometry is the phantom's own frame (no patient orientation in the header): identity directions, grid
centred on the origin as GATE places it.
"""

import os
from dataclasses import dataclass, field
from typing import Union

import numpy as np

from ..errors import RagalivInputError
from ..geometry import Geometry, Volume

AUER_SOURCE = (
    "Auer 177Lu-DOTATATE voxel phantom, patient 15 "
    "(BenAuer2021/Phantoms-For-Nuclear-Medicine-Imaging-Simulation commit 3fed323, README §9, MIT)"
)
# Gamma lines of the upstream GATE source (energy keV, intensity per decay; IAEA LiveChart).
AUER_GAMMA_LINES = (
    (71.642, 0.00164),
    (112.9498, 0.0623),
    (136.7245, 0.000465),
    (208.3662, 0.1041),
    (249.6742, 0.001997),
    (321.3159, 0.002186),
)
AUER_GAMMA_YIELD_PER_DECAY = sum(intensity for _energy, intensity in AUER_GAMMA_LINES)  # 0.172688
AUER_REGION_LABELS = {
    "liver": 15000,
    "spleen": 16000,
    "kidney_left": 17000,
    "kidney_right": 18000,
    "tumour_1": 19000,
    "tumour_2": 20000,
    "tumour_3": 21000,
}
AUER_FILES = {
    "source": "patient15_LuDOTATATE_src.h33",
    "attenuation": "patient15_LuDOTATATE_attn.h33",
    "activity": "patient15_activity_235MBq.dat",
}

_NUMBER_FORMATS = {
    ("unsigned integer", 1): "u1",
    ("unsigned integer", 2): "u2",
    ("unsigned integer", 4): "u4",
    ("signed integer", 1): "i1",
    ("signed integer", 2): "i2",
    ("signed integer", 4): "i4",
    ("float", 4): "f4",
    ("short float", 4): "f4",
    ("float", 8): "f8",
    ("long float", 8): "f8",
}


def read_interfile_header(path: Union[str, os.PathLike]) -> dict[str, str]:
    """``key := value`` pairs of an Interfile header; keys lower-case, without '!' and extra blanks."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise RagalivInputError(f"Interfile header {path} not found.", "Give the path of the .h33 file.")
    header = {}
    with open(path, encoding="latin-1") as handle:
        for line in handle:
            if ":=" not in line or line.lstrip().startswith(";"):
                continue
            key, value = line.split(":=", 1)
            key = " ".join(key.strip().lstrip("!").lower().split())
            header[key] = value.strip()
    if "name of data file" not in header:
        raise RagalivInputError(
            f"{path} is not an Interfile header (no 'name of data file').", "Check the file."
        )
    return header


def _header_number(header: dict[str, str], path: str, *keys: str) -> float:
    for key in keys:
        if header.get(key):
            try:
                return float(header[key])
            except ValueError:
                raise RagalivInputError(
                    f"Interfile header {os.path.basename(path)}: {key!r} = {header[key]!r} is not a number.",
                    "Fix the header.",
                ) from None
    raise RagalivInputError(
        f"Interfile header {os.path.basename(path)} lacks {' / '.join(repr(k) for k in keys)}.",
        "Fix the header.",
    )


def read_interfile(header_path: Union[str, os.PathLike], unit: str = "") -> Volume:
    """Read a 3D Interfile image (.h33 + raw data) into a :class:`Volume` centred on the origin."""
    header_path = os.fspath(header_path)
    header = read_interfile_header(header_path)
    size_i = int(_header_number(header, header_path, "matrix size [1]"))
    size_j = int(_header_number(header, header_path, "matrix size [2]"))
    size_k = int(_header_number(header, header_path, "number of slices", "total number of images"))
    spacing_i = _header_number(header, header_path, "scaling factor (mm/pixel) [1]")
    spacing_j = _header_number(header, header_path, "scaling factor (mm/pixel) [2]")
    # Read in mm even when labelled "(pixels)" (see module docstring).
    spacing_k = _header_number(
        header,
        header_path,
        "scaling factor (mm/pixel) [3]",
        "slice thickness (mm)",
        "slice thickness (pixels)",
    )
    number_format = header.get("number format", "unsigned integer").lower()
    byte_count = int(_header_number(header, header_path, "number of bytes per pixel"))
    code = _NUMBER_FORMATS.get((number_format, byte_count))
    if code is None:
        raise RagalivInputError(
            f"Interfile number format {number_format!r} with {byte_count} bytes is not supported.",
            "Convert the image to NRRD/NIfTI.",
        )
    order = ">" if header.get("imagedata byte order", "LITTLEENDIAN").upper().startswith("BIG") else "<"
    offset = (
        int(_header_number(header, header_path, "data offset in bytes"))
        if "data offset in bytes" in header
        else 0
    )
    data_path = os.path.join(os.path.dirname(header_path), os.path.basename(header["name of data file"]))
    if not os.path.isfile(data_path):
        raise RagalivInputError(
            f"Interfile data file {data_path} (named in {os.path.basename(header_path)}) not found.",
            "Keep the .i33 file beside its .h33 header.",
        )
    count = size_i * size_j * size_k
    needed = offset + count * byte_count
    if os.path.getsize(data_path) < needed:
        raise RagalivInputError(
            f"Interfile data file {os.path.basename(data_path)} has {os.path.getsize(data_path)} bytes, "
            f"{needed} expected for {size_i}×{size_j}×{size_k} voxels of {byte_count} bytes.",
            "The file is truncated or the header is wrong.",
        )
    array = np.fromfile(data_path, dtype=np.dtype(order + code), count=count, offset=offset)
    array = array.reshape(size_k, size_j, size_i).astype(np.dtype(code).newbyteorder("="), copy=False)
    spacing = np.array([spacing_i, spacing_j, spacing_k])
    if np.any(spacing <= 0.0):
        raise RagalivInputError(f"Interfile voxel size {tuple(spacing)} mm must be > 0.", "Fix the header.")
    origin = -0.5 * (np.array([size_i, size_j, size_k]) - 1) * spacing
    geometry = Geometry.from_spacing((size_k, size_j, size_i), spacing, origin)
    metadata = {"source_file": os.path.basename(header_path), "frame": "Interfile phantom frame, centred"}
    return Volume(array, geometry, unit=unit, metadata=metadata)


def read_gate_range_table(path: Union[str, os.PathLike]) -> list[tuple[float, float, float]]:
    """GATE range-translator table: count line, then rows ``low high value``."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise RagalivInputError(f"GATE activity table {path} not found.", "Give the path of the .dat file.")
    with open(path, encoding="latin-1") as handle:
        lines = [line.split("#", 1)[0].strip() for line in handle]
    lines = [line for line in lines if line]
    try:
        declared = int(lines[0])
        rows = [tuple(float(x) for x in line.split()) for line in lines[1:]]
    except (IndexError, ValueError):
        raise RagalivInputError(
            f"GATE activity table {os.path.basename(path)} is malformed.",
            "Expected a count line then 'low high Bq/voxel' rows.",
        ) from None
    if declared != len(rows) or any(len(row) != 3 for row in rows):
        raise RagalivInputError(
            f"GATE activity table {os.path.basename(path)} declares {declared} rows and has {len(rows)} "
            "(each must be 'low high Bq/voxel').",
            "Fix the table.",
        )
    return [(row[0], row[1], row[2]) for row in rows]


@dataclass
class AuerPhantom:
    """Label image, attenuation image and the 177Lu activity per voxel of the Auer phantom."""

    labels: Volume
    attenuation: Volume
    gamma_bq_per_voxel: Volume
    activity_mbq_per_voxel: Volume
    region_labels: dict[str, int] = field(default_factory=lambda: dict(AUER_REGION_LABELS))
    gamma_yield_per_decay: float = AUER_GAMMA_YIELD_PER_DECAY
    source: str = AUER_SOURCE

    def mask(self, region: str) -> np.ndarray:
        if region not in self.region_labels:
            raise RagalivInputError(
                f"unknown Auer phantom region {region!r}.", f"Use one of {', '.join(self.region_labels)}."
            )
        return self.labels.array == self.region_labels[region]

    def region_activity_mbq(self, region: str) -> float:
        return float(self.activity_mbq_per_voxel.array[self.mask(region)].sum())

    @property
    def total_activity_mbq(self) -> float:
        return float(self.activity_mbq_per_voxel.array.sum())


def gamma_to_lu177_activity(gamma_activity: np.ndarray) -> np.ndarray:
    """177Lu activity = gamma-emission rate / 0.172688 γ per decay (same unit in and out)."""
    return np.asarray(gamma_activity, dtype=float) / AUER_GAMMA_YIELD_PER_DECAY


def load_auer_phantom(directory: Union[str, os.PathLike]) -> AuerPhantom:
    """Read the label and attenuation images and the activity table; 177Lu MBq per voxel."""
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise RagalivInputError(
            f"Auer phantom folder {directory} not found.",
            "Give the folder holding patient15_LuDOTATATE_src.h33 (shared data auer_lu177_dotatate_phantom).",
        )
    labels = read_interfile(os.path.join(directory, AUER_FILES["source"]), unit="label")
    attenuation = read_interfile(os.path.join(directory, AUER_FILES["attenuation"]), unit="CT-like")
    table = read_gate_range_table(os.path.join(directory, AUER_FILES["activity"]))
    gamma = np.zeros(labels.geometry.shape_kji)
    for low, high, bq_per_voxel in table:
        gamma[(labels.array >= low) & (labels.array <= high)] = bq_per_voxel
    gamma_volume = Volume(gamma, labels.geometry, unit="Bq/voxel (gamma emissions)")
    activity = Volume(
        gamma_to_lu177_activity(gamma) / 1.0e6,
        labels.geometry,
        unit="MBq/voxel (177Lu)",
        metadata={"gamma_yield_per_decay": AUER_GAMMA_YIELD_PER_DECAY, "source": AUER_SOURCE},
    )
    return AuerPhantom(labels, attenuation, gamma_volume, activity)
