"""What the session and progress pages show for an area's course: the expected views as a checklist, the
printed marker's size, and the clinician's Hexsel cellulite score (a form for staff, a table for everyone)."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from app_pages.ui import clear_later, flash, plain, reason_input
from tracker import photos, progress, records, templates
from tracker.errors import RecordError
from tracker.models import HEXSEL_ITEMS

HEXSEL_HELP = ("Hexsel Cellulite Severity Scale (Hexsel, Dal'Forno, Hexsel, JEADV 2009): score each item 0 to 3 "
               "from the standard photos of the thighs and buttocks, relaxed, lit from above. Total 1-5 mild, "
               "6-10 moderate, 11-15 severe.")


def checklist(course, captured: set[str]) -> None:
    """The course's expected views for this session, each ticked when captured, with what it needs."""
    items = templates.checklist(course, captured)
    if not items:
        return
    done = sum(i.captured for i in items)
    with st.container(border=True):
        st.markdown(f"**Views to take at each session** ({done} of {len(items)} taken in this session)")
        for template in dict.fromkeys(i.template for i in items):
            st.caption(f"{template.label}: {template.needs}.")
            for item in (i for i in items if i.template == template):
                icon = ":material/check_box:" if item.captured else ":material/check_box_outline_blank:"
                st.markdown(f"{icon} **{item.view.label}**: {item.view.needs}"
                            + (" (taken)" if item.captured else ""))


def marker_form(db, who, course_id: int, marker_mm: float | None, correct) -> None:
    """The size of the printed scale marker used in the course's hair-loss and cellulite photos."""
    size = photos.marker_size_text(marker_mm)
    with st.expander(f"Scale marker: {size}"):
        st.caption("Hair-loss and cellulite measures are in millimetres of skin when a printed ArUco marker "
                   "(DICT_4X4_50) is in the baseline photo; without one the scale is nominal and every result "
                   "says so.")
        with st.form(f"marker_{course_id}"):
            value = st.number_input("Marker side (mm)", min_value=photos.MIN_MARKER_MM,
                                    max_value=photos.MAX_MARKER_MM, value=marker_mm or photos.DEFAULT_MARKER_MM,
                                    step=0.5, key=f"marker_mm_{course_id}")
            why = reason_input("Reason (kept in the record's history)", f"marker_why_{course_id}")
            if st.form_submit_button("Save the marker size"):
                correct(lambda s: photos.set_marker_size(s, who, course_id, float(value), why),
                        f"Scale marker set to {value:g} mm; the course's photos were re-analysed.",
                        f"marker_why_{course_id}")


def _score_label(item: str):
    return lambda v: f"{v}: {HEXSEL_ITEMS[item].scores[v]}"


def hexsel_form(db, who, session_id: int, number: int, current: dict | None) -> None:
    """Record the session's Hexsel score, or correct it with a reason (the previous score is kept)."""
    st.markdown(f"**Hexsel cellulite severity, session {number}**", help=HEXSEL_HELP)
    with st.form(f"hexsel_{session_id}"):
        scores = {item: st.selectbox(label, range(4), index=(current or {}).get(item, 0),
                                     format_func=_score_label(item), key=f"hexsel_{item}_{session_id}")
                  for item, (label, _, _) in HEXSEL_ITEMS.items()}
        why = reason_input("Reason for the correction", f"hexsel_why_{session_id}") if current else None
        if st.form_submit_button("Correct the score" if current else "Record the score", type="primary"):
            try:
                with db.session() as s:
                    if current:
                        records.amend_hexsel(s, who, session_id, why, **scores)
                    else:
                        records.record_hexsel(s, who, session_id, **scores)
                    s.commit()
                flash(f"Hexsel score {sum(scores.values())}/15 {'corrected' if current else 'recorded'} for "
                      f"session {number}.")
                clear_later(f"hexsel_why_{session_id}")
                st.rerun()
            except RecordError as exc:
                st.error(plain(exc.message))
    if current:
        st.caption(f"Recorded: {sum(current.values())}/15. A correction keeps the previous score in the "
                   "record's history.")


def hexsel_table(scores: list[progress.ClinicianScore]) -> None:
    """The course's Hexsel scores by session, as the clinician scored them (no noise verdict: not measured)."""
    table = pd.DataFrame([[*(x.items[k] for k in HEXSEL_ITEMS), f"{x.total} ({x.severity})"] for x in scores],
                         index=[f"Session {x.session}, {x.held_on}" for x in scores],
                         columns=[item.short for item in HEXSEL_ITEMS.values()] + ["Total of 15"])
    left, right = st.columns([3, 2])
    left.dataframe(table, width="stretch", height=38 + 35 * len(table))
    points = pd.DataFrame([{"date": x.held_on, "total": x.total, "severity": x.severity} for x in scores])
    right.altair_chart(alt.Chart(points).mark_line(point=True, color="#1f4e9c").encode(
        x=alt.X("date:T", title="session date", axis=alt.Axis(format="%d %b %Y", labelAngle=0, values=[
            alt.DateTime(year=x.held_on.year, month=x.held_on.month, date=x.held_on.day) for x in scores])),
        y=alt.Y("total:Q", title=progress.HEXSEL.unit, scale=alt.Scale(domain=[0, 15])),
        tooltip=[alt.Tooltip("date:T", format="%d %b %Y"), "total:Q", "severity:N"],
    ).properties(title=f"{progress.HEXSEL.label} ({progress.HEXSEL.unit})", height=260), width="stretch")
