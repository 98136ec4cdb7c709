"""De-identification of reports and exports (names, IDs, dates shifted).

A patient keeps the same pseudonym and the same date shift in every output of a cohort, so results stay
linkable, dates keep their intervals (uptake times, days between scans), and the same inputs still give
byte-identical outputs. Both are derived from the patient ID with a keyed hash; the key (``secret``)
stays with the site. Without a secret, a fixed project key is used: fine for trial exports that are
already pseudonymised, not a substitute for a site secret.
"""

import datetime
import hashlib
import hmac
from dataclasses import dataclass
from typing import Optional

DEFAULT_SECRET = "ragaliv-default-deidentification-key"
MAX_DATE_SHIFT_DAYS = 365


@dataclass(frozen=True)
class Deidentifier:
    """``enabled=False`` passes identities through unchanged (reports for the treating team)."""

    enabled: bool = True
    secret: str = DEFAULT_SECRET

    def _digest(self, patient_id: str) -> bytes:
        return hmac.new(self.secret.encode("utf-8"), patient_id.encode("utf-8"), hashlib.sha256).digest()

    def patient_id(self, patient_id: str) -> str:
        if not self.enabled:
            return patient_id
        return "RGL-" + self._digest(patient_id).hex()[:10].upper()

    def patient_name(self, patient_name: str, patient_id: str) -> str:
        if not self.enabled:
            return patient_name
        return f"Pseudonym^{self.patient_id(patient_id)}"

    def date_shift_days(self, patient_id: str) -> int:
        """Days subtracted from every date of this patient (1 .. 365), 0 when disabled."""
        if not self.enabled:
            return 0
        return 1 + int.from_bytes(self._digest(patient_id)[:4], "big") % MAX_DATE_SHIFT_DAYS

    def shift(self, moment: Optional[datetime.datetime], patient_id: str) -> Optional[datetime.datetime]:
        if moment is None:
            return None
        return moment - datetime.timedelta(days=self.date_shift_days(patient_id))

    def shift_iso(self, text: Optional[str], patient_id: str) -> Optional[str]:
        """Shift an ISO date or date-time string; other text is returned unchanged."""
        if not text or not self.enabled:
            return text
        try:
            moment = datetime.datetime.fromisoformat(text)
        except ValueError:
            return text
        shifted = self.shift(moment, patient_id)
        return shifted.date().isoformat() if len(text) == 10 else shifted.isoformat()

    def birth_date(self, birth_date: str) -> str:
        """Only the year is kept (ages stay right to within a year)."""
        if not self.enabled:
            return birth_date
        return (birth_date[:4] + "0101") if len(birth_date) >= 4 else ""
