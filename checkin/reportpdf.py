"""The event report as a PDF (fpdf2): heading, counts, zones, the 15-minute chart per gate, the alerts
with their notes and every gate's integrity, page numbers in the footer; Vietnamese or English.

Draws an `EventReport` (checkin.services.report) and nothing else; `checkin.pdfsign` signs the bytes.
The chart is drawn with fpdf2's own rectangles and lines, so every renderer draws it the same.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fpdf import FPDF
from fpdf.fonts import FontFace

from checkin import i18n, qr
from checkin.core.errors import N_, Reason
from checkin.services.findings import AlertState, Severity
from checkin.services.report import EventReport, GateIntegrity, GateSeries

_W, _H, _MARGIN = 210.0, 297.0, 15.0
_WIDTH = _W - 2 * _MARGIN
_ENTRY, _EXIT, _DENIAL = (0, 120, 70), (0, 82, 155), (170, 20, 30)
_GREY = (110, 110, 110)
_HEADINGS = FontFace(emphasis="BOLD", fill_color=(232, 232, 232))
_Translate = Callable[..., str]  # a msgid and its parameters in, the text in the report's language out

_COUNTS = (
    ("guests", N_("Guests")),
    ("codes_issued", N_("Codes issued")),
    ("codes_revoked", N_("Codes revoked")),
    ("entered", N_("People entered so far")),
    ("inside", N_("Inside now")),
    ("entries", N_("Entries")),
    ("exits", N_("Exits")),
    ("denials", N_("Denials")),
    ("referrals", N_("Referred to staff")),
)
_SEVERITIES = {
    Severity.CRITICAL: N_("critical"),
    Severity.HIGH: N_("high"),
    Severity.MEDIUM: N_("medium"),
    Severity.LOW: N_("low"),
}
_STATES = {
    AlertState.OPEN: N_("open"),
    AlertState.ACKNOWLEDGED: N_("acknowledged"),
    AlertState.RESOLVED: N_("resolved"),
}
_DIRECTIONS = {"in": N_("in"), "out": N_("out")}


class _Report(FPDF):
    def __init__(self, lang: str, event_id: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.lang = lang
        self.event_id = event_id

    def footer(self) -> None:
        self.set_y(-11)
        self.set_font("DejaVu", "", 7.5)
        self.set_text_color(*_GREY)
        page = i18n.gettext(self.lang, N_("Page %(page)s of %(pages)s"), page=self.page_no(), pages="{nb}")
        self.cell(_WIDTH / 2, 5, f"{self.event_id}", align="L")
        self.cell(_WIDTH / 2, 5, page, align="R")
        self.set_text_color(0, 0, 0)


def render(report: EventReport, lang: str = i18n.DEFAULT) -> bytes:
    """The report as PDF bytes in `lang` ("vi" or "en"), unsigned."""
    i18n.translation(lang)  # refuse an unknown language before drawing anything

    def t(msgid: str, **params: object) -> str:
        return i18n.gettext(lang, msgid, **params)

    pdf = _Report(lang, report.event.id)
    qr.add_fonts(pdf)
    pdf.set_margins(_MARGIN, _MARGIN, _MARGIN)
    pdf.set_auto_page_break(True, margin=16)
    pdf.set_title(f"{t(N_('Event report'))}: {report.event.name}")
    pdf.set_creator("checkin")
    pdf.set_lang(lang)
    pdf.set_creation_date(report.generated_at)
    pdf.add_page()

    ev = report.event
    pdf.set_font("DejaVu", "B", 18)
    pdf.cell(_WIDTH, 9, t(N_("Event report")), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "B", 13)
    pdf.multi_cell(_WIDTH, 6.5, ev.name, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)
    pdf.set_font("DejaVu", "", 9.5)
    facts = [
        (t(N_("Event")), ev.id),
        (t(N_("Venue")), ev.venue or "—"),
        (t(N_("Time")), f"{_when(ev.start, lang)} – {_when(ev.end, lang)} ({ev.timezone})"),
        (t(N_("Generated at")), f"{_when(report.generated_at, lang, seconds=True)} ({ev.timezone})"),
    ]
    for label, value in facts:
        pdf.set_font("DejaVu", "B", 9.5)
        pdf.cell(32, 5.5, label)
        pdf.set_font("DejaVu", "", 9.5)
        pdf.multi_cell(_WIDTH - 32, 5.5, value, new_x="LMARGIN", new_y="NEXT")

    _heading(pdf, t(N_("Counts")))
    with pdf.table(
        width=110, align="LEFT", col_widths=(80, 30), text_align=("LEFT", "RIGHT"), first_row_as_headings=False
    ) as table:
        for field, label in _COUNTS:
            row = table.row()
            row.cell(t(label))
            row.cell(_number(getattr(report.counts, field), lang))

    _heading(pdf, t(N_("By zone")))
    with pdf.table(
        width=140,
        align="LEFT",
        col_widths=(80, 30, 30),
        text_align=("LEFT", "RIGHT", "RIGHT"),
        headings_style=_HEADINGS,
    ) as table:
        table.row([t(N_("Zone")), t(N_("Entered so far")), t(N_("Inside now"))])
        for zone in report.zones:
            table.row([zone.name(lang), _number(zone.entered, lang), _number(zone.inside, lang)])

    _chart(pdf, report, t)
    _alerts(pdf, report, lang, t)
    _gates(pdf, report, lang, t)
    return bytes(pdf.output())


def _heading(pdf: FPDF, text: str) -> None:
    if pdf.get_y() > _H - 50:
        pdf.add_page()
    pdf.ln(4)
    pdf.set_font("DejaVu", "B", 12)
    pdf.cell(_WIDTH, 7, text, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 8.5)


def _when(moment: datetime, lang: str, *, seconds: bool = False) -> str:
    """A local time as people write it: 26/03/2022 09:00 in Vietnamese, 2022-03-26 09:00 in English."""
    date = "%d/%m/%Y" if lang == "vi" else "%Y-%m-%d"
    return moment.strftime(f"{date} %H:%M{':%S' if seconds else ''}")


def _number(value: int, lang: str) -> str:
    """12.345 in Vietnamese, 12,345 in English."""
    text = f"{value:,}"
    return text.replace(",", ".") if lang == "vi" else text


# ---- the chart ------------------------------------------------------------------------------------

_STRIP = 30.0  # mm per gate: name, bars, time axis
_PLOT = 19.0


def _chart(pdf: _Report, report: EventReport, t: _Translate) -> None:
    chart = report.chart
    _heading(pdf, t(N_("Entries, exits and denials per 15 minutes, by gate")))
    if not chart.starts:
        pdf.cell(_WIDTH, 6, t(N_("No scans were uploaded yet.")), new_x="LMARGIN", new_y="NEXT")
        return
    x = pdf.l_margin
    for colour, label in ((_ENTRY, N_("entries")), (_EXIT, N_("exits")), (_DENIAL, N_("denials"))):
        pdf.set_fill_color(*colour)
        pdf.rect(x, pdf.get_y() + 1.2, 3, 3, style="F")
        pdf.set_x(x + 4)
        pdf.cell(pdf.get_string_width(t(label)) + 6, 5.5, t(label))
        x = pdf.get_x()
    pdf.ln(6)
    peak = max((max(s.entries, s.exits, s.denials) for g in chart.gates for s in g.slots), default=0) or 1
    for gate in chart.gates:
        if pdf.get_y() + _STRIP > pdf.page_break_trigger:
            pdf.add_page()
        _strip(pdf, report, gate, peak, t)


def _strip(pdf: _Report, report: EventReport, gate: GateSeries, peak: int, t: _Translate) -> None:
    chart = report.chart
    left, top = pdf.l_margin + 10, pdf.get_y()
    width = _WIDTH - 10
    pdf.set_font("DejaVu", "B", 8.5)
    totals = t(
        N_("%(entries)s entries, %(exits)s exits, %(denials)s denials"),
        entries=_number(sum(s.entries for s in gate.slots), pdf.lang),
        exits=_number(sum(s.exits for s in gate.slots), pdf.lang),
        denials=_number(sum(s.denials for s in gate.slots), pdf.lang),
    )
    pdf.cell(_WIDTH, 4.5, f"{gate.name} · {totals}", new_x="LMARGIN", new_y="NEXT")
    base = top + 5 + _PLOT
    slot_w = width / len(chart.starts)
    bar = slot_w * 0.8 / 3
    for i, counts in enumerate(gate.slots):
        for j, (value, colour) in enumerate(
            ((counts.entries, _ENTRY), (counts.exits, _EXIT), (counts.denials, _DENIAL))
        ):
            if value:
                height = max(_PLOT * value / peak, 0.3)
                pdf.set_fill_color(*colour)
                pdf.rect(left + i * slot_w + slot_w * 0.1 + j * bar, base - height, bar, height, style="F")
    pdf.set_draw_color(*_GREY)
    pdf.set_line_width(0.2)
    pdf.line(left, base, left + width, base)
    pdf.line(left, base, left, base - _PLOT)
    pdf.set_font("DejaVu", "", 6.5)
    pdf.set_text_color(*_GREY)
    pdf.set_xy(pdf.l_margin, base - _PLOT - 1)
    pdf.cell(9, 3, str(peak), align="R")
    pdf.set_xy(pdf.l_margin, base - 2)
    pdf.cell(9, 3, "0", align="R")
    every = next((n for n in (1, 2, 4, 8, 12, 16, 24, 48) if n * slot_w >= 12), 96)  # labels 12 mm apart at least
    for i, start in enumerate(chart.starts):
        if i % every == 0:
            pdf.line(left + i * slot_w, base, left + i * slot_w, base + 1)
            pdf.set_xy(left + i * slot_w - 6, base + 1)
            pdf.cell(12, 3, start.strftime("%H:%M"), align="C")
    pdf.set_text_color(0, 0, 0)
    pdf.set_fill_color(255, 255, 255)  # tables after the chart fill nothing
    pdf.set_xy(pdf.l_margin, top + _STRIP)


# ---- the alerts and the gates ---------------------------------------------------------------------


def _reason_text(kind: str, lang: str) -> str:
    """An alert kind in words: the reason's message when it is one, else the code as it is."""
    try:
        return i18n.message(Reason(kind), lang)
    except ValueError:
        return kind


