"""The case report as one self-contained HTML page (inline CSS, images as base64 PNG, A4 print layout).

:func:`render` turns a :class:`CaseReport` (result documents, figures, series, identity) into text. Every
piece of patient-derived text goes through :class:`~ragaliv.report.identity.Privacy` and is HTML-escaped;
nothing here reads files or the clock, so the same report gives the same bytes.
"""

import base64
import datetime
import html
import math
from dataclasses import dataclass, field
from typing import Any, Optional

from .. import __version__
from ..ratio.analysis import RATIO_COLUMNS
from ..ratio.decision import METRIC_TITLES
from ..roles import ORGANS_AT_RISK
from .identity import Privacy, SeriesInfo

EMPTY = "–"
ROLE_TITLES = {
    "lesion": "lesion", "healthy_liver": "healthy liver", "liver": "liver (whole)", "kidney": "kidney",
    "spleen": "spleen", "bone_marrow": "bone marrow", "extrahepatic": "extrahepatic", "other": "other",
}  # fmt: skip
DOSE_METHOD_TITLES = {"sphere": "sphere model", "organ_s": "organ S (mass-scaled)", "led": "local deposition"}


@dataclass
class LesionSnapshot:
    segment: str
    ia_png: bytes
    iv_png: bytes
    plane: dict[str, Any]
    background: str


@dataclass
class RatioPart:
    document: dict[str, Any]  # summary.json of ``ragaliv ratio``
    series: list[SeriesInfo]
    chart_png: Optional[bytes] = None
    snapshots: list[LesionSnapshot] = field(default_factory=list)
    snapshot_note: str = ""
    provenance: Optional[dict[str, Any]] = None


@dataclass
class DosimetryPart:
    document: dict[str, Any]  # summary.json of ``ragaliv dosimetry``
    series: list[SeriesInfo]
    overview_png: Optional[bytes] = None
    panels_png: Optional[bytes] = None
    provenance: Optional[dict[str, Any]] = None


@dataclass
class CaseReport:
    privacy: Privacy
    generated_at: datetime.datetime
    ratio: Optional[RatioPart] = None
    dosimetry: Optional[DosimetryPart] = None
    notes: list[str] = field(default_factory=list)  # report-level warnings
    software: dict[str, str] = field(default_factory=dict)
    colour_bar_png: Optional[bytes] = None


# --- formatting ------------------------------------------------------------------------------------------
def format_sig(value: Any, digits: int = 4) -> str:
    """A number with ``digits`` significant digits, without exponent for 1e-4 <= |x| (``EMPTY`` if absent)."""
    if value is None or isinstance(value, bool):
        return EMPTY
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(number):
        return EMPTY
    if number == 0.0:
        return "0"
    magnitude = math.floor(math.log10(abs(number)))
    if magnitude >= digits - 1:
        return f"{number:.0f}"
    if magnitude < -4:
        return f"{number:.{digits - 1}e}"
    return f"{number:.{digits - 1 - magnitude}f}"


def format_percent(fraction: Any, digits: int = 2) -> str:
    if fraction is None:
        return EMPTY
    return format_sig(100.0 * float(fraction), digits)


class _Writer:
    """Accumulates HTML; ``t`` escapes (and de-identifies) text."""

    def __init__(self, privacy: Privacy):
        self.privacy = privacy
        self.parts: list[str] = []

    def t(self, value: Any) -> str:
        return html.escape(self.privacy.text(value), quote=True)

    def add(self, *chunks: str) -> None:
        self.parts.extend(chunks)

    def text(self) -> str:
        return "".join(self.parts)


def _image(png: Optional[bytes], alt: str, css_class: str = "figure", missing: str = "") -> str:
    if png is None:
        return f'<p class="missing">{html.escape(missing or alt + ": not available")}</p>'
    data = base64.b64encode(png).decode("ascii")
    return f'<img class="{css_class}" alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _num_cell(text: str) -> str:
    return f'<td class="num">{text}</td>'


