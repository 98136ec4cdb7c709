"""One reader's reading: the Lib's ``LesionRatioLogic`` on the scene, kept live by the Lib's
``LiveRatioUpdater`` (debounced), and what the reader does (place, remove, change the rule, save).

Independent of trame: results and refusals are handed to ``publish`` (a function taking a dict of page
state), timers come from a scheduler (``later(delay_s, callback)``), so the server-side tests drive a session
without a browser or a web server.
"""

import logging
from collections.abc import Sequence
from typing import Any, Callable, Optional

from ragaliv.errors import RagalivInputError

from .inputs import ReviewInputs
from .lib import lesion_ratio_lib
from .loading import LoadedReading
from .save import save_reading
from .table_state import reading_state

logger = logging.getLogger(__name__)

DEBOUNCE_S = 0.1  # a paint stroke fires many segment events: recompute once it pauses
SETTINGS = ("metric", "aggregate", "threshold", "placementMode", "lesionDiameterMm", "contourPercent",
            "contourRadiusMm", "confirmConsistency", "acceptChecks")
DECISION_SETTINGS = ("metric", "aggregate", "threshold", "confirmConsistency", "acceptChecks")


def refusal_text(error: RagalivInputError) -> str:
    """A refused action as shown to the reader: what is wrong, then how to fix it."""
    return f"{error.message} {error.hint}" if error.hint else error.message


def internal_error_text(error: Exception) -> str:
    """A bug, said as such (the traceback goes to the server's log)."""
    return (f"Internal error ({type(error).__name__}: {error}). This is a bug, not a problem with the images: "
            "report it with the server's log.")


class ReadingSession:
    def __init__(self, logic, loaded: LoadedReading, inputs: ReviewInputs, scheduler,
                 publish: Callable[[dict[str, Any]], None]):
        self.logic = logic
        self.loaded = loaded
        self.parameters = loaded.parameters
        self.inputs = inputs
        self._scheduler = scheduler
        self._publish = publish
        self._timer = None
        self.update_count = 0
        self.live = lesion_ratio_lib().LiveRatioUpdater(self._update, self._schedule)
        # --confirm-consistency / --accept came with these inputs (as ragaliv ratio takes them for one invocation):
        # the first decision binds them to its failed checks; one that fails later withdraws them (the Lib's rule).
        self.logic.confirmations_given_with_inputs()
        self.live.observe(self.parameters.segmentation, [self.parameters.ia_pet, self.parameters.iv_pet])

    # --- live table ------------------------------------------------------------------------------------------
    def _schedule(self) -> None:
        """Restart the debounce timer (the Lib calls this on every segmentation or PET event)."""
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._scheduler.later(DEBOUNCE_S, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self.live.flush()

    def refresh(self):
        """Recompute now (first display, or a rule setting changed); returns the analysis or None."""
        self.live.pending = False
        return self._update()

    def _update(self):
        try:
            analysis = self.logic.update(self.parameters)
        except RagalivInputError as error:
            self._publish({"refusal": refusal_text(error)})
            return None
        except Exception as error:  # stale numbers would be worse than none: clear them and say why
            logger.exception("ragaliv review: internal error in the update")
            self._publish({"refusal": internal_error_text(error), "rows": [], "eligible": None, "lesion_ratio": None,
                           "decision": "NO RESULT (internal error: see the message above)"})
            return None
        self.update_count += 1
        state = reading_state(analysis, self.segment_ids(), self.loaded.warnings)
        # NOT DETERMINED and what the reader confirmed come through as the Lib decided them (summary.json's keys).
        decided = analysis.summary.to_dict()
        state.update({key: decided[key] for key in ("decision_status", "consistency", "confirm_consistency",
                                                    "accepted_checks")})
        report = self.logic.last_update
        state.update(update_count=self.update_count, update_seconds=round(report.seconds, 4),
                     recomputed=list(report.recomputed_segments))
        self._publish(state)
        return analysis

    def segment_ids(self) -> dict[str, str]:
        """Segment name -> segment ID (the first of equal names)."""
        segmentation = self.parameters.segmentation.GetSegmentation()
        ids: dict[str, str] = {}
        for segment_id in segmentation.GetSegmentIDs():
            ids.setdefault(segmentation.GetSegment(segment_id).GetName(), segment_id)
        return ids

    # --- the reader's actions (a refusal is published, never raised) --------------------------------------------
    def _act(self, action: Callable[[], Any]) -> Any:
        try:
            result = action()
        except RagalivInputError as error:
            self._publish({"refusal": refusal_text(error)})
            return None
        except Exception as error:  # never a silent failure: the reader is told, the log has the traceback
            logger.exception("ragaliv review: internal error")
            self._publish({"refusal": internal_error_text(error)})
            return None
        self._publish({"refusal": ""})
        return result

    def add_lesion(self, click_ras: Sequence[float]) -> Optional[str]:
        """"Lesion n" at the click (sphere or automatic IA-PET contour: the Lib's ``add_lesion``)."""
        return self._act(lambda: self.logic.add_lesion(list(click_ras), self.parameters))

    def add_organ_voi(self, name: str, click_ras: Sequence[float]) -> Optional[str]:
        """Organ VOI preset at the click (the Lib's ``add_organ_voi``)."""
        return self._act(lambda: self.logic.add_organ_voi(name, list(click_ras), self.parameters))

    def remove_segment(self, segment_id: str) -> None:
        segmentation = self.parameters.segmentation.GetSegmentation()
        if segmentation.GetSegment(segment_id) is not None:
            segmentation.RemoveSegment(segment_id)

    def set_setting(self, name: str, value) -> None:
        """A rule, placement or confirmation setting (stored in the Lib's parameter node); the rule and the accepted
        check ids are checked by the core."""
        if name not in SETTINGS:
            raise KeyError(name)
        previous = self.parameters.get(name)
        self.parameters.set(name, value)
        if name in DECISION_SETTINGS:
            try:
                self.logic.settings(self.parameters)  # RatioSettings checks the rule and the check ids
            except RagalivInputError as error:
                self.parameters.set(name, previous)
                self._publish({"refusal": refusal_text(error)})
                return
            self.refresh()

    def save(self, reader: str) -> Optional[dict[str, str]]:
        """"Save reading" into a new folder under the ``--output`` folder; None when refused."""
        self.live.flush()
        return self._act(lambda: save_reading(self.logic, self.parameters, self.inputs, reader))
