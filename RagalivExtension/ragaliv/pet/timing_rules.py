"""Header rules for times: acquisition, scan reference time (QIBA priority), injection time (with the midnight
crossing), and the per-slice decay factors of DecayCorrection NONE (PET notes §3.3, §7.2; QIBA; IBSI)."""

import math
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:  # pydicom only where a file is read: `ragaliv ratio` starts faster (issue 12)
    from pydicom.dataset import Dataset

from ..errors import RagalivInputError
from .dicom_time import combine_da_tm, dataset_zone, iso_or_unknown, parse_da, parse_dt, parse_tm, seconds_between
from .dicom_values import dicom_number, private_value
from .suv_parameters import GE_DECAY_DATETIME_TAG, GE_PRIVATE_CREATOR, describe_missing


def average_time_in_frame_s(duration_s: float, half_life_s: float) -> float:
    """Time after frame start at which the activity equals the frame average (QIBA ``Tave``)."""
    decay_constant = math.log(2.0) / half_life_s
    x = decay_constant * duration_s
    if x < 1e-9:
        return duration_s / 2.0
    return math.log(x / -math.expm1(-x)) / decay_constant


def frame_average_to_start(duration_s: float, half_life_s: float) -> float:
    """lambda T / (1 - exp(-lambda T)): frame-average activity -> activity at frame start (IBSI, NONE)."""
    x = math.log(2.0) / half_life_s * duration_s
    return 1.0 if x < 1e-12 else x / -math.expm1(-x)