# --- CSS -------------------------------------------------------------------------------------------------
CSS = """
@page { size: A4; margin: 14mm 12mm 16mm 12mm;
  @bottom-left { content: "RAGALIV case report · %(footer)s"; font: 7pt sans-serif; color: #666; }
  @bottom-right { content: "page " counter(page) " of " counter(pages); font: 7pt sans-serif; color: #666; } }
* { box-sizing: border-box; }
html { background: #e9ecef; }
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, Helvetica, sans-serif; font-size: 9.5pt;
  line-height: 1.35; color: #1d1d1f; margin: 0; }
.sheet { background: #fff; max-width: 210mm; margin: 8mm auto; padding: 12mm 12mm; box-shadow: 0 1px 6px #0003; }
h1 { font-size: 17pt; margin: 0; letter-spacing: 0.02em; }
h2 { font-size: 12.5pt; margin: 0 0 3mm 0; padding-bottom: 1mm; border-bottom: 2px solid #2c3e50; color: #2c3e50; }
h3 { font-size: 10.5pt; margin: 4mm 0 1.5mm 0; color: #2c3e50; }
section { margin-top: 7mm; }
section.new-page { break-before: page; }
.subtitle { color: #555; font-size: 9pt; margin-top: 1mm; }
.report-header { display: flex; justify-content: space-between; align-items: flex-start; gap: 6mm;
  border-bottom: 3px solid #2c3e50; padding-bottom: 3mm; }
.brand { text-align: right; font-size: 8.5pt; color: #444; white-space: nowrap; }
.brand b { font-size: 10pt; color: #1d1d1f; }
table { border-collapse: collapse; width: 100%; font-size: 8pt; margin: 1.5mm 0 3mm 0; }
th, td { border: 1px solid #c9ced6; padding: 1.2mm 1.6mm; vertical-align: top; text-align: left; }
thead th { background: #eef1f5; font-weight: 600; }
th .unit { display: block; font-weight: 400; color: #555; font-size: 7pt; }
td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
td.flags, td.small, p.small, .small { font-size: 7pt; color: #444; }
td.flags, td.small { overflow-wrap: anywhere; }
td.flag-on { color: #a4281b; font-weight: 600; }
tr { break-inside: avoid; }
table.identity { font-size: 9pt; margin-top: 3mm; }
table.identity th { background: #f5f6f8; width: 22%; font-weight: 600; }
table.kv th { width: 30%; background: #f8f9fa; font-weight: 600; }
table.glance th { width: 20%; background: #f8f9fa; font-weight: 600; }
table.lesion-ratios { margin-top: 3mm; background: #fff; }
h2, h3 { break-after: avoid; page-break-after: avoid; }
.keep { break-inside: avoid; }
.banner { margin-top: 3mm; padding: 2mm 3mm; border: 1.5px dashed #7d3c98; background: #f6eefa;
  color: #4a235a; font-size: 8.5pt; }
.decision { border: 3px solid #7f8c8d; border-radius: 2mm; padding: 3mm 4mm; margin: 2mm 0 3mm 0;
  break-inside: avoid; }
.decision.eligible { border-color: #1e7b34; background: #edf7ef; }
.decision.not-eligible { border-color: #a4281b; background: #fbeeee; }
.decision.undetermined { border-color: #b7950b; background: #fdf7e3; }
.verdict { font-size: 16pt; font-weight: 700; letter-spacing: 0.03em; }
.eligible .verdict { color: #1e7b34; } .not-eligible .verdict { color: #a4281b; }
.undetermined .verdict { color: #8a6d05; }
.decision-grid { display: grid; grid-template-columns: 1fr 1fr; gap: 4mm; align-items: start; }
.rule { font-family: "DejaVu Sans Mono", monospace; font-size: 8.5pt; background: #fff8; padding: 1mm 2mm;
  border: 1px solid #0002; display: inline-block; margin: 1mm 0; }
img.figure { max-width: 100%; display: block; margin: 1mm auto; }
img.chart { width: 100%; }
.warnbox { border-left: 4px solid #d68910; background: #fef5e7; padding: 2mm 3mm; margin: 2mm 0;
  font-size: 8.5pt; break-inside: avoid; }
.okbox { border-left: 4px solid #1e7b34; background: #edf7ef; padding: 2mm 3mm; font-size: 8.5pt; }
ul.warnings { margin: 1mm 0 3mm 0; padding-left: 5mm; font-size: 8.5pt; }
ul.warnings li { margin: 0.6mm 0; }
.lesion { break-inside: avoid; margin: 2mm 0 5mm 0; }
.pair { display: grid; grid-template-columns: 1fr 1fr; gap: 3mm; }
.pair figure { margin: 0; text-align: center; }
.pair img { width: 100%; max-width: 56mm; image-rendering: auto; border: 1px solid #333; }
figcaption { font-size: 8pt; color: #333; margin-top: 0.8mm; }
.colourbar { display: flex; align-items: center; gap: 2mm; font-size: 7.5pt; color: #333; margin: 1mm 0; }
.colourbar img { width: 45mm; height: 3mm; border: 1px solid #555; }
.missing { color: #8a6d05; font-style: italic; }
.sign { border: 1px solid #c9ced6; padding: 2mm 3mm 5mm 3mm; margin: 2mm 0; }
.sign-role { font-weight: 600; margin-bottom: 6mm; }
.sign-line { display: flex; justify-content: space-between; gap: 4mm; white-space: nowrap; }
.sign-comments { margin-top: 6mm; }
.signature { break-inside: avoid; }
.legend { font-size: 8pt; color: #333; }
code, .mono { font-family: "DejaVu Sans Mono", monospace; font-size: 7pt; word-break: break-all; }
footer { margin-top: 6mm; font-size: 7.5pt; color: #555; border-top: 1px solid #ccc; padding-top: 2mm; }
@media print {
  html { background: none; }
  .sheet { box-shadow: none; margin: 0; padding: 0; max-width: none; }
}
"""


def _footer_label(report: CaseReport) -> str:
    label = f"{report.privacy.patient_name()} · ID {report.privacy.patient_id()}"
    return "".join(ch for ch in label if ch.isalnum() or ch in " ·-_.^")


# --- sections --------------------------------------------------------------------------------------------
def _study_dates(report: CaseReport) -> list[tuple[str, str]]:
    privacy = report.privacy
    items: list[tuple[str, str]] = []
    if report.ratio is not None:
        for series in report.ratio.series:
            if series.date_time:
                items.append((series.role, privacy.moment(series.date_time[:10])))
    if report.dosimetry is not None:
        times = [tp.get("acquisition_time") for tp in report.dosimetry.document.get("timepoints", [])]
        times = [time for time in times if time]
        if times:
            first, last = privacy.moment(min(times)[:10]), privacy.moment(max(times)[:10])
            items.append(("177Lu SPECT/CT", first if first == last else f"{first} to {last}"))
    return items


def _header(w: _Writer, report: CaseReport) -> None:
    privacy = report.privacy
    title = "IA vs IV 68Ga-DOTATATE PET uptake ratios"
    if report.dosimetry is not None:
        title = (title + " · 177Lu SPECT/CT dosimetry") if report.ratio is not None else "177Lu SPECT/CT dosimetry"
    generated = report.generated_at
    if privacy.enabled:
        generated = generated - datetime.timedelta(days=privacy.shift_days)
    w.add('<header class="report-header"><div><h1>RAGALIV case report</h1>',
          f'<div class="subtitle">{html.escape(title)}</div></div>',
          f'<div class="brand"><b>Ragaliv {html.escape(__version__)}</b><br>report of '
          f'{generated.strftime("%Y-%m-%d %H:%M")}{" (shifted)" if privacy.enabled else ""}</div></header>')
    dates = " · ".join(f"{w.t(role)} {w.t(date)}" for role, date in _study_dates(report)) or EMPTY
    identity = privacy.identity
    w.add('<table class="identity">',
          f'<tr><th>Patient{" (pseudonym)" if privacy.enabled else ""}</th><td>{w.t(privacy.patient_name())}</td>'
          f'<th>Patient ID</th><td>{w.t(privacy.patient_id())}</td></tr>',
          f'<tr><th>Birth year</th><td>{w.t(privacy.birth_year())}</td><th>Sex</th>'
          f'<td>{w.t(identity.sex or EMPTY)}</td></tr>',
          f'<tr><th>Study dates</th><td colspan="3">{dates}</td></tr>',
          f'<tr><th>Software</th><td>Ragaliv {html.escape(__version__)}</td><th>Identity read from</th>'
          f'<td class="small">{w.t(identity.source or EMPTY)}</td></tr></table>')
    if privacy.enabled:
        w.add('<div class="banner"><b>De-identified report.</b> Name and ID replaced by a pseudonym, birth date '
              'reduced to the year, all dates shifted by one patient-specific offset (intervals kept), DICOM UIDs '
              'replaced by keyed UIDs, file paths withheld. Not for clinical signature.</div>')


