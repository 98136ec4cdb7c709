"""DICOM file headers read fast: the data elements before the pixel data, values decoded on access.

Why not pydicom here: importing pydicom 3 takes about 0.15 s (it loads its pixel decoders, PIL and requests)
and it parses a header in about 0.3 ms, which made up half of ``ragaliv ratio`` on two PET series (issue 12).
This reader follows DICOM PS3.10 §7.1 (preamble, ``DICM``, File Meta Information in explicit VR little endian)
and PS3.5 §7 (data elements with explicit or implicit VR, little endian; sequences and items of defined or
undefined length, §7.5), and decodes values by VR (PS3.5 §6.2) into the values pydicom gives: ``str`` (text,
trailing padding removed), ``float`` (DS, FL, FD), ``int`` (IS, US, SS, UL, SL), a list for several values,
:class:`DicomHeader` items for SQ, ``bytes`` for OB/OW/UN; an empty value is ``""`` for text VRs, ``[]`` for
SQ, None otherwise.

Everything else goes to pydicom, imported only then: big-endian or deflated transfer syntaxes, unknown VRs,
undefined-length values other than sequences (a whole file is then read by pydicom), character sets other
than the default, Latin-1, UTF-8, GB18030 and GBK, and elements whose VR an implicit-VR file leaves to the
data dictionary when the table of :mod:`.dicom_keywords` does not know it (that value is taken from pydicom).

A file that starts like DICOM (``DICM`` at byte 128) but ends inside its header, or whose pixel data is
shorter than its length says, is an :class:`UnreadableDicomFile` — never skipped as if it were not DICOM.
A header is a snapshot of the file when it was read; nothing is cached between reads.
"""

import os
from dataclasses import dataclass
from struct import Struct, unpack_from
from typing import Any, Optional, Union

from .dicom_keywords import KEYWORDS, TAG_VRS

EXPLICIT_LITTLE = "1.2.840.10008.1.2.1"
IMPLICIT_LITTLE = "1.2.840.10008.1.2"
EXPLICIT_BIG = "1.2.840.10008.1.2.2"  # retired: read by pydicom
DEFLATED = ("1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.8.1")  # deflated data sets: read by pydicom

PIXEL_DATA_TAG = 0x7FE00010
_FIRST_PIXEL_TAG = 0x7FE00008  # Float Pixel Data (7FE0,0008), Double Float (7FE0,0009), Pixel Data (7FE0,0010)
_ITEM, _ITEM_END, _SEQUENCE_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_UNDEFINED = 0xFFFFFFFF

# PS3.5 Table 7.1-1: VRs with a 2-byte reserved field and a 4-byte length in explicit VR.
_LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
_SHORT_VRS = {b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS", b"LO", b"LT", b"PN",
              b"SH", b"SL", b"SS", b"ST", b"TM", b"UI", b"UL", b"US"}
_LONG_VR_NAMES = {code: code.decode("ascii") for code in _LONG_VRS}
_SHORT_VR_NAMES = {code: code.decode("ascii") for code in _SHORT_VRS}
_TEXT_MULTI = {"AE", "AS", "CS", "DA", "DT", "TM", "UI", "SH", "LO", "UC", "PN"}
_TEXT_SINGLE = {"ST", "LT", "UT", "UR"}
_CHARSET_VRS = {"SH", "LO", "UC", "PN", "ST", "LT", "UT"}  # PS3.5 §6.1.2.3: affected by SpecificCharacterSet
_BINARY = {"US": ("H", 2), "SS": ("h", 2), "UL": ("L", 4), "SL": ("l", 4), "FL": ("f", 4), "FD": ("d", 8),
           "SV": ("q", 8), "UV": ("Q", 8)}
_BYTES_VRS = {"OB", "OD", "OF", "OL", "OV", "OW", "UN"}
# SpecificCharacterSet (0008,0005) values decoded here (as pydicom does); others go to pydicom's charset module.
_CODECS = {"": "latin_1", "ISO_IR 6": "latin_1", "ISO_IR 100": "latin_1", "ISO_IR 192": "utf_8",
           "GB18030": "gb18030", "GBK": "gbk"}
_DICOM_EXTENSIONS = (".dcm", ".dicom", ".ima")

Key = Union[str, int, tuple]


class UnreadableDicomFile(Exception):
    """A file that is DICOM (or named like DICOM) but cannot be read whole: ``reason`` says what is wrong."""

    def __init__(self, path: str, reason: str, series_instance_uid: str = ""):
        self.path = path
        self.reason = reason
        self.series_instance_uid = series_instance_uid
        super().__init__(f"{path}: {reason}")


