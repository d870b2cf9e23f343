"""Progress: a plain summary, the aligned before/after, charts by date over the noise zone, and regions.

Every figure comes from :mod:`tracker.progress`, which decides what may be
shown: a pair that is not comparable shows why, never a number. A client
sees plain-language reasons; staff see the engine's.
"""

import altair as alt
import pandas as pd
import streamlit as st

from analysis.visual import aligned_by_matrix, aligned_pair, heat_overlay
from app_pages.areas import hexsel_table
from app_pages.common import choose, client_in_view, database, face_model, first_view, photo_pixels, viewer
from app_pages.queue import refresh_button, status_text, waiting
from app_pages.wipe import wipe_html
from app_pages.ui import flash, show_flash
from app_pages.ui import plain as as_text  # `plain` here says whether the viewer is a client
from tracker import calibration, photos, progress, records, templates
from tracker.errors import RecordError
from tracker.models import VIEWS
from tracker.progress import BEYOND, REGION_LABELS

IMAGE_HEIGHT = 560  # px: the wipe fits a laptop screen
SIDE_HEIGHT = 460  # px: the photos side by side fit below the summary

client_id = client_in_view()
db = database()
face_model()
plain = not viewer().is_staff


@st.cache_data(show_spinner="Aligning the photos...", max_entries=16)
def aligned(photo_sha: str, baseline_sha: str, matrix: tuple | None = None):
    """A face aligned on its landmarks; a body area (``matrix``: its analysis's alignment) by that alignment,
    without heat maps."""
    if matrix is not None:
        before, after = aligned_by_matrix(photo_pixels(photo_sha), photo_pixels(baseline_sha), matrix)
        return before, after, None, None
    pair = aligned_pair(photo_pixels(photo_sha), photo_pixels(baseline_sha))
    return pair.before, pair.after, pair.redness_change, pair.texture_change


@st.cache_data(show_spinner=False, max_entries=16)
def wipe_page(photo_sha: str, baseline_sha: str, labels: tuple[str, str], matrix: tuple | None = None) -> str:
    before, after, _, _ = aligned(photo_sha, baseline_sha, matrix)
    return wipe_html(before, after, labels, IMAGE_HEIGHT)


def chart(s: progress.Series) -> alt.LayerChart:
    """Change since baseline by date, in the metric's unit, over the zone within noise around zero."""
    m = s.metric
    unit = f"change in {m.unit}"
    points = pd.DataFrame([{"date": s.start, "change": 0.0, "shown": "first session", "bound": 0.0}] + [
        {"date": d, "change": c.change, "shown": c.cell(), "bound": c.bound,
         "verdict": "beyond noise" if c.verdict == BEYOND else "within noise"} for d, c in s.points])
    later = points.iloc[1:].assign(low=lambda f: -f.bound)
    ticks = [alt.DateTime(year=d.year, month=d.month, date=d.day) for d in points.date]
    x = alt.X("date:T", title="session date", scale=alt.Scale(padding=24),
              axis=alt.Axis(format="%d %b %Y", values=ticks, labelAngle=0, grid=False))
    y = alt.Y("change:Q", title=unit)
    zone = alt.Chart(later).mark_bar(opacity=0.35, color="#9aa5b1", size=26).encode(
        x=x, y=alt.Y("low:Q", title=unit), y2="bound:Q",
        tooltip=[alt.Tooltip("bound:Q", title="within noise: ±", format=".2f")])
    zero = alt.Chart(pd.DataFrame({"zero": [0.0]})).mark_rule(color="#666").encode(y="zero:Q")
    line = alt.Chart(points).mark_line(color="#1f4e9c").encode(x=x, y=y)
    dots = alt.Chart(later).mark_point(filled=True, size=80).encode(
        x=x, y=y, color=alt.Color("verdict:N", legend=None, scale=alt.Scale(
            domain=["beyond noise", "within noise"], range=["#1f4e9c", "#9aa5b1"])),
        tooltip=[alt.Tooltip("date:T", format="%d %b %Y"), alt.Tooltip("shown:N", title=unit),
                 alt.Tooltip("verdict:N")])
    return (zone + zero + line + dots).properties(title=f"{m.label} ({m.unit})", height=260)


def remove_flagged(photo_id: int) -> None:
    try:
        with db.session() as s:
            photos.remove_photo(s, db.store, viewer(), photo_id, "wrong_client",
                                "judged not the same person as the first session, on Progress")
            s.commit()
        flash(f"Photo {photo_id} was removed from this client's record and its file deleted.")
    except RecordError as exc:
        flash(as_text(exc.message), "error")  # the message may repeat what was typed


def open_session(session_id: int) -> None:
    st.session_state.session_course, st.session_state.photo_session = course_id, session_id