def _merge_by_message(items: list[tuple[str, str]]) -> list[str]:
    """``(region, message)`` pairs -> one line per message naming its regions ("all N regions" when so)."""
    regions_by_message: dict[str, list[str]] = {}
    everyone = list(dict.fromkeys(region for region, _ in items))
    for region, message in items:
        regions_by_message.setdefault(message, [])
        if region not in regions_by_message[message]:
            regions_by_message[message].append(region)
    lines = []
    for message, regions in regions_by_message.items():
        if len(regions) > 2 and len(regions) == len(everyone):
            lines.append(f"All {len(regions)} regions: {message}")
        else:
            lines.append(f"{', '.join(regions)}: {message}")
    return lines


def _all_warnings(report: CaseReport) -> list[tuple[str, list[str]]]:
    groups: list[tuple[str, list[str]]] = []
    if report.notes:
        groups.append(("Report", list(report.notes)))
    if report.ratio is not None:
        document = report.ratio.document
        groups.append(("Decision and ratios", list(document.get("warnings", []))))
        for scan in ("ia", "iv"):
            parameters = document.get("suv_parameters", {}).get(scan) or {}
            groups.append((f"SUV of the {scan.upper()} PET", list(parameters.get("warnings", []))))
        flagged = [f"{row['segment']}: {row['flags']}" for row in document.get("segments", []) if row.get("flags")]
        groups.append(("Segments", flagged))
    if report.dosimetry is not None:
        document = report.dosimetry.document
        groups.append(("Dosimetry study", list(document.get("warnings", []))))
        regions = document.get("regions", {})
        region_flags = [(name, flag) for name, region in regions.items() for flag in region.get("flags", [])]
        groups.append(("Dosimetry regions", _merge_by_message(region_flags)))
        fit_notes = []
        for name, region in regions.items():
            fit = region.get("fit") or {}
            fit_notes.extend((name, text) for text in [*fit.get("flags", []), *fit.get("warnings", [])])
        groups.append(("Kinetic fits", _merge_by_message(fit_notes)))
        for registration in document.get("registrations", []):
            if registration.get("warnings"):
                groups.append((f"Registration of time point {registration.get('timepoint')}",
                               list(registration["warnings"])))
    return [(title, items) for title, items in groups if items]


def _decision(w: _Writer, report: CaseReport) -> None:
    ratio = report.ratio
    assert ratio is not None
    document = ratio.document
    eligible = document.get("eligible")
    css, verdict = {True: ("eligible", "ELIGIBLE"), False: ("not-eligible", "NOT ELIGIBLE")}.get(
        eligible, ("undetermined", "UNDETERMINED"))
    if eligible is None and any(item.get("status") == "not confirmed" for item in document.get("consistency") or []):
        verdict = "NOT DETERMINED"  # a consistency check of the inputs failed and was not confirmed
    metric_title = METRIC_TITLES.get(document.get("metric", ""), document.get("metric", ""))
    w.add('<section><h2>Decision: intra-arterial 5th cycle</h2>', f'<div class="decision {css}">',
          '<div class="decision-grid"><div>', f'<div class="verdict">{verdict}</div>',
          f'<p>{w.t(document.get("decision", ""))}</p>',
          f'<div>Rule: <span class="rule">{w.t(document.get("rule", ""))}</span></div>',
          f'<p class="small">Metric <b>{w.t(metric_title)}</b> (IA/IV per lesion) · aggregate '
          f'<b>{w.t(document.get("aggregate", ""))}</b> · threshold <b>&ge; '
          f'{w.t(format_sig(document.get("threshold"), 3))}</b> · <b>{w.t(document.get("lesion_count", 0))}</b> '
          'lesion segment(s) named "Lesion N" (protocol: 5)</p></div><div>',
          _image(ratio.chart_png, "Lesion IA/IV ratio bar chart", "figure chart",
                 "no bar chart: no lesion ratio, or matplotlib is not installed"), '</div></div>')
    names = list((document.get("lesion_ratios") or {}).items())
    w.add('<table class="lesion-ratios"><thead><tr><th>Lesion</th>',
          "".join(f'<th>{w.t(name)}</th>' for name, _ in names),
          f'<th>{w.t(document.get("aggregate", ""))}</th><th>threshold</th></tr></thead><tbody>',
          f'<tr><td>IA/IV {w.t(metric_title)}</td>',
          "".join(f'<td class="num" data-lesion="{w.t(name)}">{format_sig(value, 3)}</td>' for name, value in names),
          f'<td class="num"><b>{w.t(format_sig(document.get("lesion_ratio"), 3))}</b></td>'
          f'<td class="num">&ge; {w.t(format_sig(document.get("threshold"), 3))}</td></tr></tbody></table>')
    organs = document.get("organs_ia_above_iv") or []
    if organs:
        w.add(f'<div class="warnbox"><b>Organs at risk with IA &gt; IV uptake:</b> {w.t(", ".join(organs))}</div>')
    w.add('</div></section>')


