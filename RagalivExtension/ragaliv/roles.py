"""Segment roles from segment names: which segments are lesions, organs at risk, the healthy-liver reference.

One vocabulary for the PET ratios, the SPECT dosimetry (dose method by role), the phantom and the reports.
Names follow the protocol ("Lesion 1".."Lesion 5", "Healthy liver", "Kidney left", "Spleen", "Bone marrow L2-L4",
"Extrahepatic 1"), case- and separator-tolerant.
"""

import re

ORGANS_AT_RISK = ("healthy_liver", "kidney", "spleen", "bone_marrow")

# Words are separated by spaces, "_" or "-" ("Healthy_liver", "Bone-marrow", "Left_kidney"): a word boundary is
# "not a letter" (``\b`` would not split "_liver", "_" being a word character).
_SEP = r"[\s_-]*"
_START = r"(?<![a-z])"
_END = r"(?![a-z])"

_ROLE_PATTERNS = (
    # "Lesion 1", "Lesion_1", "lesion1", "Liver lesion 1", "Hepatic_lesion 2" (not "Extrahepatic lesion")
    ("lesion", re.compile(rf"^\s*((liver|hepatic){_SEP})?lesion({_END}|{_SEP}\d)", re.IGNORECASE)),
    ("healthy_liver", re.compile(rf"{_START}(healthy|normal|background|reference){_SEP}liver{_END}", re.IGNORECASE)),
    ("liver", re.compile(rf"^\s*(whole{_SEP})?liver\s*$", re.IGNORECASE)),
    ("kidney", re.compile(rf"{_START}kidney", re.IGNORECASE)),
    ("spleen", re.compile(rf"{_START}spleen{_END}", re.IGNORECASE)),
    ("bone_marrow", re.compile(rf"{_START}(bone{_SEP})?marrow{_END}", re.IGNORECASE)),
    ("extrahepatic", re.compile(rf"{_START}extra{_SEP}hepatic", re.IGNORECASE)),
)


def role_of(segment_name: str) -> str:
    """Role from the segment name: lesion, healthy_liver, liver (whole organ), kidney, spleen, bone_marrow,
    extrahepatic, other."""
    for role, pattern in _ROLE_PATTERNS:
        if pattern.search(segment_name):
            return role
    return "other"
