"""Reading a NRRD file with numpy alone: the header fields, the key/value pairs and the voxel array.

Why not SimpleITK here: importing it costs about 0.1 s, a third of ``ragaliv ratio`` on DICOM (issue 12), and
the Slicer ``.seg.nrrd`` it would read is a plain, attached-data NRRD. Writing stays with SimpleITK
(:mod:`.segmentation`). Format: the NRRD specification, https://teem.sourceforge.net/nrrd/format.html
(magic ``NRRD000N``; ``field: value`` lines; ``key:=value`` pairs; a blank line; then the data, axis 0 varying
fastest). Supported: encodings raw, gzip and bzip2, both byte orders, every scalar type, ``space``
left-posterior-superior or right-anterior-superior (LPS and RAS), at most one non-spatial axis (kind ``list``,
``vector`` ...). Detached data files, ``line skip``/``byte skip`` and text encodings are refused.
"""

import bz2
import gzip
import re
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ..errors import RagalivInputError
from ..geometry import Geometry

# NRRD "type" values (the specification's table of types) -> numpy dtype character codes.
_TYPES = {
    "int8": "i1", "signed char": "i1", "int8_t": "i1",
    "uchar": "u1", "unsigned char": "u1", "uint8": "u1", "uint8_t": "u1",
    "short": "i2", "short int": "i2", "signed short": "i2", "signed short int": "i2", "int16": "i2", "int16_t": "i2",
    "ushort": "u2", "unsigned short": "u2", "unsigned short int": "u2", "uint16": "u2", "uint16_t": "u2",
    "int": "i4", "signed int": "i4", "int32": "i4", "int32_t": "i4",
    "uint": "u4", "unsigned int": "u4", "uint32": "u4", "uint32_t": "u4",
    "longlong": "i8", "long long": "i8", "long long int": "i8", "signed long long": "i8",
    "signed long long int": "i8", "int64": "i8", "int64_t": "i8",
    "ulonglong": "u8", "unsigned long long": "u8", "unsigned long long int": "u8", "uint64": "u8", "uint64_t": "u8",
    "float": "f4", "double": "f8",
}  # fmt: skip
_LPS_SPACES = {"left-posterior-superior": 1.0, "lps": 1.0, "right-anterior-superior": -1.0, "ras": -1.0}
_VECTOR = re.compile(r"\(\s*([^)]*)\)")


@dataclass
class NrrdImage:
    """Voxels as ``[k, j, i]`` (or ``[k, j, i, c]`` with the non-spatial axis last), the spatial grid, the
    header fields (lower case) and the key/value pairs."""

    array: np.ndarray
    geometry: Geometry
    fields: dict[str, str] = field(default_factory=dict)
    key_values: dict[str, str] = field(default_factory=dict)

    def value(self, key: str) -> Optional[str]:
        return self.key_values.get(key)


def _bad(path: str, what: str) -> RagalivInputError:
    return RagalivInputError(
        f"Cannot read {path} as NRRD: {what}.",
        "Save the segmentation again from Slicer (File > Save, .seg.nrrd), which writes a standard NRRD.",
    )


def _vector(text: str, path: str) -> Optional[np.ndarray]:
    if text.strip() == "none":
        return None
    match = _VECTOR.fullmatch(text.strip())
    try:
        values = np.array([float(value) for value in match.group(1).split(",")]) if match else None
    except ValueError:
        values = None
    if values is None or values.shape != (3,) or not np.all(np.isfinite(values)):
        raise _bad(path, f"{text!r} is not a 3D vector")
    return values