class TimingRules:
    """Part of :class:`~ragaliv.pet.header_rules.HeaderRules` (uses its ``headers``, ``first``, ``zone``,
    ``radiopharmaceutical``, ``overrides``, ``sources``, ``warnings``, ``cached``, ``optional``)."""

    def header_date(self, dataset: "Dataset", *keywords: str) -> Optional[date]:
        for keyword in keywords:
            day = parse_da(dataset.get(keyword))
            if day is not None:
                return day
        return None

    def acquisition_time(self, dataset: "Dataset") -> Optional[datetime]:
        zone = dataset_zone(dataset) or self.zone
        moment = parse_tm(dataset.get("AcquisitionTime"))
        if moment is not None:
            day = self.header_date(dataset, "AcquisitionDate", "SeriesDate", "StudyDate")
            combined = combine_da_tm(day, moment, zone)
            if combined is not None:
                return combined
        return parse_dt(dataset.get("AcquisitionDateTime"), zone)

    def acquisition_times(self) -> list[Optional[datetime]]:
        return [self.acquisition_time(h) for h in self.headers]

    def earliest_acquisition(self) -> Optional[datetime]:
        times = [t for t in self.cached("acquisition_times", self.acquisition_times) if t is not None]
        if not times:
            return None
        earliest = times[0]
        for moment in times[1:]:
            if seconds_between(moment, earliest) < 0:
                earliest = moment
        return earliest

    def series_time(self) -> Optional[datetime]:
        moment = parse_tm(self.first.get("SeriesTime"))
        day = self.header_date(self.first, "SeriesDate")
        if moment is not None and day is None:
            day = self.header_date(self.first, "AcquisitionDate", "StudyDate")
            if day is not None:
                self.warnings.append(
                    "SeriesDate (0008,0021) is missing: the AcquisitionDate/StudyDate is used."
                )
        return combine_da_tm(day, moment, self.zone)

    def backcomputed_reference(self) -> Optional[datetime]:
        """QIBA: AcquisitionDateTime - FrameReferenceTime + Tave, per slice; None if inputs are missing."""
        half_life = self.optional("half_life_s", self.half_life_s)
        if half_life is None:
            return None
        results: list[datetime] = []
        for header, acquired in zip(self.headers, self.cached("acquisition_times", self.acquisition_times)):
            frame_reference_ms = dicom_number(header, "FrameReferenceTime")
            duration_ms = dicom_number(header, "ActualFrameDuration")
            if acquired is None or not frame_reference_ms or not duration_ms or duration_ms <= 0:
                continue
            offset_s = -frame_reference_ms / 1000.0 + average_time_in_frame_s(
                duration_ms / 1000.0, half_life
            )
            results.append(acquired + timedelta(seconds=offset_s))
        if not results:
            return None
        earliest = min(results, key=lambda t: seconds_between(t, results[0]))
        spread_s = max(abs(seconds_between(t, earliest)) for t in results)
        if spread_s > 1.0:
            self.warnings.append(
                f"Back-computed reference times differ by {spread_s:.1f} s between slices; the earliest is "
                "used."
            )
        return earliest

    def scan_reference_time(self) -> datetime:
        """QIBA priority (PET notes §3.3, §7.2)."""
        if self.overrides.scan_time is not None:
            self.sources["scan_reference_time"] = self.override_source("scan_time")
            return self.overrides.scan_time
        series = self.series_time()
        earliest = self.earliest_acquisition()
        if series is not None and earliest is None:
            self.sources["scan_reference_time"] = (
                "DICOM SeriesDate/SeriesTime (0008,0021)/(0008,0031) (no AcquisitionTime to compare, QIBA)"
            )
            return series
        if series is not None and earliest is not None and seconds_between(series, earliest) <= 0:
            self.sources["scan_reference_time"] = (
                "DICOM SeriesDate/SeriesTime (0008,0021)/(0008,0031), not after the earliest "
                "AcquisitionDate/AcquisitionTime (0008,0022)/(0008,0032) (QIBA)"
            )
            return series
        if series is not None:
            why = (
                f"SeriesTime (0008,0031) {iso_or_unknown(series)} is after the earliest AcquisitionTime (0008,0032) "
                f"{iso_or_unknown(earliest)} (post-processed series, QIBA)"
            )
        else:
            why = "SeriesDate/SeriesTime (0008,0021)/(0008,0031) missing"
        ge_value = private_value(self.first, GE_DECAY_DATETIME_TAG, GE_PRIVATE_CREATOR)
        if isinstance(ge_value, bytes):
            ge_value = ge_value.decode("ascii", "replace").strip("\x00 ")
        ge_time = parse_dt(ge_value, self.zone) if ge_value else None
        if ge_time is not None:
            self.sources["scan_reference_time"] = f"GE private (0009,100D) {GE_PRIVATE_CREATOR} ({why})"
            return ge_time
        back = self.backcomputed_reference()
        if back is not None:
            self.sources["scan_reference_time"] = (
                "back-computed: AcquisitionDateTime - FrameReferenceTime (0054,1300) + Tave from "
                f"ActualFrameDuration (0018,1242) (QIBA; {why})"
            )
            return back
        if earliest is not None:
            self.sources["scan_reference_time"] = (
                f"earliest AcquisitionDate/AcquisitionTime (0008,0022)/(0008,0032) ({why})"
            )
            self.warnings.append(
                f"Scan reference time falls back to the earliest acquisition time ({why}; QIBA notes this is "
                "wrong for multi-injection series). Set --scan-time if you know better."
            )
            return earliest
        raise describe_missing(
            "SeriesTime", "(0008,0031)",
            "Scan reference time (neither SeriesDate/SeriesTime (0008,0021)/(0008,0031) nor "
            "AcquisitionDate/AcquisitionTime (0008,0022)/(0008,0032))",
            "scan_time",
        )  # fmt: skip

    def injection_time(self, reference: Optional[datetime]) -> datetime:
        if self.overrides.injection_time is not None:
            self.sources["injection_time"] = self.override_source("injection_time")
            return self.overrides.injection_time
        item = self.radiopharmaceutical
        if item is not None:
            start = parse_dt(item.get("RadiopharmaceuticalStartDateTime"), self.zone)
            if start is not None:
                self.sources["injection_time"] = "DICOM RadiopharmaceuticalStartDateTime (0018,1078)"
                return start
            moment = parse_tm(item.get("RadiopharmaceuticalStartTime"))
            if moment is not None:
                day = self.header_date(self.first, "SeriesDate", "AcquisitionDate", "StudyDate")
                if day is None and reference is not None:
                    day = reference.date()
                if day is not None:
                    start = combine_da_tm(day, moment, self.zone)
                    assert start is not None
                    source = "DICOM RadiopharmaceuticalStartTime (0018,1072) on the SeriesDate (0008,0021)"
                    if reference is not None and seconds_between(start, reference) > 0:
                        start -= timedelta(days=1)
                        source += ", minus one day (injection before midnight)"
                        self.warnings.append(
                            f"RadiopharmaceuticalStartTime {moment.isoformat()} is after the scan "
                            "reference time "
                            f"{iso_or_unknown(reference)}: the injection is taken on the previous day (midnight "
                            "crossing)."
                        )
                    self.sources["injection_time"] = source
                    return start
        raise describe_missing(
            "RadiopharmaceuticalStartDateTime", "(0018,1078)",
            "Injection time (neither RadiopharmaceuticalStartDateTime (0018,1078) nor "
            "RadiopharmaceuticalStartTime (0018,1072))",
            "injection_time",
        )  # fmt: skip

    def none_factors(self, reference: datetime, half_life_s: float) -> list[float]:
        """Per slice: frame-average (not decay corrected) -> activity at ``reference`` (PET notes §3.3)."""
        factors = []
        acquisition_times = self.cached("acquisition_times", self.acquisition_times)
        for index, (header, acquired) in enumerate(zip(self.headers, acquisition_times)):
            duration_ms = dicom_number(header, "ActualFrameDuration")
            if acquired is None:
                raise RagalivInputError(
                    "DecayCorrection NONE needs each slice's AcquisitionDate/AcquisitionTime "
                    "(0008,0022)/(0008,0032); "
                    f"slice {index} has none.",
                    "Re-export the series with decay correction (START), or complete the header.",
                )
            if duration_ms is None or duration_ms <= 0:
                raise RagalivInputError(
                    "DecayCorrection NONE needs each slice's ActualFrameDuration (0018,1242); slice "
                    f"{index} has none.",
                    "Re-export the series with decay correction (START), or complete the header.",
                )
            decay_constant = math.log(2.0) / half_life_s
            factors.append(
                frame_average_to_start(duration_ms / 1000.0, half_life_s)
                * math.exp(decay_constant * seconds_between(acquired, reference))
            )
        return factors