def _alerts(pdf: FPDF, report: EventReport, lang: str, t: _Translate) -> None:
    _heading(pdf, t(N_("Alerts (%(count)s)"), count=len(report.alerts)))
    if not report.alerts:
        pdf.cell(_WIDTH, 6, t(N_("No alerts.")), new_x="LMARGIN", new_y="NEXT")
        return
    with pdf.table(
        col_widths=(24, 28, 52, 18, 22, 36),
        text_align="LEFT",
        headings_style=_HEADINGS,
        line_height=4.2,
        padding=1,
    ) as table:
        table.row([t(N_("Time")), t(N_("Gate")), t(N_("Alert")), t(N_("Severity")), t(N_("State")), t(N_("Note"))])
        for alert in report.alerts:
            where = f"{alert.gate} #{alert.seq}" if alert.seq is not None else alert.gate
            what = _reason_text(alert.kind, lang) + (f"\n{alert.detail}" if alert.detail else "")
            table.row(
                [
                    _when(alert.created, lang),
                    where or "—",
                    what,
                    t(_SEVERITIES[alert.severity]),
                    t(_STATES[alert.state]),
                    alert.note or "—",
                ]
            )


def _verdict(gate: GateIntegrity, lang: str, t: _Translate) -> str:
    if gate.intact:
        return t(N_("intact"))
    lines = [_reason_text(kind, lang) for kind in gate.faults]
    if gate.seals_checked < gate.rows_held:
        checked, held = _number(gate.seals_checked, lang), _number(gate.rows_held, lang)
        lines.append(t(N_("seals checked to row %(seq)s of %(rows)s"), seq=checked, rows=held))
    return "\n".join(lines)


