"""File-name suffixes that have two dots (``.nii.gz``, ``.seg.nrrd``)."""


DOUBLE_SUFFIXES = (".seg.nrrd", ".nii.gz", ".tar.gz")


def split_suffix(name: str) -> tuple[str, str]:
    """``"a.seg.nrrd"`` -> ``("a", ".seg.nrrd")``; ``"b.csv"`` -> ``("b", ".csv")``."""
    lower = name.lower()
    for suffix in DOUBLE_SUFFIXES:
        if lower.endswith(suffix):
            return name[: -len(suffix)], name[-len(suffix) :]
    stem, dot, extension = name.rpartition(".")
    return (stem, "." + extension) if dot and stem else (name, "")