def _first_page_summary(w: _Writer, report: CaseReport) -> None:
    warnings = _all_warnings(report)
    count = sum(len(items) for _, items in warnings)
    if report.dosimetry is not None:
        document = report.dosimetry.document
        settings = document.get("settings", {})
        rows = []
        for name, region in document.get("regions", {}).items():
            dose = region.get("dose") or {}
            primary = dose.get("primary") or {}
            bed = dose.get("bed") or {}
            rows.append((name, region.get("role", ""), primary.get("dose_gy"), bed.get("bed_gy")))
        lesions = [row for row in rows if row[1] in ("lesion", "extrahepatic") and row[2] is not None]
        organs = [row for row in rows if row[1] not in ("lesion", "extrahepatic") and row[2] is not None]
        w.add('<section><h2>Dosimetry at a glance</h2><table class="glance">',
              f'<tr><th>Administered 177Lu</th><td colspan="3">'
              f'{w.t(format_sig(settings.get("administered_mbq"), 4))} MBq '
              f'{w.t(settings.get("radiopharmaceutical", ""))} on '
              f'{w.t(report.privacy.moment(settings.get("injection_time")))}</td></tr>')
        if lesions:
            low, high = min(lesions, key=lambda r: r[2]), max(lesions, key=lambda r: r[2])
            w.add(f'<tr><th>Tumour doses</th><td colspan="3">{w.t(format_sig(low[2], 3))} Gy ({w.t(low[0])}) to '
                  f'{w.t(format_sig(high[2], 3))} Gy ({w.t(high[0])})</td></tr>')
        cells = []
        for name, _, dose, bed in organs:
            bed_text = "" if bed is None else f" (BED {format_sig(bed, 3)} Gy)"
            cells.append(f'<th>{w.t(name)}</th><td>{w.t(format_sig(dose, 3))} Gy{w.t(bed_text)}</td>')
        for index in range(0, len(cells), 2):
            w.add(f'<tr>{"".join(cells[index:index + 2])}</tr>')
        w.add('</table></section>')
    box = "warnbox" if count else "okbox"
    text = (f"<b>{count} warning(s)</b> - read them in the Warnings section before signing." if count
            else "No warnings.")
    w.add(f'<div class="{box}">{text}</div>')


def _inputs(w: _Writer, report: CaseReport) -> None:
    privacy = report.privacy
    w.add('<section class="new-page"><h2>Inputs</h2><h3>Series</h3><table><thead><tr><th>Role</th>'
          '<th>Modality</th><th>Description</th><th>SeriesInstanceUID</th><th>Date/time</th></tr></thead><tbody>')
    series_list: list[SeriesInfo] = []
    if report.ratio is not None:
        series_list.extend(report.ratio.series)
    if report.dosimetry is not None:
        series_list.extend(report.dosimetry.series)
    for series in series_list:
        w.add(f'<tr><td>{w.t(series.role)}</td><td>{w.t(series.modality or EMPTY)}</td>'
              f'<td>{w.t(series.description or EMPTY)}</td>'
              f'<td class="mono">{html.escape(privacy.uid(series.series_instance_uid) or EMPTY)}</td>'
              f'<td>{w.t(privacy.moment(series.date_time))}</td></tr>')
    w.add('</tbody></table>')
    if report.ratio is not None:
        _suv_inputs(w, report)
    if report.dosimetry is not None:
        _spect_inputs(w, report)
    w.add('</section>')


_SUV_ROWS = (
    # (label, key, formatter, unit)
    ("Radiopharmaceutical", "radiopharmaceutical", "text", ""),
    ("Nuclide", "nuclide", "text", ""),
    ("Injected activity", "injected_dose_bq", "mbq", "MBq"),
    ("Injection time", "injection_time", "time", ""),
    ("Scan reference time", "scan_reference_time", "time", ""),
    ("Uptake time (injection to scan)", "decay_time_s", "minutes", "min"),
    ("Half-life", "half_life_s", "half_life", "s"),
    ("Activity at scan time", "decayed_dose_bq", "mbq", "MBq"),
    ("Patient weight", "weight_kg", "number", "kg"),
    ("Patient height", "height_cm", "number", "cm"),
    ("Patient sex", "sex", "text", ""),
    ("Pixel units", "units", "text", ""),
    ("Decay correction", "decay_correction", "text", ""),
    ("SUV", "suv_quantity", "text", ""),
    ("Normaliser", "normalizer", "number", ""),
    ("SUV per Bq/mL", "suv_per_bq_per_ml", "number", ""),
)


def _suv_value(privacy: Privacy, parameters: dict[str, Any], key: str, kind: str, unit: str) -> str:
    value = parameters.get(key)
    if value is None or value == "":
        return EMPTY
    if kind == "time":
        return privacy.moment(value, with_seconds=True)
    if kind == "mbq":
        return f"{format_sig(float(value) / 1e6, 5)} MBq"
    if kind == "minutes":
        return f"{format_sig(float(value) / 60.0, 4)} min"
    if kind == "half_life":
        return f"{format_sig(value, 5)} s ({format_sig(float(value) / 60.0, 4)} min)"
    if kind == "number":
        suffix = parameters.get("normalizer_unit", "") if key == "normalizer" else unit
        return f"{float(value):.6g} {suffix}".strip()
    return str(value)


def _suv_inputs(w: _Writer, report: CaseReport) -> None:
    assert report.ratio is not None
    parameters = report.ratio.document.get("suv_parameters", {})
    ia, iv = parameters.get("ia") or {}, parameters.get("iv") or {}
    w.add('<h3>68Ga PET: SUV parameters used</h3><table><thead><tr><th>Parameter</th><th>IA PET</th>'
          '<th>Source (IA)</th><th>IV PET</th><th>Source (IV)</th></tr></thead><tbody>')
    for label, key, kind, unit in _SUV_ROWS:
        if key not in ia and key not in iv:
            continue
        cells = []
        for scan in (ia, iv):
            cells.append(f'<td>{w.t(_suv_value(w.privacy, scan, key, kind, unit))}</td>')
            cells.append(f'<td class="small">{w.t((scan.get("sources") or {}).get(key, EMPTY))}</td>')
        w.add(f'<tr><th>{html.escape(label)}</th>{"".join(cells)}</tr>')
    w.add('</tbody></table>')
    w.add('<p class="small">Values come from the DICOM header unless the source says "override" (user-entered '
          'values replace the header). Every value used is listed; see Methods for the rules.</p>')


