"""Exceptions that carry a message a user can act on.

The CLI turns :class:`RagalivInputError` into exit code 2 with the message; Slicer shows it in a dialog.
Anything else escaping is a bug.
"""

from typing import Optional


class RagalivError(Exception):
    """Base class of every error Ragaliv raises on purpose."""


class RagalivInputError(RagalivError):
    """The input is wrong or incomplete; ``hint`` says how to fix it (which tag, which flag, which field)."""

    def __init__(self, message: str, hint: Optional[str] = None):
        self.message = message
        self.hint = hint
        super().__init__(message if not hint else f"{message} {hint}")


class MissingDicomValueError(RagalivInputError):
    """A DICOM attribute needed for quantification is absent, empty or zero."""

    def __init__(self, keyword: str, tag: str, what: str, override: str):
        self.keyword = keyword
        self.tag = tag
        self.override = override
        super().__init__(
            f"{what}: DICOM attribute {keyword} {tag} is missing, empty or zero.",
            f"Provide it with {override}.",
        )
