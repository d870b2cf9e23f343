"""PDF reports: before/after photos, metric charts with their noise bands, and the treatment log.

Built with fpdf2 (pure Python, no system libraries). Charts are drawn as
vectors: each metric's change since baseline per session, with the shaded
95 % noise band, so a reader sees at once which changes are real. Photos are
embedded as PNG re-encoded from pixels, so the PDF carries no EXIF.

A de-identified report (any de-identification mode but ``none``) carries no
client name or id, no exact date (sessions are "month 0, 1, 2..." after the
baseline session; the file's creation time is rounded down to its month) and
no free text: no reactions, notes, batch numbers or expiry dates, and a
treatment, area or view typed by hand shows only as "other treatment",
"body area".
"""

from __future__ import annotations

import io
from datetime import date, datetime, timezone

import numpy as np
from fpdf import FPDF
from PIL import Image
from sqlalchemy.orm import Session as DbSession

from analysis import decode

from .gallery import GalleryPair, compose_pair, pair_labels
from .models import AREAS, TREATMENTS, VIEWS, Course
from .photostore import PhotoStore
from .progress import ProgressRow, course_progress
from .records import audit

CHARTED = {"redness_a_star": "Redness (a*)", "brightness_l_star": "Brightness (L*)",
           "texture_roughness": "Texture roughness (%)", "evenness_l_std": "Evenness (L* spread)"}


def _chart(pdf: FPDF, rows: list[ProgressRow], metric: str, title: str, x: float, y: float, w: float, h: float):
    """A small chart of one metric's change since baseline, with the noise band."""
    points = [(r.session, 0.0, 0.0) if r.status == "baseline" else (r.session, r.change[metric], r.noise[metric] or 0)
              for r in rows if r.status in ("baseline", "compared") and (r.status == "baseline"
                                                                         or r.change.get(metric) is not None)]
    pdf.set_font("Helvetica", size=8)
    pdf.text(x, y - 1, title)
    pdf.set_draw_color(160, 160, 160)
    pdf.rect(x, y, w, h)
    if len(points) < 2:
        pdf.text(x + 2, y + h / 2, "not enough sessions")
        return
    sessions = [p[0] for p in points]
    span = max(max(abs(c) + n for _, c, n in points), 1e-6) * 1.2
    px = lambda s: x + 4 + (w - 8) * (s - min(sessions)) / max(max(sessions) - min(sessions), 1)  # noqa: E731
    py = lambda v: y + h / 2 - (h / 2 - 3) * v / span  # noqa: E731
    band = [(px(s), py(c + n)) for s, c, n in points] + [(px(s), py(c - n)) for s, c, n in reversed(points)]
    pdf.set_fill_color(215, 225, 240)
    pdf.polygon(band, style="F")
    pdf.set_draw_color(200, 200, 200)
    pdf.line(x, py(0), x + w, py(0))
    pdf.set_draw_color(30, 70, 160)
    pdf.set_line_width(0.5)
    for (s0, c0, _), (s1, c1, _) in zip(points, points[1:]):
        pdf.line(px(s0), py(c0), px(s1), py(c1))
    pdf.set_line_width(0.2)
    for s, c, _ in points:
        pdf.text(px(s) - 1, y + h + 3, str(s))
    pdf.text(x + w - 22, y + 4, f"{points[-1][1]:+.2f} +-{points[-1][2]:.2f}")


def _image(pdf: FPDF, rgb: np.ndarray, width_mm: float) -> None:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    pdf.image(buf, w=width_mm)


def month_after(day: date, baseline: date) -> int:
    """Whole months (of 30.44 days, rounded) from the baseline session to ``day``."""
    return round((day - baseline).days / 30.44)


def _areas(areas: list[str], deidentified: bool) -> str:
    return ", ".join(a if not deidentified or a in AREAS else "body area" for a in areas)


def _treatment_log(pdf: FPDF, course: Course, deidentified: bool) -> None:
    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(0, 7, "Treatment log", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=8)
    baseline = course.sessions[0].held_on
    for session in course.sessions:
        if deidentified:
            when = f"month {month_after(session.held_on, baseline)}"
            products = "; ".join(f"{p.product} ({p.volume_ml or '-'} ml)" for p in session.products)
        else:
            when = str(session.held_on)
            products = "; ".join(f"{p.product} (batch {p.batch}, exp. {p.expiry or '-'}, {p.volume_ml or '-'} ml)"
                                 for p in session.products)
        line = (f"Session {session.number}, {when}: {session.technique}, {_areas(session.areas, deidentified)}"
                f" - {products or 'no products recorded'}")
        if session.immediate_reactions and not deidentified:
            line += f". Reactions: {session.immediate_reactions}"
        pdf.multi_cell(0, 4.5, line, new_x="LMARGIN", new_y="NEXT")


def _heading(pair: GalleryPair, course: Course, deidentified: bool) -> str:
    if not deidentified:
        return (f"{course.client.name} - {course.treatment}, {', '.join(course.areas)}, view {pair.view}; "
                f"report of {date.today().isoformat()}")
    treatment = course.treatment if course.treatment in TREATMENTS else "other treatment"
    view = pair.view if pair.view in VIEWS else "body area"
    return f"{treatment.capitalize()}, {_areas(course.areas, True)}, view {view}"


def _picture(store: PhotoStore, pair: GalleryPair, course: Course, mode: str, mark: str) -> np.ndarray:
    labels = pair_labels(pair)
    if mode != "none":
        baseline = course.sessions[0].held_on
        labels = tuple(f"Session {p.session.number}, month {month_after(p.session.held_on, baseline)}"
                       for p in (pair.before, pair.after))
    before, after = (decode(store.get(p.sha256)).rgb for p in (pair.before, pair.after))
    return compose_pair(before, after, labels, mode, mark)


def report_pdf(s: DbSession, store: PhotoStore, actor: str, pairs: list[GalleryPair], mode: str = "none",
               mark: str = "", title: str = "Before and after") -> bytes:
    """A PDF with, for each pair: the photos, the course's charts and its treatment log (de-identified
    unless ``mode`` is ``none``: see the module docstring)."""
    deidentified = mode != "none"
    pdf = FPDF(format="A4")
    if deidentified:
        pdf.set_creation_date(datetime.now(timezone.utc).replace(day=1, hour=0, minute=0, second=0, microsecond=0))
    pdf.set_auto_page_break(True, margin=15)
    for pair in pairs:
        course = s.get(Course, pair.course_id)
        rows = [r for r in course_progress(s, course) if r.view == pair.view]
        pdf.add_page()
        pdf.set_font("Helvetica", "B", 14)
        pdf.cell(0, 9, title, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=9)
        pdf.cell(0, 5, _heading(pair, course, deidentified), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
        _image(pdf, _picture(store, pair, course, mode, mark), 180)
        pdf.ln(8)
        top = pdf.get_y()
        for i, (metric, label) in enumerate(CHARTED.items()):
            _chart(pdf, rows, metric, label, 15 + (i % 2) * 92, top + (i // 2) * 42, 85, 30)
        pdf.set_y(top + 2 * 42 + 2)
        pdf.set_font("Helvetica", "I", 7)
        pdf.multi_cell(0, 4, "Change since the baseline session; the shaded band is the 95 % measurement "
                             "noise: changes inside it may not be real.", new_x="LMARGIN", new_y="NEXT")
        _treatment_log(pdf, course, deidentified)
        audit(s, actor, "export", "report", course.id, course.client_id, view=pair.view)
    return bytes(pdf.output())