def _spect_inputs(w: _Writer, report: CaseReport) -> None:
    assert report.dosimetry is not None
    document = report.dosimetry.document
    settings = document.get("settings", {})
    privacy = report.privacy
    w.add('<h3>177Lu SPECT/CT study</h3><table class="kv">',
          f'<tr><th>Administered activity</th><td>{w.t(format_sig(settings.get("administered_mbq"), 5))} MBq</td></tr>',
          f'<tr><th>Radiopharmaceutical</th><td>{w.t(settings.get("radiopharmaceutical") or EMPTY)}</td></tr>',
          f'<tr><th>Injection time</th><td>{w.t(privacy.moment(settings.get("injection_time"), True))}</td></tr>',
          f'<tr><th>Half-life</th><td>{w.t(format_sig(settings.get("half_life_h"), 6))} h</td></tr>',
          '<tr><th>Calibration uncertainty</th>'
          f'<td>{w.t(format_percent(settings.get("calibration_rel_uncertainty")))} % (relative, 1 SD)</td></tr>',
          f'<tr><th>Kinetic model</th><td>{w.t(settings.get("model"))}</td></tr>',
          f'<tr><th>Registration of time points</th><td>{"rigid CT-to-CT" if settings.get("register") else "off"}'
          '</td></tr></table>')


def _ratio_tables(w: _Writer, report: CaseReport) -> None:
    assert report.ratio is not None
    document = report.ratio.document
    titles = {key: (title, unit) for key, title, unit in RATIO_COLUMNS}
    rows = document.get("segments", [])
    metric = document.get("metric", "suvmax")
    uptake_keys = ("volume_ml", "ia_suvmax", "ia_suvmean", "ia_suvpeak", "iv_suvmax", "iv_suvmean", "iv_suvpeak")
    ratio_keys = ("ratio_suvmax", "ratio_suvmean", "ratio_suvpeak", "tumour_to_liver_ia", "tumour_to_liver_iv",
                  "ia_outside_fov_percent", "iv_outside_fov_percent")

    def head(keys) -> str:
        cells = "".join(
            f'<th>{html.escape(titles[key][0])}<span class="unit">{html.escape(titles[key][1] or " ")}</span></th>'
            for key in keys)
        return f"<thead><tr><th>Segment</th><th>Role</th>{cells}{{extra}}</tr></thead>"

    w.add('<section class="new-page"><h2>Uptake and IA/IV ratios</h2>',
          f'<p class="small">SUV unit {w.t(document.get("suv_unit", ""))}. Ratios are IA/IV of the same metric; '
          f'the decision uses {html.escape(METRIC_TITLES.get(metric, metric))}. T/L: tumour-to-healthy-liver '
          f'({html.escape(METRIC_TITLES.get(metric, metric))} of the segment / SUVmean of the healthy liver).</p>',
          '<h3>Uptake per segment</h3><table>', head(uptake_keys).replace("{extra}", ""), '<tbody>')
    for row in rows:
        cells = "".join(_num_cell(format_sig(row.get(key), 4)) for key in uptake_keys)
        w.add(f'<tr data-segment="{w.t(row["segment"])}"><td>{w.t(row["segment"])}</td>'
              f'<td>{w.t(ROLE_TITLES.get(row.get("role", ""), row.get("role", "")))}</td>{cells}</tr>')
    w.add('</tbody></table><h3>Ratios, tumour-to-liver and field of view</h3><table>',
          head(ratio_keys).replace("{extra}", "<th>Flags</th>"), '<tbody>')
    for row in rows:
        cells = []
        for key in ratio_keys:
            digits = 2 if key.endswith("_percent") else 3
            cells.append(_num_cell(format_sig(row.get(key), digits)))
        flags = row.get("flags") or ""
        w.add(f'<tr data-segment="{w.t(row["segment"])}"><td>{w.t(row["segment"])}</td>'
              f'<td>{w.t(ROLE_TITLES.get(row.get("role", ""), row.get("role", "")))}</td>{"".join(cells)}'
              f'<td class="flags{" flag-on" if flags else ""}">{w.t(flags)}</td></tr>')
    w.add('</tbody></table>')
    _organs_at_risk(w, report)
    w.add('</section>')


def _organ_doses(report: CaseReport) -> dict[str, dict[str, Any]]:
    if report.dosimetry is None:
        return {}
    doses = {}
    for name, region in report.dosimetry.document.get("regions", {}).items():
        dose = region.get("dose") or {}
        doses[name] = {"dose_gy": (dose.get("primary") or {}).get("dose_gy"),
                       "bed_gy": (dose.get("bed") or {}).get("bed_gy")}
    return doses


def _organs_at_risk(w: _Writer, report: CaseReport) -> None:
    assert report.ratio is not None
    document = report.ratio.document
    metric = document.get("metric", "suvmax")
    title = METRIC_TITLES.get(metric, metric)
    doses = _organ_doses(report)
    rows = [row for row in document.get("segments", []) if row.get("role") in (*ORGANS_AT_RISK, "liver")]
    w.add('<div class="keep"><h3>Organs at risk</h3>')
    if not rows:
        w.add('<p class="missing">No organ-at-risk segment (healthy liver, kidney, spleen, bone marrow).</p></div>')
        return
    dose_heads = '<th>177Lu dose<span class="unit">Gy</span></th><th>BED<span class="unit">Gy</span></th>' \
        if doses else ""
    w.add(f'<table><thead><tr><th>Segment</th><th>IA {html.escape(title)}<span class="unit">SUV</span></th>'
          f'<th>IV {html.escape(title)}<span class="unit">SUV</span></th>'
          f'<th>IA/IV {html.escape(title)}<span class="unit">ratio</span></th><th>IA vs IV</th>{dose_heads}'
          '</tr></thead><tbody>')
    for row in rows:
        ratio = row.get(f"ratio_{metric}")
        above = ratio is not None and ratio > 1.0
        status = "IA &gt; IV: more uptake after intra-arterial injection" if above else "IA &le; IV"
        dose_cells = ""
        if doses:
            dose = doses.get(row["segment"], {})
            dose_cells = _num_cell(format_sig(dose.get("dose_gy"), 3)) + _num_cell(format_sig(dose.get("bed_gy"), 3))
        w.add(f'<tr data-organ="{w.t(row["segment"])}"><td>{w.t(row["segment"])}</td>'
              f'{_num_cell(format_sig(row.get(f"ia_{metric}"), 4))}{_num_cell(format_sig(row.get(f"iv_{metric}"), 4))}'
              f'{_num_cell(format_sig(ratio, 3))}<td class="{"flag-on" if above else ""}">{status}</td>'
              f'{dose_cells}</tr>')
    w.add('</tbody></table></div>')