def flagged_photo(row: progress.ProgressRow, photo_sha: str, baseline_sha: str, labels: tuple[str, str]) -> None:
    """A photo the engine judged to show someone else: shown to staff as taken, unaligned, with what to do."""
    a, b = st.columns(2)
    a.image(photo_pixels(baseline_sha), caption=labels[0], width=SIDE_HEIGHT)
    b.image(photo_pixels(photo_sha), caption=f"{labels[1]}: as taken, not aligned", width=SIDE_HEIGHT)
    st.caption("The client is not shown this photo or its results. If it is another client's photo, remove it here "
               "(its file is deleted from this record) and add it to the right client's session; if it is in the "
               "wrong session or view, open its session to move it.")
    left, right = st.columns(2)
    left.button("Remove it: another client's photo", key=f"remove_flagged_{row.photo_id}", type="primary",
                on_click=remove_flagged, args=(row.photo_id,))
    if right.button("Open its session", key=f"open_flagged_{row.photo_id}"):
        open_session(row.session_id)
        st.switch_page("app_pages/session.py")


with db.session() as s:
    client = records.get_client(s, viewer(), client_id, record_view=first_view(client_id))
    s.commit()
    # the course's number keeps two courses of one treatment, area and start apart (a box tells options by label)
    courses = {c.id: f"#{c.id} {c.treatment} ({', '.join(c.areas)}), from {c.started_on}, {c.status}"
               for c in client.courses}
    photographed = [c.id for c in client.courses if any(x.photos for x in c.sessions)]
    # open on the active course with photos, else the latest with photos, else the latest
    opening = next((c.id for c in reversed(client.courses) if c.status == "active" and c.id in photographed),
                   photographed[-1] if photographed else client.courses[-1].id if client.courses else None)
    title = as_text(client.name) if viewer().is_staff else "Your progress"
st.title(title)
show_flash()
if not courses:
    st.info("No course yet.")
    st.stop()
course_id = choose("Course", courses, "progress_course", default=opening)
with db.session() as s:
    course = records.get_course(s, viewer(), course_id)
    if course.client_id != client_id:  # never another client's course, whatever the session state says
        st.error("This course belongs to another client.")
        st.stop()
    rows = progress.course_progress(s, viewer(), course)
    hashes = progress.photo_hashes(course, rows)  # never a withheld photo's: its pixels are not loaded
    unanalysed = photos.analysis_status(s, viewer(), [r.photo_id for r in rows if r.status == "not analysed"])
    scores = progress.hexsel_scores(course)
    limits = calibration.detection_limits(s, viewer(), course.client, [m.name for m in progress.SUMMARY])
if scores:  # the clinician's record, with or without photos
    st.subheader(f"{progress.HEXSEL.label} (clinician's score)")
    hexsel_table(scores)
    st.caption("Scored by the clinician from the standard photos: a record of their judgement, not a measurement, "
               "so it has no noise band.")
views = list(dict.fromkeys(r.view for r in rows))
if not views:
    st.info("No photos in this course yet.")
    st.stop()
view = st.selectbox("View", views, format_func=templates.view_label, key="progress_view")
rows = [r for r in rows if r.view == view]
compared = [r for r in rows if r.status == "compared"]
baseline = next((r for r in rows if r.status == "baseline"), None)
for r in rows:
    if r.photo_id in unanalysed:  # queued for a worker, or being analysed now
        st.info(f"Session {r.session} ({r.held_on}): {status_text(unanalysed[r.photo_id], plain)}.")
    elif r.status == progress.WITHHELD:
        st.info(f"Session {r.session} ({r.held_on}): {progress.reason_text(r.reasons, plain)}, so it is not "
                "shown yet.")
    elif r.status not in ("baseline", "compared"):
        st.warning(f"Session {r.session} ({r.held_on}): {r.status}: {progress.reason_text(r.reasons, plain)}")
if waiting(unanalysed[r.photo_id] for r in rows if r.photo_id in unanalysed):
    refresh_button("refresh_progress_status")
if baseline is None or not compared:
    st.info("Progress appears once a later session's photo of this view is analysed.")
    st.stop()
if baseline.scale_note():
    st.caption(baseline.scale_note()[0].upper() + baseline.scale_note()[1:] + ".")

numbers = [r.session for r in compared]
latest_comparable = next((r.session for r in reversed(compared) if r.comparable), numbers[-1])
chosen = st.select_slider("Compare the first session with session", numbers, value=latest_comparable,
                          key="progress_session")
row = next(r for r in compared if r.session == chosen)
for flagged in (r for r in compared if r.other_person and r.session != chosen):  # staff only (course_progress)
    st.warning(f"Session {flagged.session} ({flagged.held_on}): the photo does not appear to show the same person as "
               "the first session, and the client is not shown it. Choose that session above to check it, then "
               "remove it or open its session to move it.")
for later in (r for r in compared if r.session > chosen and not r.comparable):
    st.info(f"Session {later.session} ({later.held_on}): no measurement for this session, because "
            f"{progress.reason_text(later.reasons, plain)}.")