def _gates(pdf: FPDF, report: EventReport, lang: str, t: _Translate) -> None:
    _heading(pdf, t(N_("Integrity of every gate's records")))
    if not report.gates:
        pdf.cell(_WIDTH, 6, t(N_("No gates.")), new_x="LMARGIN", new_y="NEXT")
        return
    with pdf.table(
        col_widths=(32, 20, 12, 17, 23, 22, 54),
        text_align=("LEFT", "LEFT", "LEFT", "RIGHT", "RIGHT", "LEFT", "LEFT"),
        headings_style=_HEADINGS,
        line_height=4.2,
        padding=1,
    ) as table:
        table.row(
            [
                t(N_("Gate")),
                t(N_("Zone")),
                t(N_("Way")),
                t(N_("Rows held")),
                t(N_("Checkpoints")),
                t(N_("Last seen")),
                t(N_("Result")),
            ]
        )
        zones = {z.code: z.name(lang) for z in report.zones}
        for gate in report.gates:
            way = _DIRECTIONS.get(gate.direction)
            table.row(
                [
                    gate.name,
                    zones.get(gate.zone, gate.zone),
                    t(way) if way else gate.direction,
                    _number(gate.rows_held, lang),
                    _number(gate.checkpoints, lang),
                    _when(gate.last_seen, lang) if gate.last_seen else "—",
                    _verdict(gate, lang, t),
                ]
            )