class _Unsupported(Exception):
    """Valid DICOM this reader leaves to pydicom."""


class _Truncated(Exception):
    def __init__(self, needed: int):
        self.needed = needed


def tag_of(key: Key) -> int:
    """``(0x0028, 0x1053)``, ``0x00281053`` or a keyword -> the tag as an int."""
    if isinstance(key, int):
        return key
    if isinstance(key, tuple):
        return (key[0] << 16) | key[1]
    known = KEYWORDS.get(key)
    if known is not None:
        return known[0]
    from pydicom.datadict import tag_for_keyword  # a keyword outside the table: pydicom's dictionary

    tag = tag_for_keyword(key)
    if tag is None:
        raise KeyError(key)
    return tag


class Element:
    """One data element as :meth:`DicomHeader.get` gives it for a tag (like a pydicom DataElement)."""

    __slots__ = ("VR", "tag", "value")

    def __init__(self, tag: int, vr: Optional[str], value: Any):
        self.tag, self.VR, self.value = tag, vr, value

    def __repr__(self) -> str:
        return f"Element(({self.tag >> 16:04X},{self.tag & 0xFFFF:04X}) {self.VR} {self.value!r})"


class DicomHeader:
    """The data elements of one file (or of one sequence item), read like a pydicom Dataset:
    ``header.get("RescaleSlope")`` -> value, ``header.get((0x7053, 0x1000))`` -> :class:`Element`,
    ``"Units" in header``, ``header.PatientID``. Values are decoded on first access."""

    __slots__ = ("_elements", "_file", "_implicit", "_parent", "_path", "_values", "file_meta")

    def __init__(self, elements: dict[int, tuple], implicit: bool, file_path: str, path: tuple = (),
                 parent: Optional["DicomHeader"] = None):
        self._elements = elements  # tag -> (VR or None for implicit VR, raw bytes or list of item headers)
        self._values: dict[int, Any] = {}
        self._implicit = implicit
        self._file = file_path
        self._path = path  # (sequence tag, item index) pairs from the file's data set down to this item
        self._parent = parent  # the header holding the sequence of this item (character set inheritance)
        self.file_meta: Optional[DicomHeader] = None

    # --- pydicom-like access ---------------------------------------------------------------------------
    def value_of(self, tag: int, default: Any = None) -> Any:
        """The decoded value of ``tag`` (an int), or ``default`` when the element is absent."""
        try:
            return self._values[tag]
        except KeyError:
            pass
        entry = self._elements.get(tag)
        if entry is None:
            return default
        value = self._values[tag] = self._decode(tag, entry[0], entry[1])
        return value

    def get(self, key: Key, default: Any = None) -> Any:
        """A keyword gives the value; a tag (int or (group, element)) gives the :class:`Element`."""
        if isinstance(key, str):
            known = KEYWORDS.get(key)
            return self.value_of(known[0] if known is not None else tag_of(key), default)
        tag = tag_of(key)
        if tag not in self._elements:
            return default
        return Element(tag, self._vr(tag), self.value_of(tag))

    def __contains__(self, key: Key) -> bool:
        try:
            return tag_of(key) in self._elements
        except KeyError:
            return False

    def __getitem__(self, key: Key) -> Element:
        tag = tag_of(key)
        if tag not in self._elements:
            raise KeyError(key)
        return Element(tag, self._vr(tag), self.value_of(tag))

    def __getattr__(self, name: str) -> Any:
        if not name[:1].isupper():
            raise AttributeError(name)
        try:
            tag = tag_of(name)
        except KeyError:
            raise AttributeError(name) from None
        if tag not in self._elements:
            raise AttributeError(f"{os.path.basename(self._file)} has no {name}")
        return self.value_of(tag)

    def __iter__(self):
        return iter([self[tag] for tag in sorted(self._elements)])

    def __len__(self) -> int:
        return len(self._elements)

    def __repr__(self) -> str:
        return f"DicomHeader({os.path.basename(self._file)}, {len(self._elements)} elements)"

    @property
    def filename(self) -> str:
        return self._file

    def _vr(self, tag: int) -> Optional[str]:
        vr = self._elements[tag][0]
        return vr if vr is not None else _implicit_vr(tag)

    # --- decoding --------------------------------------------------------------------------------------
    def _character_sets(self) -> list[str]:
        """SpecificCharacterSet (0008,0005) of this header, else of the enclosing one (PS3.5 §7.5.3)."""
        if 0x00080005 not in self._elements:
            return self._parent._character_sets() if self._parent is not None else [""]
        value = self.value_of(0x00080005) or ""
        values = [value] if isinstance(value, str) else list(value)
        return [str(v).strip() for v in values] or [""]

    def _decode(self, tag: int, vr: Optional[str], raw: Any) -> Any:
        if vr is None:  # implicit VR
            vr = _implicit_vr(tag)
            if vr is None:
                return self._pydicom_value(tag)
        elif vr == "UN":  # a VR lost on the way (PS3.5 §6.2.2): decoded with the dictionary's, as pydicom does
            known = TAG_VRS.get(tag)
            if known is None or known == "SQ":
                return self._pydicom_value(tag)
            vr = known
        if vr == "SQ":
            return raw  # already a list of items
        if not raw:
            return "" if vr in _TEXT_MULTI or vr in _TEXT_SINGLE else None
        if vr in _BINARY:
            code, size = _BINARY[vr]
            if len(raw) % size:
                return self._pydicom_value(tag)
            values = unpack_from(f"<{len(raw) // size}{code}", raw)
            return values[0] if len(values) == 1 else list(values)
        if vr in _BYTES_VRS:
            return bytes(raw)
        if vr == "AT":
            if len(raw) % 4:
                return self._pydicom_value(tag)
            values = [(g << 16) | e for g, e in zip(*[iter(unpack_from(f"<{len(raw) // 2}H", raw))] * 2)]
            return values[0] if len(values) == 1 else values
        if vr in _CHARSET_VRS:
            charsets = self._character_sets()
            codec = _CODECS.get(charsets[0]) if len(charsets) == 1 else None
            if codec is None:
                return self._pydicom_value(tag)
            try:
                text = bytes(raw).decode(codec)
            except UnicodeDecodeError:
                return self._pydicom_value(tag)
        else:
            text = bytes(raw).decode("latin_1")
        if vr in _TEXT_SINGLE:
            return text.rstrip() if vr == "UR" else text.rstrip("\0 ")
        if vr == "DS":
            return _numbers(text.strip(), float)
        if vr == "IS":
            return _numbers(text, _integer)
        if vr == "AE":
            parts = [part.strip() for part in text.split("\\")]
        elif vr in ("SH", "LO", "UC"):
            parts = [part.rstrip("\0 ") for part in text.split("\\")]
        else:
            parts = text.rstrip(" \0").split("\\")
        return parts[0] if len(parts) == 1 else parts

    def _pydicom_value(self, tag: int) -> Any:
        """The value as pydicom decodes it (read from the file again): for what this reader leaves to it."""
        import pydicom

        dataset = pydicom.dcmread(self._file, stop_before_pixels=True, force=True)
        for sequence_tag, index in self._path:
            dataset = dataset[sequence_tag].value[index]
        return _plain(dataset[tag].value)


