"""The core's fix hints said the way the module panels offer them (Qt-free, shared by both Libs).

The checks of :mod:`ragaliv.checks` tell the user how to override or confirm with CLI flags ("add --accept
weight", "confirm with --confirm-consistency", "give --ia-dose-mbq MBQ"). In a module panel the same actions are
fields and boxes; :func:`for_panel` rewrites those flags into the panel's control names. The messages themselves
(what is wrong, the values, the decision text) are left exactly as the CLI writes them, so the panel, summary.json
and the report agree word for word.
"""

import re
from typing import Optional

from ragaliv.checks.findings import normalise_accept
from ragaliv.errors import RagalivInputError

ACCEPT_FIELD = "'Accept checks'"
CONFIRM_BOX = "'Inputs checked — decide anyway'"
SUV_PANEL = "the \"SUV parameters\" panel"

# (pattern, replacement): longest flags first, so "--ia-dose-mbq" is not taken for "--dose-mbq".
_REWRITES = (
    # The SUV hints offer both ("--weight-kg KG (CLI) or the weight field of ..."): the panel keeps its own.
    (r"--[a-z-]+(?: [A-Z|]+)?(?:, e\.g\. \S+)? \(CLI\) or ", ""),
    (r"(?:add )?--accept ([a-z0-9-]+)", rf"add \1 to the {ACCEPT_FIELD} field"),
    (r"\(--confirm-consistency\)", f"(the {CONFIRM_BOX} box)"),
    (r"(?:with )?--confirm-consistency", f"with the {CONFIRM_BOX} box"),
    (r"--(ia|iv)-dose-mbq(?: MBQ)?", lambda m: f"the {m.group(1).upper()} injected activity field of {SUV_PANEL}"),
    (r"--(ia|iv)-injection-time(?: ISO)?",
     lambda m: f"the {m.group(1).upper()} injection time field of {SUV_PANEL}"),
    (r"--(ia|iv)-scan-time(?: ISO)?", lambda m: f"the {m.group(1).upper()} scan time field of {SUV_PANEL}"),
    (r"--weight-kg(?: KG)?", f"the weight field of {SUV_PANEL}"),
    (r"--height-cm(?: CM)?", f"the height field of {SUV_PANEL}"),
    (r"--half-life-s(?: SECONDS)?", f"the half-life field of {SUV_PANEL}"),
    (r"--metric suvpeak", "the metric SUVpeak"),
    (r"--ia and --iv", "the IA PET and IV PET selections"),
)


def for_panel(text: Optional[str]) -> str:
    """``text`` with the CLI flags of the checks replaced by the panel controls that do the same."""
    result = text or ""
    for pattern, replacement in _REWRITES:
        result = re.sub(pattern, replacement, result)
    return result


def panel_error(error: RagalivInputError) -> RagalivInputError:
    """The same refusal with its fix hint in panel words (the message, naming what is wrong, is unchanged)."""
    return RagalivInputError(error.message, for_panel(error.hint) if error.hint else error.hint)


def accepted_checks(text: Optional[str]) -> tuple[str, ...]:
    """The check ids typed in a panel's "Accept checks" field (commas or spaces between them), as ``--accept``
    takes them; an unknown id is refused (it would accept nothing while the user thinks it does)."""
    try:
        return normalise_accept([text or ""])
    except RagalivInputError as error:
        raise RagalivInputError(f"{ACCEPT_FIELD} field: {error.message}", error.hint) from None
