"""Atomic file writes: write a temporary file beside the target, then rename it into place.

An interrupted run therefore never leaves a half-written result: either the old file (or none) or the
complete new one is there.
"""

import contextlib
import os
import tempfile
from collections.abc import Iterator

from .suffix import split_suffix


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """Yield a temporary path with the same suffix as ``path``; rename it to ``path`` on success."""
    directory = os.path.dirname(os.path.abspath(path)) or "."
    os.makedirs(directory, exist_ok=True)
    stem, suffix = split_suffix(os.path.basename(path))
    handle, temporary = tempfile.mkstemp(prefix=f".{stem}.", suffix=f".partial{suffix}", dir=directory)
    os.close(handle)
    os.chmod(temporary, 0o666 & ~_UMASK)  # mkstemp makes 0600; results get the usual permissions
    try:
        yield temporary
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        raise


def write_text(path: str, text: str) -> None:
    """Write text (UTF-8, LF line ends) atomically."""
    with atomic_path(path) as temporary, open(temporary, "w", encoding="utf-8", newline="\n") as stream:
        stream.write(text)


def write_bytes(path: str, data: bytes) -> None:
    with atomic_path(path) as temporary, open(temporary, "wb") as stream:
        stream.write(data)