def _plain(value: Any) -> Any:
    """pydicom's MultiValue as a list and PersonName as str, as this reader gives them."""
    from pydicom.multival import MultiValue
    from pydicom.valuerep import PersonName

    if isinstance(value, MultiValue):
        return [str(item) if isinstance(item, PersonName) else item for item in value]
    return str(value) if isinstance(value, PersonName) else value


def _integer(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        number = float(text)
        if number != int(number):
            raise
        return int(number)


def _numbers(text: str, convert) -> Any:
    parts = text.rstrip(" \0").split("\\")
    values = []
    for part in parts:
        try:
            values.append(convert(part) if part.strip() else part)
        except (ValueError, OverflowError):
            values.append(part.strip())  # malformed: kept as text, which every reader treats as missing
    return values[0] if len(values) == 1 else values


def _implicit_vr(tag: int) -> Optional[str]:
    vr = TAG_VRS.get(tag)
    if vr is not None:
        return vr
    if tag & 0xFFFF == 0:
        return "UL"  # group length
    if (tag >> 16) & 1 and 0x0010 <= (tag & 0xFFFF) <= 0x00FF:
        return "LO"  # private creator (PS3.5 §7.8.1)
    return None


# --- parsing -----------------------------------------------------------------------------------------------
_EXPLICIT_HEAD = Struct("<HH2sH")  # group, element, VR, 2-byte length (PS3.5 §7.1.2)
_IMPLICIT_HEAD = Struct("<HHL")  # group, element, 4-byte length (PS3.5 §7.1.3)
_LENGTH = Struct("<L")


def _parse(buf: bytes, pos: int, end: Optional[int], implicit: bool, file_path: str, path: tuple,
           parent: Optional[DicomHeader], top: bool) -> tuple[DicomHeader, int]:
    """Elements from ``pos`` up to ``end``, or (``end`` None) up to the item delimiter of an item, or, at the
    top level, up to the pixel data or the end of ``buf``. Returns the header and the position reached."""
    elements: dict[int, tuple] = {}
    header = DicomHeader(elements, implicit, file_path, path, parent)
    size = len(buf)
    short_vrs, long_vrs = _SHORT_VR_NAMES, _LONG_VR_NAMES
    head = _IMPLICIT_HEAD if implicit else _EXPLICIT_HEAD
    while True:
        if end is not None and pos >= end:
            if pos != end:
                raise _Unsupported("an element runs past the end of its item")
            return header, pos
        if top and pos == size:
            return header, pos  # the end of what was read: the caller reads on or stops at the end of file
        if pos + 8 > size:
            raise _Truncated(pos + 8)
        if implicit:
            group, number, length = head.unpack_from(buf, pos)
            code = b""
        else:
            group, number, code, length = head.unpack_from(buf, pos)
        tag = (group << 16) | number
        if top and tag >= _FIRST_PIXEL_TAG:
            return header, pos
        if group == 0xFFFE:
            if tag == _ITEM_END and end is None and not top:
                return header, pos + 8
            raise _Unsupported(f"delimiter ({group:04X},{number:04X}) outside a sequence")
        if implicit:
            vr = None
            pos += 8
        else:
            vr = short_vrs.get(code)
            if vr is not None:
                pos += 8
            else:
                vr = long_vrs.get(code)
                if vr is None:
                    raise _Unsupported(f"VR {code!r} of ({group:04X},{number:04X})")
                if pos + 12 > size:
                    raise _Truncated(pos + 12)
                length = _LENGTH.unpack_from(buf, pos + 8)[0]
                pos += 12
        if vr == "SQ" or (vr is None and (length == _UNDEFINED or TAG_VRS.get(tag) == "SQ")):
            items, pos = _parse_items(buf, pos, length, implicit, file_path, path, tag, header)
            elements[tag] = ("SQ", items)
            continue
        if length == _UNDEFINED:
            raise _Unsupported(f"undefined length of ({group:04X},{number:04X})")
        if pos + length > size:
            raise _Truncated(pos + length)
        elements[tag] = (vr, buf[pos:pos + length])
        pos += length


def _parse_items(buf: bytes, pos: int, length: int, implicit: bool, file_path: str, path: tuple,
                 sequence_tag: int, parent: DicomHeader) -> tuple[list[DicomHeader], int]:
    """The items of a sequence value (PS3.5 §7.5) of defined or undefined ``length``."""
    items: list[DicomHeader] = []
    end = None if length == _UNDEFINED else pos + length
    size = len(buf)
    while end is None or pos < end:
        if pos + 8 > size:
            raise _Truncated(pos + 8)
        group, number, item_length = unpack_from("<HHL", buf, pos)
        tag = (group << 16) | number
        pos += 8
        if tag == _SEQUENCE_END and end is None:
            return items, pos
        if tag != _ITEM:
            raise _Unsupported(f"({group:04X},{number:04X}) inside a sequence")
        item_end = None if item_length == _UNDEFINED else pos + item_length
        if item_end is not None and item_end > size:
            raise _Truncated(item_end)
        item_path = (*path, (sequence_tag, len(items)))
        item, pos = _parse(buf, pos, item_end, implicit, file_path, item_path, parent, False)
        items.append(item)
    if pos != end:
        raise _Unsupported("a sequence runs past its length")
    return items, pos


def empty_header() -> DicomHeader:
    """A header with no element (for images that carry no DICOM header)."""
    return DicomHeader({}, False, "")


@dataclass
class DicomFile:
    """One DICOM file: its header and where its pixel data lies (``pixel_offset``: first pixel byte;
    ``pixel_length``: None for encapsulated (compressed) data or when there is no pixel data)."""

    path: str
    header: Any  # DicomHeader, or a pydicom Dataset for what this reader leaves to pydicom
    transfer_syntax: str
    has_pixel_data: bool
    pixel_offset: Optional[int] = None
    pixel_length: Optional[int] = None
    native_little_endian: bool = False


def _looks_like_dicom(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in _DICOM_EXTENSIONS


def read_dicom_file(path: str, chunk_bytes: int = 16384) -> Optional[DicomFile]:
    """The header of a DICOM Part 10 file (pixel data located, not read); None when the file is not DICOM.

    Raises :class:`UnreadableDicomFile` for a file that is DICOM (``DICM`` at byte 128, or a .dcm/.dicom/.ima
    name) but is empty, ends inside its header or pixel data, or cannot be opened.
    """
    try:
        with open(path, "rb") as stream:
            size = os.fstat(stream.fileno()).st_size
            buf = stream.read(min(size, chunk_bytes))
            if size < 132 or buf[128:132] != b"DICM":
                if _looks_like_dicom(path):
                    what = "is empty (0 bytes)" if size == 0 else (
                        f"has only {size} bytes" if size < 132 else "has no DICM prefix at byte 128")
                    raise UnreadableDicomFile(path, f"{what}: it is not a readable DICOM file (a copy that "
                                                    "was cut short, or not DICOM at all)")
                return None
            while True:
                try:
                    return _read_from(path, buf, size)
                except _Truncated as truncated:
                    if len(buf) >= size:
                        raise UnreadableDicomFile(
                            path, f"is truncated: it ends at byte {size} inside its DICOM header (at least "
                                  f"{truncated.needed} bytes needed)") from None
                    buf += stream.read(max(truncated.needed - len(buf), len(buf)))
    except OSError as error:
        raise UnreadableDicomFile(path, f"cannot be read ({error.strerror or error})") from None


def _read_from(path: str, buf: bytes, size: int) -> DicomFile:
    """Parse ``buf`` (the first bytes of a ``size``-byte file); :class:`_Truncated` asks for more bytes."""
    meta, pos = _parse_meta(buf, path)
    syntax = str(meta.get("TransferSyntaxUID") or "").strip("\0 ")
    if syntax == EXPLICIT_BIG or syntax in DEFLATED or not syntax:
        return _read_with_pydicom(path, syntax, size)
    implicit = syntax == IMPLICIT_LITTLE
    try:
        header, pos = _parse(buf, pos, None, implicit, path, (), None, True)
    except _Unsupported:
        return _read_with_pydicom(path, syntax, size)
    header.file_meta = meta
    if pos == size:  # the data set ends without pixel data (DICOMDIR, RT structure set, report ...)
        return DicomFile(path, header, syntax, False)
    if pos + 12 > len(buf):
        raise _Truncated(pos + 12)
    tag = (unpack_from("<H", buf, pos)[0] << 16) | unpack_from("<H", buf, pos + 2)[0]
    if tag != PIXEL_DATA_TAG:
        return DicomFile(path, header, syntax, True)  # float pixel data: left to pydicom
    if implicit:
        length, offset = unpack_from("<L", buf, pos + 4)[0], pos + 8
    else:
        length, offset = unpack_from("<L", buf, pos + 8)[0], pos + 12
    if length == _UNDEFINED:
        return DicomFile(path, header, syntax, True, offset, None)
    if offset + length > size:
        uid = str(header.get("SeriesInstanceUID") or "")
        raise UnreadableDicomFile(path, f"is truncated: its pixel data holds {max(size - offset, 0)} of the "
                                        f"{length} bytes its header announces", uid)
    native = syntax in (EXPLICIT_LITTLE, IMPLICIT_LITTLE)
    return DicomFile(path, header, syntax, True, offset, length, native)


def _parse_meta(buf: bytes, path: str) -> tuple[DicomHeader, int]:
    """File Meta Information (group 0002, always explicit VR little endian)."""
    elements: dict[int, tuple] = {}
    meta = DicomHeader(elements, False, path)
    pos = 132
    while True:
        if pos + 8 > len(buf):
            raise _Truncated(pos + 8)
        group = unpack_from("<H", buf, pos)[0]
        if group != 0x0002:
            return meta, pos
        number = unpack_from("<H", buf, pos + 2)[0]
        code = buf[pos + 4:pos + 6]
        if code in _LONG_VRS:
            if pos + 12 > len(buf):
                raise _Truncated(pos + 12)
            length, pos = unpack_from("<L", buf, pos + 8)[0], pos + 12
        elif code in _SHORT_VRS:
            length, pos = unpack_from("<H", buf, pos + 6)[0], pos + 8
        else:
            raise _Truncated(len(buf) + 1) if pos + 6 > len(buf) else _Unsupported(f"file meta VR {code!r}")
        if pos + length > len(buf):
            raise _Truncated(pos + length)
        tag = 0x00020000 | number
        elements[tag] = (code.decode("ascii"), buf[pos:pos + length])
        pos += length


def _read_with_pydicom(path: str, syntax: str, size: int) -> DicomFile:
    """Files this reader leaves to pydicom (big endian, deflated, unusual encodings)."""
    import pydicom

    try:
        with open(path, "rb") as stream:
            dataset = pydicom.dcmread(stream, stop_before_pixels=True, force=False)
            offset = stream.tell()
    except Exception as error:
        raise UnreadableDicomFile(path, f"cannot be parsed as DICOM ({type(error).__name__}: {error})") from None
    has_pixels = offset < size
    return DicomFile(path, dataset, syntax, has_pixels, None, None, False)