def _snapshots(w: _Writer, report: CaseReport) -> None:
    assert report.ratio is not None
    ratio = report.ratio
    document = ratio.document
    rows = {row["segment"]: row for row in document.get("segments", [])}
    metric = document.get("metric", "suvmax")
    w.add('<section class="new-page"><h2>Lesion snapshots</h2>',
          '<p class="legend">Axial plane through the segment centre, patient right on the image left, anterior at the '
          'top. IA (left) and IV (right) PET fused on the same background in one SUV colour scale per lesion '
          '(0 to the higher SUVmax of the two), so the intra-arterial gain is visible; '
          '<b style="color:#00a5c0">cyan</b>: segment contour; <b style="color:#2e9e2e">green +</b>: IA SUVmax voxel '
          '(when it lies in this plane). PET resampled linearly for display only; the numbers are computed in each '
          'PET&#39;s own grid.</p>')
    if ratio.snapshot_note:
        w.add(f'<p class="missing">{w.t(ratio.snapshot_note)}</p>')
    for snapshot in ratio.snapshots:
        row = rows.get(snapshot.segment, {})
        plane = snapshot.plane
        scale = plane.get("suv_max_scale")
        centre = plane.get("centre_lps_mm") or [0.0, 0.0, 0.0]
        w.add(f'<div class="lesion" data-snapshot="{w.t(snapshot.segment)}"><h3>{w.t(snapshot.segment)} · IA/IV '
              f'{html.escape(METRIC_TITLES.get(metric, metric))} {w.t(format_sig(row.get(f"ratio_{metric}"), 3))} · '
              f'{w.t(format_sig(row.get("volume_ml"), 3))} mL</h3><div class="pair">')
        for scan, png in (("ia", snapshot.ia_png), ("iv", snapshot.iv_png)):
            w.add('<figure>', _image(png, f"{snapshot.segment} {scan.upper()} PET fused", "figure"),
                  f'<figcaption><b>{scan.upper()} PET</b> · SUVmax {w.t(format_sig(row.get(f"{scan}_suvmax"), 4))}'
                  f' · SUVpeak {w.t(format_sig(row.get(f"{scan}_suvpeak"), 4))}</figcaption></figure>')
        w.add('</div><div class="colourbar"><span>SUV 0</span>',
              _image(report.colour_bar_png, "PET colour scale", "bar"),
              f'<span>{w.t(format_sig(scale, 3))}</span><span class="small">· background: {w.t(snapshot.background)}'
              f' · plane z = {w.t(format_sig(centre[2], 4))} mm (LPS) · field '
              f'{w.t(format_sig(plane.get("field_mm"), 3))} mm</span></div></div>')
    w.add('</section>')