def read_nrrd(path: str) -> NrrdImage:
    """Read a NRRD file with attached data (see the module docstring for what is supported)."""
    with open(path, "rb") as stream:
        content = stream.read()
    if not content.startswith(b"NRRD000"):
        raise _bad(path, "it does not start with the NRRD magic line")
    end = content.find(b"\n\n")
    if end < 0:
        raise _bad(path, "no blank line ends the header")
    fields: dict[str, str] = {}
    key_values: dict[str, str] = {}
    for line in content[:end].decode("latin-1").splitlines()[1:]:
        if not line or line.startswith("#"):
            continue
        if ":=" in line:
            key, _, value = line.partition(":=")
            key_values[key] = value
        elif ": " in line:
            name, _, value = line.partition(": ")
            fields[name.strip().lower()] = value.strip()
        else:
            raise _bad(path, f"header line {line!r} is neither 'field: value' nor 'key:=value'")
    for unsupported in ("data file", "datafile", "line skip", "lineskip", "byte skip", "byteskip"):
        if unsupported in fields and fields[unsupported] not in ("0", ""):
            raise _bad(path, f"the field '{unsupported}' is not supported")
    dtype_code = _TYPES.get(fields.get("type", "").lower())
    if dtype_code is None:
        raise _bad(path, f"unknown type {fields.get('type')!r}")
    try:
        sizes = [int(value) for value in fields["sizes"].split()]
        dimension = int(fields["dimension"])
    except (KeyError, ValueError):
        raise _bad(path, "'sizes' or 'dimension' is missing or not integers") from None
    if len(sizes) != dimension or any(size <= 0 for size in sizes):
        raise _bad(path, f"sizes {sizes} do not match dimension {dimension}")
    endian = fields.get("endian", "little")
    dtype = np.dtype(dtype_code).newbyteorder("<" if endian == "little" else ">")

    encoding = fields.get("encoding", "raw").lower()
    payload = content[end + 2:]
    try:
        if encoding in ("gzip", "gz"):
            payload = gzip.decompress(payload)
        elif encoding in ("bzip2", "bz2"):
            payload = bz2.decompress(payload)
        elif encoding != "raw":
            raise _bad(path, f"encoding {encoding!r} is not supported (raw, gzip, bzip2)")
    except (OSError, EOFError, ValueError) as error:
        raise _bad(path, f"its {encoding} data cannot be decompressed ({error})") from None
    count = int(np.prod(sizes))
    if len(payload) < count * dtype.itemsize:
        raise _bad(path, f"the data holds {len(payload)} bytes, {count * dtype.itemsize} expected (truncated file)")
    values = np.frombuffer(payload, dtype=dtype, count=count).astype(dtype.newbyteorder("="))
    array = values.reshape(sizes[::-1])  # axis 0 varies fastest

    tokens = re.findall(r"\([^)]*\)|none", fields.get("space directions", ""))
    if len(tokens) != dimension:
        raise _bad(path, f"'space directions' has {len(tokens)} entries for {dimension} axes")
    directions = [_vector(token, path) for token in tokens]
    spatial = [axis for axis, vector in enumerate(directions) if vector is not None]
    if len(spatial) != 3 or dimension - len(spatial) > 1:
        raise _bad(path, "it is not a 3D image (with at most one non-spatial axis)")
    if dimension == 4:
        extra = next(axis for axis in range(4) if directions[axis] is None)
        # numpy axes are the NRRD axes reversed: move the non-spatial one last.
        array = np.moveaxis(array, 3 - extra, -1)
    space = fields.get("space", "left-posterior-superior").lower()
    if space not in _LPS_SPACES:
        raise _bad(path, f"space {space!r} is not LPS or RAS")
    to_lps = np.array([_LPS_SPACES[space], _LPS_SPACES[space], 1.0])
    origin = _vector(fields.get("space origin", "(0,0,0)"), path)
    matrix = np.eye(4)
    for column, axis in enumerate(spatial):  # i, j, k
        matrix[:3, column] = directions[axis] * to_lps
    matrix[:3, 3] = origin * to_lps
    shape_kji = tuple(sizes[axis] for axis in reversed(spatial))
    return NrrdImage(np.ascontiguousarray(array), Geometry(shape_kji, matrix), fields, key_values)
