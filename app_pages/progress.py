"""Progress: aligned before/after, charts with the measurement-noise band, regions and a plain summary."""

import altair as alt
import pandas as pd
import streamlit as st

from analysis.visual import aligned_pair, heat_overlay, wipe
from app_pages.common import client_in_view, database, face_model, first_view, photo_pixels, viewer
from tracker import progress, records

METRICS = {"redness_a_star": "Redness (a*)", "erythema_index": "Erythema index", "brightness_l_star": "Brightness (L*)",
           "evenness_l_std": "Evenness (L* spread, lower is more even)",
           "texture_roughness": "Texture roughness (%, lower is smoother)", "red_area_pct": "Red area (%)"}
SUMMARY = {"redness_a_star": "redness", "brightness_l_star": "brightness", "texture_roughness": "texture roughness",
           "evenness_l_std": "unevenness"}

client_id = client_in_view()
db = database()
face_model()


@st.cache_data(show_spinner="Aligning the photos...", max_entries=16)
def aligned(photo_sha: str, baseline_sha: str):
    pair = aligned_pair(photo_pixels(photo_sha), photo_pixels(baseline_sha))
    return pair.before, pair.after, pair.redness_change, pair.texture_change


with db.session() as s:
    client = records.get_client(s, client_id, viewer().name if first_view(client_id) else None)
    s.commit()
    courses = {c.id: f"{c.treatment} ({', '.join(c.areas)}), from {c.started_on}" for c in client.courses}
    title = client.name if viewer().is_staff else "Your progress"
st.title(title)
if not courses:
    st.info("No course yet.")
    st.stop()
course_id = st.selectbox("Course", list(courses), format_func=courses.get, key="progress_course")
with db.session() as s:
    course = records.get_course(s, course_id)
    if course.client_id != client_id:  # never another client's course, whatever the session state says
        st.error("This course belongs to another client.")
        st.stop()
    rows = progress.course_progress(s, course)
    hashes = {p.id: p.sha256 for ses in course.sessions for p in ses.photos}
views = list(dict.fromkeys(r.view for r in rows))
if not views:
    st.info("No photos in this course yet.")
    st.stop()
view = st.selectbox("View", views, key="progress_view")
rows = [r for r in rows if r.view == view]
compared = [r for r in rows if r.status == "compared"]
baseline = next((r for r in rows if r.status == "baseline"), None)
if baseline is None or not compared:
    st.info("Progress appears once a later session's photo of this view is analysed.")
    for r in rows:
        if r.status not in ("baseline", "compared"):
            st.warning(f"Session {r.session}: {r.status} {' '.join(r.reasons)}")
    st.stop()

numbers = [r.session for r in compared]
chosen = st.select_slider("Compare the baseline with session", numbers, value=numbers[-1], key="progress_session")
row = next(r for r in compared if r.session == chosen)
if not row.comparable:
    st.warning("This session's photo is not fully comparable with the baseline: " + "; ".join(row.reasons))
for metric, label in SUMMARY.items():
    st.write("- " + progress.summary(row, metric, label))

before, after, redness_map, texture_map = aligned(hashes[row.photo_id], hashes[baseline.photo_id])
side, slide, heat = st.tabs(["Side by side", "Wipe", "Where it changed"])
with side:
    a, b = st.columns(2)
    a.image(before, caption=f"Session {baseline.session}, {baseline.held_on}", width="stretch")
    b.image(after, caption=f"Session {row.session}, {row.held_on} (aligned, lighting matched)", width="stretch")
with slide:
    position = st.slider("Wipe", 0, 100, 50, key="wipe") / 100
    st.image(wipe(before, after, position), caption="Baseline left of the line, this session right",
             width="stretch")
with heat:
    a, b = st.columns(2)
    a.image(heat_overlay(before, redness_map, 3.0), width="stretch",
            caption="Redness change: blue less red, red more red (full colour = 3 a*)")
    b.image(heat_overlay(before, texture_map, 1.0), width="stretch",
            caption="Texture change: blue smoother, red rougher (full colour = 1 %)")

st.subheader("Across the course")
records_ = [{"session": baseline.session, "metric": label, "change": 0.0, "low": 0.0, "high": 0.0}
            for label in METRICS.values()]
for r in compared:
    for metric, label in METRICS.items():
        change, noise = r.change.get(metric), r.noise.get(metric)
        if change is not None and noise is not None:
            records_.append({"session": r.session, "metric": label, "change": change, "low": change - noise,
                             "high": change + noise})
frame = pd.DataFrame(records_)
columns = st.columns(2)
for i, label in enumerate(METRICS.values()):
    data = frame[frame.metric == label]
    if len(data) < 2:
        continue
    band = alt.Chart(data).mark_area(opacity=0.25).encode(x=alt.X("session:O", title="session"), y="low:Q", y2="high:Q")
    line = alt.Chart(data).mark_line(point=True).encode(x="session:O", y=alt.Y("change:Q", title="change"))
    columns[i % 2].altair_chart((band + line).properties(title=label, height=220), width="stretch")
st.caption("Change since the baseline; the shaded band is the 95 % measurement noise. A change inside the band "
           "may not be real.")

st.subheader(f"By region, session {row.session}")
with db.session() as s:
    regions = progress.region_changes(s, row.photo_id)
table = pd.DataFrame(regions).T.reindex(columns=list(METRICS)).rename(columns=METRICS).round(2)
st.dataframe(table, width="stretch")
