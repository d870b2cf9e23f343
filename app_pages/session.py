"""Record a session and its photos, with feedback on each photo as soon as it is taken."""

from datetime import date

import streamlit as st

from app_pages.common import client_in_view, database, face_model, staff_only
from tracker import photos, records
from tracker.errors import RecordError
from tracker.models import AREAS, TECHNIQUES, VIEWS

who = staff_only()
client_id = client_in_view()
db = database()
face_model()

with db.session() as s:
    client = records.get_client(s, client_id)
    courses = {c.id: f"#{c.id} {c.treatment} ({len(c.sessions)}/{c.planned_sessions} sessions)"
               for c in client.courses}
    name = client.name
st.title(f"Session - {name}")
if not courses:
    st.info("Start a course on the Client record page first.")
    st.stop()
course_id = st.selectbox("Course", list(courses), format_func=courses.get, key="session_course")
with db.session() as s:
    sessions = {x.id: f"Session {x.number}, {x.held_on} ({len(x.photos)} photos)"
                for x in records.get_course(s, course_id).sessions}

with st.expander("Record a new session", expanded=not sessions):
    with st.form("new_session"):
        held_on = st.date_input("Date", value=date.today(), key="held_on")
        practitioner = st.text_input("Practitioner", value=who.display_name, key="practitioner")
        technique = st.selectbox("Technique", TECHNIQUES, key="technique")
        areas = st.multiselect("Areas", AREAS, default=["face"],
                               key="session_areas")
        products = st.text_area("Products, one a line: name | batch | expiry YYYY-MM-DD | ml", key="products")
        anaesthetic = st.text_input("Anaesthetic", key="anaesthetic")
        notes = st.text_area("Notes", key="session_notes")
        reactions = st.text_input("Immediate reactions", key="reactions")
        aftercare = st.text_input("Aftercare given", key="aftercare")
        if st.form_submit_button("Record session"):
            try:
                used = [records.parse_product_line(line) for line in products.splitlines() if line.strip()]
                with db.session() as s:
                    new = records.add_session(s, who.name, course_id, held_on, practitioner, technique, areas, used,
                                              anaesthetic, notes, reactions, aftercare)
                    s.commit()
                st.session_state.session_id = new.id
                st.rerun()
            except RecordError as exc:
                st.error(exc.message)

if not sessions:
    st.stop()
ids = list(sessions)
current = st.session_state.get("session_id")
session_id = st.selectbox("Photos for", ids, format_func=sessions.get, key="photo_session",
                          index=ids.index(current) if current in ids else len(ids) - 1)

view_choice = st.selectbox("View", ["guess from head pose", *VIEWS, "body area"], key="view_choice")
region = None
if view_choice == "body area":
    body_area = st.text_input("Body area name, e.g. neck, left hand, scalp", key="body_area").strip()
    view = body_area or None
    region_text = st.text_input("Region to measure, as points 'x,y x,y x,y ...' in the photo's pixels "
                                "(on the baseline photo of this area)", key="region")
    try:
        region = photos.parse_region(region_text) if region_text.strip() else None
    except RecordError as exc:
        st.error(exc.message)
else:
    view = None if view_choice == "guess from head pose" else view_choice
uploads = st.file_uploader("Photos (JPEG, PNG, TIFF, WebP, HEIC)", accept_multiple_files=True, key="uploads",
                           type=["jpg", "jpeg", "png", "tif", "tiff", "webp", "heic", "heif"])
shot = st.camera_input("Take a photo", key="camera") if st.toggle("Use the camera", key="use_camera") else None
items = [photos.Incoming(f.name, f.getvalue(), view, region) for f in (uploads or [])]
if shot is not None:
    items.append(photos.Incoming("camera.jpg", shot.getvalue(), view, region))

@st.cache_data(show_spinner=False, max_entries=32)
def preview(course: int, name: str, data: bytes, chosen_view: str | None, marked: list | None) -> photos.Preview:
    """Checks of one photo against the course's baseline, computed once per photo, not at every rerun."""
    with db.session() as s:
        return photos.capture_preview(s, db.store, course, photos.Incoming(name, data, chosen_view, marked))


ready = []
for item in items:
    with st.container(border=True):
        with st.spinner(f"Checking {item.name}..."):
            preview_ = preview(course_id, item.name, item.data, item.view, item.region)
        if preview_.error:
            st.error(f"{item.name}: {preview_.error}")
            continue
        left, right = st.columns(2)
        left.image(preview_.rgb, caption=f"{item.name} - view {preview_.view or 'unknown'}", width="stretch")
        if preview_.ghost is not None:
            right.image(preview_.ghost, caption="Baseline ghost overlay: line the face up with it", width="stretch")
        for check in preview_.checks:
            (st.success if check.ok else st.warning)(f"{check.label}: {check.detail}")
        ready.append(photos.Incoming(item.name, item.data, preview_.view, item.region))

if ready and st.button(f"Save {len(ready)} photo(s) to the session", key="save_photos", type="primary"):
    try:
        with db.session() as s:
            photos.import_photos(s, db.store, who.name, session_id, ready)
            s.commit()
        bar = st.progress(0.0, "Analysing...")
        with db.session() as s:
            done = photos.analyse_pending(s, db.store, who.name, client_id,
                                          lambda i, n, p: bar.progress(i / n, f"Analysed photo {i} of {n}"))
        failed = [a for a in done if a.error_code]  # each recorded against its photo; the others went on
        st.success(f"Saved {len(ready)} photo(s); {len(failed)} could not be analysed." if failed
                   else f"Saved and analysed {len(ready)} photo(s).")
        for record in failed:
            st.warning(f"Photo {record.photo_id}: {record.error_message}")
    except RecordError as exc:
        st.error(exc.message)