def _dosimetry(w: _Writer, report: CaseReport) -> None:
    assert report.dosimetry is not None
    part = report.dosimetry
    document = part.document
    privacy = report.privacy
    settings = document.get("settings", {})
    regions = document.get("regions", {})
    w.add('<section class="new-page"><h2>177Lu SPECT/CT dosimetry</h2>',
          f'<p>Administered activity <b>{w.t(format_sig(settings.get("administered_mbq"), 5))} MBq</b> '
          f'{w.t(settings.get("radiopharmaceutical", ""))}, injected '
          f'{w.t(privacy.moment(settings.get("injection_time")))}; {len(document.get("timepoints", []))} time points. '
          'Activities as measured (not decay corrected).</p>',
          '<h3>Time points</h3><table><thead><tr><th>#</th><th>Acquisition</th>'
          '<th>Time after injection<span class="unit">h</span></th><th>Series</th><th>Time from</th>'
          '<th>Input</th></tr></thead><tbody>')
    for index, point in enumerate(document.get("timepoints", [])):
        w.add(f'<tr><td>{index + 1}</td><td>{w.t(privacy.moment(point.get("acquisition_time")))}</td>'
              f'{_num_cell(format_sig(point.get("time_h"), 4))}<td class="small">{w.t(point.get("description", ""))}'
              f'</td><td class="small">{w.t(point.get("time_source", ""))}</td>'
              f'<td class="small">{w.t(point.get("input_units", ""))}, decay correction '
              f'{w.t(point.get("decay_correction_of_input", ""))}</td></tr>')
    w.add('</tbody></table><h3>Time-activity curves and fits</h3>',
          _image(part.overview_png, "Time-activity curves", "figure",
                 "TAC plot not drawn: matplotlib is not installed"),
          _image(part.panels_png, "Time-activity curve per VOI with its fit", "figure", " "))
    w.add('<h3>Time-integrated activity</h3><table><thead><tr><th>Region</th><th>Model</th>'
          '<th>TIA<span class="unit">MBq·h</span></th><th>u(TIA)<span class="unit">%</span></th>'
          '<th>TIAC<span class="unit">h</span></th><th>T<sub>eff</sub><span class="unit">h</span></th>'
          '<th>AICc</th><th>Akaike weight</th><th>Points</th><th>Flags</th></tr></thead><tbody>')
    fitted = [region.get("fit") for region in regions.values() if region.get("fit")]
    common = [text for text in (fitted[0].get("warnings", []) if fitted else [])
              if len(fitted) == len(regions) and all(text in fit.get("warnings", []) for fit in fitted)]
    for name, region in regions.items():
        fit = region.get("fit") or {}
        texts = [*fit.get("flags", []), *(text for text in fit.get("warnings", []) if text not in common)]
        notes = "; ".join(texts) if fit else "; ".join(region.get("flags", []))
        w.add(f'<tr data-region="{w.t(name)}"><td>{w.t(name)}</td><td>{w.t(fit.get("model", "no fit"))}</td>',
              _num_cell(format_sig(fit.get("tia_mbq_h"), 5)), _num_cell(format_percent(fit.get("tia_rel_uncertainty"))),
              _num_cell(format_sig(fit.get("tiac_h"), 4)), _num_cell(format_sig(fit.get("effective_half_life_h"), 4)),
              _num_cell(format_sig(fit.get("aicc"), 4)), _num_cell(format_sig(fit.get("akaike_weight"), 3)),
              _num_cell(str(fit.get("n_points", EMPTY))), f'<td class="flags">{w.t(notes)}</td></tr>')
    w.add('</tbody></table>')
    if common:
        w.add(f'<p class="small">All regions: {w.t("; ".join(common))}</p>')
    w.add('<h3>Absorbed dose</h3><table><thead><tr><th>Region</th><th>Role</th>'
          '<th>Mass<span class="unit">g</span></th><th>Mass from</th><th>Method</th>'
          '<th>Dose<span class="unit">Gy</span></th><th>Dose/activity<span class="unit">Gy/GBq</span></th>'
          '<th>u(D)<span class="unit">%</span></th><th>BED<span class="unit">Gy</span></th>'
          '<th>Flags</th></tr></thead><tbody>')
    for name, region in regions.items():
        dose = region.get("dose") or {}
        primary = dose.get("primary") or {}
        mass = region.get("mass") or {}
        bed = dose.get("bed") or {}
        flags = "; ".join(region.get("flags", []))
        method = DOSE_METHOD_TITLES.get(dose.get("method_key", ""), dose.get("method_key", EMPTY))
        w.add(f'<tr data-region="{w.t(name)}"><td>{w.t(name)}</td>'
              f'<td>{w.t(ROLE_TITLES.get(region.get("role", ""), region.get("role", "")))}</td>',
              _num_cell(format_sig(mass.get("mass_g"), 4)), f'<td class="small">{w.t(mass.get("source", EMPTY))}</td>',
              f'<td>{w.t(method)}</td>', _num_cell(f'<b>{format_sig(primary.get("dose_gy"), 4)}</b>'),
              _num_cell(format_sig(primary.get("dose_gy_per_gbq"), 4)),
              _num_cell(format_percent(primary.get("dose_rel_uncertainty"))),
              _num_cell(format_sig(bed.get("bed_gy"), 4)),
              f'<td class="flags{" flag-on" if flags else ""}">{w.t(flags)}</td></tr>')
    w.add('</tbody></table><p class="small">u: relative standard uncertainty (1 SD) from the fit covariance, the '
          'calibration and the mass (GUM quadrature, EANM/Gear 2018). BED for kidneys only (linear-quadratic model, '
          'see Methods).</p>')
    voxel = document.get("voxel_dosimetry") or {}
    if voxel.get("performed"):
        w.add('<h3>Cross-check: local deposition and voxel dosimetry</h3><table><thead><tr><th>Region</th>'
              '<th>LED dose<span class="unit">Gy</span></th><th>Voxel mean<span class="unit">Gy</span></th>'
              '<th>D98<span class="unit">Gy</span></th><th>D50<span class="unit">Gy</span></th>'
              '<th>D2<span class="unit">Gy</span></th></tr></thead><tbody>')
        for name, region in regions.items():
            led = ((region.get("dose") or {}).get("led") or {})
            vox = region.get("voxel") or {}
            w.add(f'<tr data-region="{w.t(name)}"><td>{w.t(name)}</td>', _num_cell(format_sig(led.get("dose_gy"), 4)),
                  _num_cell(format_sig(vox.get("mean_gy"), 4)), _num_cell(format_sig(vox.get("d98_gy"), 4)),
                  _num_cell(format_sig(vox.get("d50_gy"), 4)), _num_cell(format_sig(vox.get("d2_gy"), 4)), '</tr>')
        w.add('</tbody></table>')
    else:
        w.add(f'<p class="missing">Voxel dosimetry not performed: {w.t(voxel.get("reason") or "not requested")}</p>')
    w.add('</section>')


def _warnings(w: _Writer, report: CaseReport) -> None:
    w.add('<section class="new-page"><h2>Warnings</h2>')
    groups = _all_warnings(report)
    if not groups:
        w.add('<div class="okbox">No warnings.</div>')
    for title, items in groups:
        w.add(f'<h3>{html.escape(title)}</h3><ul class="warnings">')
        w.add("".join(f"<li>{w.t(item)}</li>" for item in items))
        w.add('</ul>')
    w.add('</section>')