if row.comparable:
    for metric in row.summary:
        st.markdown("- " + row.change(metric.name).sentence(plain))
    if row.area is None:  # the face's measures: say what size of change this clinic can see
        st.caption(calibration.summary([x for x in limits if x.metric in row.summary], plain))
else:
    st.warning(f"Session {row.session} ({row.held_on}) is **not comparable** with the first session, so no change "
               f"is shown: {progress.reason_text(row.reasons, plain)}.")

labels = (f"Session {baseline.session}, {baseline.held_on}", f"Session {row.session}, {row.held_on}")
if row.other_person:  # staff only: a client's rows never hold another person's photo (course_progress)
    flagged_photo(row, hashes[row.photo_id], hashes[baseline.photo_id], labels)
else:
    face = view in VIEWS
    matrix = None if face or row.matrix is None else tuple(map(tuple, row.matrix))
    before, after, redness_map, texture_map = aligned(hashes[row.photo_id], hashes[baseline.photo_id], matrix)
    side, slide, heat = st.tabs(["Side by side", "Wipe", "Where it changed"])
    with side:
        a, b = st.columns(2)
        # both fit the screen: a portrait at SIDE_HEIGHT, a landscape (a scalp, a thigh) the column's width
        width = min(before.shape[1], round(SIDE_HEIGHT * before.shape[1] / before.shape[0])) \
            if before.shape[0] >= before.shape[1] else "stretch"
        a.image(before, caption=labels[0], width=width)
        b.image(after, caption=f"{labels[1]} (aligned{', lighting matched' if face and row.comparable else ''})",
                width=width)
    with slide:
        st.iframe(wipe_page(hashes[row.photo_id], hashes[baseline.photo_id], labels, matrix), height=IMAGE_HEIGHT + 8)
        st.caption("Drag across the photo (or use the arrow keys): the first session left of the line, this session "
                   "right.")
    with heat:
        if not row.comparable:
            st.info("Not shown: the two photos are not comparable.")
        elif redness_map is None:
            st.info("Maps of where redness and texture changed are made for faces.")
        else:
            maps = ((redness_map, 3.0, "redness_a_star",
                     "Redness change: blue less red, red more red (full colour = 3 a*)"),
                    (texture_map, 1.0, "texture_roughness",
                     "Texture change: blue smoother, red rougher (full colour = 1 % contrast)"))
            for column, (change_map, full, metric, caption) in zip(st.columns(2), maps):
                shown = row.change(metric)  # a map only where the number itself may be shown
                if shown.shown:
                    column.image(heat_overlay(before, change_map, full), caption=caption, width=width)
                else:
                    column.info(f"No map of {shown.metric.word}: {shown.why(plain)}.")

st.subheader("Across the course")
charted = [progress.series(rows, metric.name) for metric in row.summary]
notes = [s_.note(plain) for s_ in charted]
shared_note = notes[0] if len(set(notes)) == 1 else None  # said once below the charts, not under each
columns = st.columns(2)
for i, (s_, note) in enumerate(zip(charted, notes)):
    with columns[i % 2]:
        if s_.points:
            st.altair_chart(chart(s_), width="stretch")
        else:
            st.markdown(f"**{s_.metric.label} ({s_.metric.unit})**")
        if note and note != shared_note:
            st.caption(note[0].upper() + note[1:])
if shared_note:
    st.caption(shared_note[0].upper() + shared_note[1:])
st.caption("Change since the first session, by session date, in each measure's unit. The grey zone around zero is "
           "the 95 % measurement noise at each session: a change inside it may not be real. Blue dot: beyond noise; "
           "grey dot: within noise. A session that is not comparable with the first is not drawn.")

regions = row.regions()
if row.area is not None:
    st.stop()  # hair loss and cellulite: one marked region, summarised above
st.subheader(f"By region, session {row.session}")
if not regions:
    st.info("No regions were measured in this photo.")
elif not any(row.region_verdict(g)[0] for g in regions):
    why = row.region_change(regions[0], "redness_a_star").why(plain)
    st.info(f"No region is comparable with the first session: {why}.")
else:
    shown = [progress.REGISTRY[m] for m in row.metrics]
    table = pd.DataFrame({REGION_LABELS.get(g, g): [row.region_change(g, m.name).cell() for m in shown]
                          for g in regions}, index=[f"{m.label} ({m.unit})" for m in shown])
    st.dataframe(table, width="stretch", height=38 + 35 * len(table))
    notes = {}
    for g in regions:
        for m in row.metrics:
            shown = row.region_change(g, m)
            if not shown.shown:
                notes.setdefault(shown.why(plain), []).append(REGION_LABELS.get(g, g))
    for why, where in notes.items():
        st.caption(f"{', '.join(dict.fromkeys(where))}: {why}")
    st.caption("Change since the first session ± its 95 % noise bound; * beyond noise.")
