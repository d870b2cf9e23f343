"""PDF reports: before/after photos, metric charts with their noise bands, and the treatment log.

Built with fpdf2, in DejaVu Sans (:mod:`tracker.pdftext`). Charts are drawn as
vectors: each metric's change since baseline by session date, in the
metric's unit, over the shaded zone around zero where a change is within its
95 % noise bound, so a reader sees at once which changes are real. Only what
:mod:`tracker.progress` allows is drawn: a session that is not comparable
with the baseline has no point, and the chart's note says why. Photos are the
gallery's cached JPEGs (about 180 dpi at print size), re-encoded from pixels,
so the PDF carries no EXIF.

A de-identified report (any de-identification mode but ``none``) carries no
client name or id, no exact date (sessions are "month 0, 1, 2..." after the
baseline session, in the captions, the charts and the log; the file's
creation time is rounded down to its month) and no free text: no reactions,
notes, batch numbers or expiry dates, and a treatment, area or view typed by
hand shows only as "other treatment", "body area".
"""

from __future__ import annotations

import io
from datetime import date, datetime, timezone

from fpdf import FPDF
from sqlalchemy.orm import Session as DbSession

from .gallery import GalleryPair, check_offered, month_after, pair_jpegs
from .models import AREAS, HEXSEL_ITEMS, TREATMENTS, Course
from .pdftext import SANS, new_pdf, printable
from .photostore import PhotoStore
from .progress import BEYOND, HEXSEL, SUMMARY, ClinicianScore, Series, course_progress, hexsel_scores, series
from .access import check
from .calibration import detection_limits, summary
from .records import Actor, audit, get_course
from .templates import VIEWS, view_label


#: Lines a chart's note may take: more would run into the next row of charts.
NOTE_LINES = 3


def _fitted(pdf: FPDF, text: str, width: float, lines: int) -> str:
    """``text`` cut at a word, with "...", so that it takes at most ``lines`` lines ``width`` mm wide."""
    words = text.split()
    while len(pdf.multi_cell(width, 3, " ".join(words), dry_run=True, output="LINES")) > lines and len(words) > 1:
        words = words[:-1]
        if not words[-1].endswith("..."):
            words[-1] += "..."
    return " ".join(words)


def _chart(pdf: FPDF, chart: Series, x: float, y: float, w: float, h: float, deidentified: bool) -> None:
    """One metric's change since baseline by date (by month when de-identified), over the zone around zero
    that is within noise."""
    m = chart.metric
    pdf.set_font(SANS, "B", 8)
    pdf.text(x, y - 1.5, f"{m.label} ({m.unit})")
    pdf.set_draw_color(160, 160, 160)
    pdf.set_line_width(0.2)
    pdf.rect(x, y, w, h)
    note = chart.note(plain=True)  # a report is for the client or for marketing: plain reasons, never codes
    pdf.set_font(SANS, size=6.5)
    if note:
        pdf.set_xy(x, y + h + 4)
        pdf.multi_cell(w, 3, _fitted(pdf, printable(note[0].upper() + note[1:]), w, NOTE_LINES))
    if not chart.points or chart.start is None:
        return
    days = [(d - chart.start).days for d, _ in chart.points]
    span = max(max(abs(c.change) + c.bound for _, c in chart.points), 1e-6) * 1.15
    left, right = x + 10, x + w - 4
    px = lambda day: left + (right - left) * day / max(max(days), 1)  # noqa: E731
    py = lambda v: y + h / 2 - (h / 2 - 2) * v / span  # noqa: E731
    pdf.set_fill_color(222, 226, 232)
    for day, (_, c) in zip(days, chart.points):  # the zone within noise, around zero, at each session
        pdf.rect(px(day) - 2, py(c.bound), 4, py(-c.bound) - py(c.bound), style="F")
    pdf.set_draw_color(120, 120, 120)
    pdf.line(left - 2, py(0), right + 2, py(0))
    pdf.set_draw_color(30, 70, 160)
    pdf.set_line_width(0.5)
    line = [(0, 0.0)] + [(day, c.change) for day, (_, c) in zip(days, chart.points)]
    for (d0, c0), (d1, c1) in zip(line, line[1:]):
        pdf.line(px(d0), py(c0), px(d1), py(c1))
    pdf.set_line_width(0.2)
    pdf.set_fill_color(30, 70, 160)
    for day, (_, c) in zip(days, chart.points):  # filled: beyond noise; open: within
        pdf.circle(px(day), py(c.change), 0.9, style="DF" if c.verdict == BEYOND else "D")
    pdf.set_text_color(80, 80, 80)
    for v in (span / 1.15, 0.0, -span / 1.15):  # y axis: the change in the metric's unit
        pdf.text(x + 0.8, py(v) + 1, f"{v:+.2f}" if v else "0")
    for day, (when, _) in [(0, (chart.start, None))] + list(zip(days, chart.points)):  # x axis: session dates
        label = f"month {month_after(when, chart.start)}" if deidentified else when.strftime("%d %b %y")
        pdf.text(px(day) - 5, y + h + 2.8, label)
    pdf.set_text_color(0, 0, 0)
    last = chart.points[-1][1]
    pdf.text(x + w - 30, y + 4, printable(f"latest {last.cell()}"))


def _image(pdf: FPDF, jpeg: bytes, width_mm: float) -> None:
    pdf.image(io.BytesIO(jpeg), w=width_mm)


def _areas(areas: list[str], deidentified: bool) -> str:
    return ", ".join(a if not deidentified or a in AREAS else "body area" for a in areas)