def _methods(w: _Writer, report: CaseReport) -> None:
    privacy = report.privacy
    w.add('<section class="new-page"><h2>Methods and provenance</h2>')
    if report.ratio is not None:
        document = report.ratio.document
        metric = METRIC_TITLES.get(document.get("metric", ""), "")
        ia = (document.get("suv_parameters") or {}).get("ia") or {}
        w.add('<h3>PET uptake and the decision</h3><ul class="warnings">',
              f'<li><b>SUV</b> ({w.t(ia.get("suv_quantity", "SUVbw"))}, {w.t(ia.get("suv_unit", "g/mL"))}): activity '
              'concentration × normaliser / injected activity decayed to the scan reference time, following the QIBA '
              'vendor-neutral rules (Units BQML/CNTS/GML/CM2ML, DecayCorrection START/ADMIN/NONE, '
              'RadiopharmaceuticalStartDateTime, SeriesTime not after AcquisitionTime, header half-life first). '
              'Every value used and its source is listed under Inputs.</li>',
              '<li><b>SUVmax</b>: highest PET voxel at least half inside the segment; <b>SUVmean</b>: partial-volume '
              'weighted mean; volumes from the segment&#39;s own grid. Each PET is measured in its own grid.</li>',
              f'<li><b>SUVpeak</b>: {w.t(document.get("suvpeak_method", ""))}.</li>',
              f'<li><b>Decision rule</b>: {w.t(document.get("rule", ""))}. Lesions are the segments named "Lesion N" '
              f'(5 expected); ratio per lesion = IA {html.escape(metric)} / IV {html.escape(metric)}. Organs at risk '
              'are flagged when IA &gt; IV.</li></ul>')
    if report.dosimetry is not None:
        document = report.dosimetry.document
        regions = document.get("regions", {})
        constants = document.get("constants", {})
        kinetics = sorted({(region.get("fit") or {}).get("method_description", "") for region in regions.values()}
                          - {""})
        methods: dict[str, str] = {}
        for region in regions.values():
            dose = region.get("dose") or {}
            for key in ("primary", "led", "bed"):
                item = dose.get(key) or {}
                if item.get("method"):
                    methods.setdefault(item["method"], item.get("source", ""))
        w.add('<h3>Kinetics</h3><ul class="warnings">', "".join(f"<li>{w.t(text)}</li>" for text in kinetics),
              '</ul><h3>Dose methods and data sources</h3><table><thead><tr><th>Method</th><th>Data source</th>'
              '</tr></thead><tbody>')
        for method, source in sorted(methods.items()):
            w.add(f'<tr><td>{w.t(method)}</td><td class="small">{w.t(source)}</td></tr>')
        voxel = document.get("voxel_dosimetry") or {}
        if voxel.get("performed"):
            w.add(f'<tr><td>{w.t(voxel.get("method", ""))}</td><td class="small">{w.t(voxel.get("kernel_source", ""))}'
                  '</td></tr>')
        w.add(f'<tr><td>177Lu constants: T1/2 {w.t(format_sig(constants.get("half_life_h"), 6))} h, LED '
              f'{w.t(format_sig(constants.get("led_gy_g_per_mbq_h"), 6))} Gy·g/(MBq·h)</td>'
              f'<td class="small">{w.t(constants.get("source", ""))}</td></tr></tbody></table>')
    w.add('<h3>Software</h3><table><thead><tr><th>Component</th><th>Version (this report)</th>'
          '<th>Version (computation)</th></tr></thead><tbody>')
    computed: dict[str, str] = {}
    for part in (report.ratio, report.dosimetry):
        if part is not None and part.provenance:
            computed.update(part.provenance.get("software") or {})
    for name in sorted(set(report.software) | set(computed)):
        w.add(f'<tr><td>{html.escape(name)}</td><td>{html.escape(str(report.software.get(name, EMPTY)))}</td>'
              f'<td>{html.escape(str(computed.get(name, EMPTY)))}</td></tr>')
    w.add('</tbody></table>')
    for title, part in (("ratio", report.ratio), ("dosimetry", report.dosimetry)):
        if part is None or not part.provenance:
            continue
        provenance = part.provenance
        w.add(f'<h3>Provenance of the {title} results (SHA-256)</h3><table><thead><tr><th>Input / output</th>'
              '<th>SHA-256</th><th>Path</th></tr></thead><tbody>')
        for name, described in sorted((provenance.get("inputs") or {}).items()):
            w.add(f'<tr><td>{w.t(name)}</td><td class="mono">{html.escape(str(described.get("sha256", EMPTY)))}</td>'
                  f'<td class="mono">{w.t(privacy.path(described.get("path")))}</td></tr>')
        for name, digest in sorted((provenance.get("outputs") or {}).items()):
            w.add(f'<tr><td>{w.t(name)} (result)</td><td class="mono">{html.escape(str(digest))}</td><td></td></tr>')
        w.add('</tbody></table>')
    w.add('</section>')


def _signature(w: _Writer, report: CaseReport) -> None:
    w.add('<section class="signature"><h2>Review and signature</h2>',
          '<p class="small">Ragaliv is research software: the decision and the doses in this report are proposals '
          'that a radiologist and a medical physicist review, correct if needed and sign.</p><ul class="warnings">')
    if report.ratio is not None:
        document = report.ratio.document
        w.add(f'<li>Proposed decision: <b>{w.t(document.get("decision", ""))}</b> '
              f'(rule: {w.t(document.get("rule", ""))})</li>')
    if report.dosimetry is not None:
        settings = report.dosimetry.document.get("settings", {})
        w.add(f'<li>Dosimetry of {w.t(format_sig(settings.get("administered_mbq"), 5))} MBq '
              f'{w.t(settings.get("radiopharmaceutical", ""))}: doses as tabulated above.</li>')
    count = sum(len(items) for _, items in _all_warnings(report))
    w.add(f'<li>{count} warning(s) listed in the Warnings section.</li></ul>')
    for role in ("Radiologist / nuclear medicine physician", "Medical physicist"):
        w.add(f'<div class="sign"><div class="sign-role">{role}</div><div class="sign-line">'
              '<span>Reviewed by ______________________________</span><span>Date ______________</span>'
              '<span>Signature ______________________________</span></div></div>')
    w.add('<p class="sign-comments">Comments: ______________________________________________________________'
          '__________________________</p></section>')


def render(report: CaseReport) -> str:
    """The whole report as HTML text."""
    w = _Writer(report.privacy)
    footer = _footer_label(report).replace("\\", "").replace('"', "")
    w.add('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
          '<meta name="viewport" content="width=device-width, initial-scale=1">',
          f'<title>RAGALIV case report · {w.t(report.privacy.patient_id())}</title>',
          '<style>', CSS.replace("%(footer)s", footer), '</style></head><body><div class="sheet">')
    _header(w, report)
    if report.ratio is not None:
        _decision(w, report)
    _first_page_summary(w, report)
    _inputs(w, report)
    if report.ratio is not None:
        _ratio_tables(w, report)
        _snapshots(w, report)
    if report.dosimetry is not None:
        _dosimetry(w, report)
    _warnings(w, report)
    _methods(w, report)
    _signature(w, report)
    w.add(f'<footer>Ragaliv {html.escape(__version__)} · research software · every number in this report is also '
          'in the result files listed under Provenance.</footer></div></body></html>\n')
    return w.text()
