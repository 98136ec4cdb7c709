"""Segment roles from segment names: which segments are lesions, organs at risk, the healthy-liver reference.

One vocabulary for the PET ratios, the SPECT dosimetry (dose method by role), the phantom and the reports.
Names follow the protocol ("Lesion 1".."Lesion 5", "Healthy liver", "Kidney left", "Spleen", "Bone marrow L2-L4",
"Extrahepatic 1"), case- and separator-tolerant.
"""

import re

ORGANS_AT_RISK = ("healthy_liver", "kidney", "spleen", "bone_marrow")

_ROLE_PATTERNS = (
    ("lesion", re.compile(r"^\s*lesion(\b|[\s_-]*\d)", re.IGNORECASE)),  # "Lesion 1", "Lesion_1", "lesion1"
    ("healthy_liver", re.compile(r"\b(healthy|normal|background|reference)\s+liver\b", re.IGNORECASE)),
    ("liver", re.compile(r"^\s*(whole\s+)?liver\s*$", re.IGNORECASE)),
    ("kidney", re.compile(r"\bkidney", re.IGNORECASE)),
    ("spleen", re.compile(r"\bspleen\b", re.IGNORECASE)),
    ("bone_marrow", re.compile(r"\bmarrow\b", re.IGNORECASE)),
    ("extrahepatic", re.compile(r"\bextra[- ]?hepatic", re.IGNORECASE)),
)


def role_of(segment_name: str) -> str:
    """Role from the segment name: lesion, healthy_liver, liver (whole organ), kidney, spleen, bone_marrow,
    extrahepatic, other."""
    for role, pattern in _ROLE_PATTERNS:
        if pattern.search(segment_name):
            return role
    return "other"