def _deidentified_products(products) -> str:
    """How much was used, without the product names: they are free text and may name or describe the client."""
    if not products:
        return ""
    volume = sum(p.volume_ml or 0 for p in products)
    return f"{len(products)} product{'s' * (len(products) > 1)}" + (f", {volume:g} ml in all" if volume else "")


def _limits(pdf: FPDF, limits) -> None:
    """Where the charts are read: what size of change this clinic's photos can tell from noise (plain words)."""
    said = summary(limits, plain=True)
    if said:
        pdf.multi_cell(0, 4, printable(said), new_x="LMARGIN", new_y="NEXT")


def _treatment_log(pdf: FPDF, course: Course, deidentified: bool) -> None:
    pdf.set_font(SANS, "B", 10)
    pdf.cell(0, 7, "Treatment log", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(SANS, size=8)
    baseline = course.sessions[0].held_on
    for session in course.sessions:
        if deidentified:
            when = f"month {month_after(session.held_on, baseline)}"
            products = _deidentified_products(session.products)
        else:
            when = str(session.held_on)
            products = "; ".join(f"{p.product} (batch {p.batch}, exp. {p.expiry or '-'}, {p.volume_ml or '-'} ml)"
                                 for p in session.products)
        line = (f"Session {session.number}, {when}: {session.technique}, {_areas(session.areas, deidentified)}"
                f" - {products or 'no products recorded'}")
        if session.immediate_reactions and not deidentified:
            line += f". Reactions: {session.immediate_reactions}"
        pdf.multi_cell(0, 4.5, printable(line), new_x="LMARGIN", new_y="NEXT")


def _scores(pdf: FPDF, scores: list[ClinicianScore], deidentified: bool) -> None:
    """The clinician's Hexsel scores by session, as scored (a record, not a measurement: no noise verdict)."""
    pdf.set_font(SANS, "B", 10)
    pdf.cell(0, 7, printable(f"{HEXSEL.label} (clinician's score, {HEXSEL.unit})"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(SANS, size=8)
    start = scores[0].held_on
    for x in scores:
        when = f"month {month_after(x.held_on, start)}" if deidentified else str(x.held_on)
        items = ", ".join(f"{item.short} {x.items[k]}" for k, item in HEXSEL_ITEMS.items())
        pdf.multi_cell(0, 4.5, printable(f"Session {x.session}, {when}: {x.total}/15 ({x.severity}) - {items}"),
                       new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)


def _heading(pair: GalleryPair, course: Course, deidentified: bool) -> str:
    if not deidentified:
        return (f"{course.client.name} - {course.treatment}, {', '.join(course.areas)}, "
                f"view {view_label(pair.view)}; "
                f"report of {date.today().isoformat()}")
    treatment = course.treatment if course.treatment in TREATMENTS else "other treatment"
    view = view_label(pair.view) if pair.view in VIEWS else "body area"
    return f"{treatment.capitalize()}, {_areas(course.areas, True)}, view {view}"


def report_pdf(s: DbSession, store: PhotoStore, actor: Actor, pairs: list[GalleryPair], mode: str = "none",
               mark: str = "", title: str = "Before and after") -> bytes:
    """A PDF with, for each pair: the photos, the course's charts and its treatment log (de-identified
    unless ``mode`` is ``none``: see the module docstring). A pair of a client ``actor`` may not see is
    "not found" (per clinic: the pairs come from :func:`tracker.gallery.eligible_pairs`)."""
    check(s, actor, "report")
    courses = {pair.course_id: get_course(s, actor, pair.course_id, "report") for pair in pairs}
    check_offered(s, actor, pairs)
    deidentified = mode != "none"
    pdf = new_pdf(format="A4")
    if deidentified:
        pdf.set_creation_date(datetime.now(timezone.utc).replace(day=1, hour=0, minute=0, second=0, microsecond=0))
    pdf.set_auto_page_break(True, margin=15)
    for pair, image in zip(pairs, pair_jpegs(store, pairs, mode, mark)):
        course = courses[pair.course_id]
        rows = [r for r in course_progress(s, actor, course) if r.view == pair.view]
        pdf.add_page()
        pdf.set_font(SANS, "B", 14)
        pdf.cell(0, 9, printable(title), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(SANS, size=9)
        pdf.cell(0, 5, printable(_heading(pair, course, deidentified)), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
        _image(pdf, image, 180)
        pdf.ln(8)
        top = pdf.get_y()
        shown = rows[0].summary if rows else SUMMARY
        for i, metric in enumerate(shown):
            _chart(pdf, series(rows, metric.name), 15 + (i % 2) * 92, top + (i // 2) * 46, 85, 28, deidentified)
        pdf.set_y(top + (len(shown) + 1) // 2 * 46 + 2)
        pdf.set_font(SANS, "I", 7)
        pdf.multi_cell(0, 4, "Change since the baseline session, by session date, in each measure's unit. The "
                             "grey zone around zero is the 95 % measurement noise: a change inside it may not be "
                             "real; * marks a change beyond it. A session not comparable with the baseline is not "
                             "drawn.", new_x="LMARGIN", new_y="NEXT")
        scale = next((r.scale_note() for r in rows if r.scale_note()), None)
        if scale:
            pdf.multi_cell(0, 4, printable(scale[0].upper() + scale[1:] + "."), new_x="LMARGIN", new_y="NEXT")
        scores = hexsel_scores(course)
        if scores:
            _scores(pdf, scores, deidentified)
        if not rows or rows[0].area is None:  # a face: the size of change this clinic can see
            _limits(pdf, detection_limits(s, actor, course.client, [m.name for m in shown]))
        _treatment_log(pdf, course, deidentified)
        audit(s, actor, "export", "report", course.id, course.client_id, view=pair.view)
    return bytes(pdf.output())
