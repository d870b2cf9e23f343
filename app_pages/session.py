"""Record a session and its photos, with feedback on each photo as soon as it is taken; correct the session
and file its photos right (remove, move, choose the baseline)."""

import secrets
from datetime import date

import streamlit as st
from PIL import Image
from streamlit_drawable_canvas import st_canvas

from analysis.visual import aligned_by_matrix
from app_pages.areas import checklist, hexsel_form, marker_form
from app_pages.common import choose, client_in_view, database, face_model, photo_pixels, staff_only
from app_pages.queue import queued_mode, refresh_button, status_text, waiting
from app_pages.ui import (canvas_polygon, clear_later, cleared, date_field, flash, needs_date, plain, reason_input,
                          show_check, show_flash)
from tracker import photos, records, templates
from tracker.errors import DuplicateRecord, NeedsConfirmation, RecordError
from tracker.models import AREAS, HEXSEL_ITEMS, REMOVAL_REASONS, TECHNIQUES, VIEWS

CANVAS_WIDTH = 640

who = staff_only()
client_id = client_in_view()
db = database()
face_model()

with db.session() as s:
    client = records.get_client(s, who, client_id)
    courses = {c.id: f"#{c.id} {c.treatment} ({len(c.sessions)}/{c.planned_sessions} sessions, {c.status})"
               for c in client.courses}
    active_course = next((c.id for c in reversed(client.courses) if c.status == "active"), None)
    name = client.name
st.title(f"Session - {plain(name)}")
show_flash()
if not courses:
    st.info("Start a course on the Client record page first.")
    st.stop()
course_id = choose("Course", courses, "session_course", default=active_course)
with db.session() as s:
    course = records.get_course(s, who, course_id)
    sessions = {x.id: f"Session {x.number}, {x.held_on} ({len(x.photos)} photos)" for x in course.sessions}
    due = records.next_due(course)
    planned, done = course.planned_sessions, len(course.sessions)
    course_templates = templates.course_templates(course)
    measured_area = templates.course_area(course)
    template_views = [v.name for t in course_templates for v in t.views if v.name not in VIEWS]
st.caption(f"{done} of {planned} planned sessions recorded"
           + (f"; next session due {due:%Y-%m-%d}" + (" (overdue)" if due < date.today() else "") if due else ""))


def record_session(form: dict, confirmed: bool) -> None:
    """Record the session once per form token; a warning asks for confirmation first."""
    token = form["token"]
    if token in st.session_state.setdefault("recorded_tokens", set()):
        return  # a second click on the same form: already recorded
    try:
        used = [records.parse_product_line(line) for line in form["products"].splitlines() if line.strip()]
        with db.session() as s:
            new = records.add_session(s, who, course_id, needs_date("Date", form["held_on"]), form["practitioner"],
                                      form["technique"], form["areas"], used, form["anaesthetic"], form["notes"],
                                      form["reactions"], form["aftercare"], confirmed=confirmed)
            s.commit()
            number, held_on = new.number, new.held_on
        st.session_state.recorded_tokens.add(token)
        st.session_state.pop("pending_session", None)
        st.session_state.pop("session_form_token", None)
        st.session_state.fresh_session_form = True  # the next session's details are its own
        st.session_state.photo_session = new.id  # photos now go to the new session
        flash(f"Session {number} recorded on {held_on:%Y-%m-%d}. Photos below go to this session.")
        st.rerun()
    except NeedsConfirmation as exc:
        st.session_state.pending_session = {**form, "warnings": exc.warnings}
    except DuplicateRecord as exc:
        st.info(plain(exc.message))
    except (RecordError, ValueError) as exc:
        st.error(plain(getattr(exc, "message", str(exc))))


def new_session_form() -> dict:
    """The new-session form as it opens, by widget key: nothing carried over from the session recorded last."""
    return {"held_on": max(date.today(), course.started_on), "practitioner": who.display_name,
            "technique": TECHNIQUES[0], "session_areas": ["face"], "products": "", "anaesthetic": "",
            "session_notes": "", "reactions": "", "aftercare": ""}


# The form's values are set through the session state, before its widgets are drawn: that also empties the
# browser's copy, which dropping the keys would not (it would send the last session's values again).
fresh = st.session_state.pop("fresh_session_form", False)
for field, value in new_session_form().items():
    if fresh or field not in st.session_state:
        st.session_state[field] = value
token = st.session_state.setdefault("session_form_token", secrets.token_hex(8))
with st.expander("Record a new session", expanded=not sessions or "pending_session" in st.session_state):
    with st.form("new_session"):
        held_on = date_field("Date", "held_on", earliest=course.started_on)
        practitioner = st.text_input("Practitioner", key="practitioner")
        technique = st.selectbox("Technique", TECHNIQUES, key="technique")
        areas = st.multiselect("Areas", AREAS, key="session_areas")
        products = st.text_area("Products, one a line: name | batch | expiry YYYY-MM-DD | ml", key="products")
        anaesthetic = st.text_input("Anaesthetic", key="anaesthetic")
        notes = st.text_area("Notes", key="session_notes")
        reactions = st.text_input("Immediate reactions", key="reactions")
        aftercare = st.text_input("Aftercare given", key="aftercare")
        if st.form_submit_button("Record session", type="primary"):
            record_session(dict(token=token, held_on=held_on, practitioner=practitioner, technique=technique,
                                areas=areas, products=products, anaesthetic=anaesthetic, notes=notes,
                                reactions=reactions, aftercare=aftercare), confirmed=False)
    pending = st.session_state.get("pending_session")
    if pending:
        st.warning("Check before recording: " + "; ".join(pending["warnings"]) + ".", icon=":material/warning:")
        go, cancel = st.columns(2)
        if go.button("Record it anyway", key="confirm_session", type="primary"):
            record_session(pending, confirmed=True)
        if cancel.button("Cancel", key="cancel_session"):
            st.session_state.pop("pending_session")
            st.rerun()

if not sessions:
    st.stop()
ids = list(sessions)
session_id = choose("Photos for", sessions, "photo_session", default=ids[-1])

with db.session() as s:
    try:
        photos.check_photo_consent(s, who, session_id)
        consent_problem = None
    except RecordError as exc:
        consent_problem = exc.message
    baselines = photos.baselines_key(s, course_id)
if consent_problem:
    st.error(f"{consent_problem}. Record photography consent on the Client record page before taking photos.")
else:
    with db.session() as s:
        captured = {p.view for p in records.get_session(s, who, session_id).photos}
        checklist(records.get_course(s, who, course_id), captured)
    view_choice = st.selectbox("View", [*template_views, "guess from head pose", *VIEWS, "body area"],
                               format_func=templates.view_label, key="view_choice")
    body_area = st.text_input("Body area name, e.g. neck, left hand, scalp", key="body_area").strip() \
        if view_choice == "body area" else ""
    if view_choice == "body area":
        view = body_area or None
    else:
        view = None if view_choice == "guess from head pose" else view_choice
    if view in templates.VIEWS:
        template, spec = templates.VIEWS[view]
        st.caption(f"{spec.label}: {spec.needs}; {template.needs}.")
    generation = st.session_state.setdefault("upload_generation", 0)
    uploads = st.file_uploader("Photos (JPEG, PNG, TIFF, WebP, HEIC)", accept_multiple_files=True,
                               key=f"uploads_{generation}",
                               type=["jpg", "jpeg", "png", "tif", "tiff", "webp", "heic", "heif"])
    shot = st.camera_input("Take a photo", key="camera") if st.toggle("Use the camera", key="use_camera") else None
    files = [(f.name, f.getvalue()) for f in (uploads or [])] + ([("camera.jpg", shot.getvalue())] if shot else [])

    @st.cache_data(show_spinner=False, max_entries=32)
    def preview(session: int, baseline_key: tuple, name: str, data: bytes, chosen_view: str | None,
                marked: list | None) -> photos.Preview:
        """Checks of one photo against the course's baselines, computed once per photo and baseline choice,
        not at every rerun (``baseline_key`` changes when a baseline is saved or chosen)."""
        with db.session() as s:
            return photos.capture_preview(s, db.store, who, session,
                                          photos.Incoming(name, data, chosen_view, marked))

    region = None
    if view is not None and view not in VIEWS and files:
        with st.spinner("Preparing the photo..."):
            first = preview(session_id, baselines, files[0][0], files[0][1], view, None)
        if first.rgb is not None:
            height, width = first.rgb.shape[:2]
            canvas_size = (CANVAS_WIDTH, round(CANVAS_WIDTH * height / width))
            st.write("Draw the region to measure on the photo: click its corners, then click the first corner "
                     "again to close it.")
            drawn = st_canvas(fill_color="rgba(255, 165, 0, 0.25)", stroke_width=2, stroke_color="#ff8c00",
                              background_image=Image.fromarray(first.rgb).resize(canvas_size),
                              update_streamlit=True, height=canvas_size[1], width=canvas_size[0],
                              drawing_mode="polygon", key=f"region_canvas_{generation}")
            region = canvas_polygon(drawn.json_data, canvas_size, (width, height))
            if region:
                st.caption(f"Region: {len(region)} corners, in the photo's pixels.")

    ready = []
    for file_name, data in files:
        with st.container(border=True):
            with st.spinner(f"Checking {file_name}..."):
                preview_ = preview(session_id, baselines, file_name, data, view, region)
            if preview_.error:
                st.error(f"{plain(file_name)}: {preview_.error}")
                continue
            left, right = st.columns(2)
            left.image(preview_.rgb, caption=plain(f"{file_name} - view {preview_.view or 'unknown'}"), width="stretch")
            if preview_.ghost is not None:
                right.image(preview_.ghost, caption="Baseline ghost overlay: line the face up with it", width="stretch")
            for check in preview_.checks:
                show_check(check)
            ready.append(photos.Incoming(file_name, data, preview_.view, region))

    if ready and st.button(f"Save {len(ready)} photo(s) to the session", key="save_photos", type="primary"):
        try:
            with db.session() as s:
                photos.import_photos(s, db.store, who, session_id, ready)
                s.commit()
            st.session_state.upload_generation = generation + 1  # an empty uploader for the next photos
            if queued_mode():  # a worker analyses them; their status is shown below
                flash(f"Saved {len(ready)} photo(s); queued for analysis.")
                st.rerun()
            bar = st.progress(0.0, "Analysing...")
            with db.session() as s:
                done = photos.analyse_pending(s, db.store, who, client_id,
                                              lambda i, n, p: bar.progress(i / n, f"Analysed photo {i} of {n}"))
                failed = [f"photo {a.photo_id}: {a.error_message}" for a in done if a is not None and a.error_code]
            # each failure is recorded against its photo; the others went on
            flash(f"Saved {len(ready)} photo(s); {len(failed)} could not be analysed: " + "; ".join(failed)
                  if failed else f"Saved and analysed {len(ready)} photo(s).")
            st.rerun()
        except RecordError as exc:
            st.error(plain(exc.message))


def correct(action, message: str, *spent: str) -> None:
    """Run a correction, commit it, re-run the analyses it made stale, and show the fresh page with the
    ``spent`` fields (their keys, e.g. the correction's reason) emptied."""
    try:
        with db.session() as s:
            stale = action(s)
            s.commit()
        if stale and queued_mode():
            message += f" {stale} analyses are queued to run again."
        elif stale:
            with st.spinner("Re-analysing against the new baseline..."):
                with db.session() as s:
                    photos.analyse_pending(s, db.store, who, client_id)
        flash(message)
        clear_later(*spent)
        st.rerun()
    except (RecordError, ValueError) as exc:
        st.error(plain(getattr(exc, "message", str(exc))))


PHOTO_ACTIONS = {"baseline": "make it the baseline of its view", "move": "move it", "remove": "remove it"}


def photo_correction(photo_id: int, photo_view: str) -> None:
    """One photo's correction. Nothing is chosen until the user chooses it (a baseline changes every later
    comparison; another client's photo is deleted at once), and only the chosen correction's fields show."""
    keys = {field: f"photo_{field}_{photo_id}" for field in ("action", "removal", "why")}
    cleared(keys["action"], None)
    cleared(keys["removal"], None)
    action = st.radio("Correction", list(PHOTO_ACTIONS), format_func=PHOTO_ACTIONS.get, index=None,
                      key=keys["action"])
    if action is None:
        st.caption("Choose a correction.")
        return
    removal = None
    if action == "remove":
        removal = st.selectbox("Removal reason", list(REMOVAL_REASONS), format_func=REMOVAL_REASONS.get,
                               index=None, placeholder="Choose why...", key=keys["removal"])
        if removal == "wrong_client":
            st.warning("The original file is deleted at once, with its history: this cannot be undone.",
                       icon=":material/warning:")
    with st.form(f"photo_{photo_id}"):
        if action == "move":
            to_session = st.selectbox("Move to session", ids, index=ids.index(session_id),
                                      format_func=sessions.get, key=f"photo_to_session_{photo_id}")
            to_view = st.text_input("Move to view", value=photo_view, key=f"photo_to_view_{photo_id}",
                                    help=f"{', '.join(VIEWS)} or a body area")
        why = reason_input("Why (kept in the record's history)", keys["why"])
        if not st.form_submit_button("Apply"):
            return
    spent = keys.values()  # the next correction of this photo starts from nothing chosen
    if action == "baseline":
        correct(lambda s: photos.choose_baseline(s, who, photo_id, why),
                f"Photo {photo_id} is now the baseline of {photo_view}"
                + ("." if queued_mode() else "; its analyses were re-run."), *spent)
    elif action == "move":
        correct(lambda s: photos.move_photo(s, who, photo_id, why, to_session, to_view), f"Photo {photo_id} moved.",
                *spent)
    elif removal is None:
        st.error("Choose why the photo is removed.")
    else:
        correct(lambda s: photos.remove_photo(s, db.store, who, photo_id, removal, why),
                f"Photo {photo_id} removed ({REMOVAL_REASONS[removal]}).", *spent)


with db.session() as s:
    current = records.get_session(s, who, session_id)
    kept = [(p.id, p.sha256, p.view, p.original_name) for p in current.photos]
    flagged = {p.id for p in current.photos if photos.judged_other_person(p)}
    baseline_ids = {photo_id for _, photo_id in photos.baselines_key(s, course_id)}
    statuses = photos.analysis_status(s, who, [p.id for p in current.photos])
    product_lines = "\n".join(f"{p.product} | {p.batch} | {p.expiry or ''} | {p.volume_ml or ''}"
                              for p in current.products)
    number = current.number
    recorded = {field: getattr(current, field) for field in records.SESSION_FIELDS}

st.subheader(f"Photos of session {number}")
if not kept:
    st.caption("No photos in this session yet.")
elif waiting(statuses.values()):
    refresh_button("refresh_session_status")
for photo_id, sha, photo_view, original in kept:
    with st.container(border=True):
        left, right = st.columns([1, 3])
        left.image(photo_pixels(sha), width=160)
        right.text(f"Photo {photo_id}: {original}, view {photo_view}"
                   + (" - baseline of this view" if photo_id in baseline_ids else ""))
        right.caption(f"Analysis: {status_text(statuses[photo_id], plain=False)}")
        if photo_id in flagged:
            right.warning("The analysis judged that this photo does not show the same person as the first session: "
                          "the client is not shown it. If it is another client's photo, remove it as theirs.")
        with right.popover("Correct this photo"):
            photo_correction(photo_id, photo_view)

with st.expander(f"Correct session {number} (the previous version is kept)"):
    with st.form(f"amend_session_{session_id}"):
        fixed = {"held_on": date_field("Date", f"amend_held_on_{session_id}", value=recorded["held_on"],
                                       earliest=course.started_on),
                 "practitioner": st.text_input("Practitioner", value=recorded["practitioner"],
                                               key=f"amend_practitioner_{session_id}"),
                 "technique": st.selectbox("Technique", TECHNIQUES, index=TECHNIQUES.index(recorded["technique"]),
                                           key=f"amend_technique_{session_id}"),
                 # an area recorded before AREAS was fixed stays offered, so a correction does not drop it
                 "areas": st.multiselect("Areas", [*AREAS, *(a for a in recorded["areas"] if a not in AREAS)],
                                         default=recorded["areas"], key=f"amend_areas_{session_id}")}
        new_products = st.text_area("Products, one a line: name | batch | expiry YYYY-MM-DD | ml", value=product_lines,
                                    key=f"amend_products_{session_id}")
        fixed |= {"anaesthetic": st.text_input("Anaesthetic", value=recorded["anaesthetic"],
                                               key=f"amend_anaesthetic_{session_id}"),
                  "notes": st.text_area("Notes", value=recorded["notes"], key=f"amend_notes_{session_id}"),
                  "immediate_reactions": st.text_input("Immediate reactions", value=recorded["immediate_reactions"],
                                                       key=f"amend_reactions_{session_id}"),
                  "aftercare": st.text_input("Aftercare given", value=recorded["aftercare"],
                                             key=f"amend_aftercare_{session_id}")}
        amend_reason = reason_input("Reason for the correction", f"amend_reason_{session_id}")
        cleared(f"amend_confirm_{session_id}", False)  # a confirmation is for one correction, as its reason
        confirm_amend = st.checkbox("The date is right even if out of order or in the future",
                                    key=f"amend_confirm_{session_id}")
        if st.form_submit_button("Save correction"):
            def amend(s):
                used = [records.parse_product_line(line) for line in new_products.splitlines() if line.strip()]
                records.amend_session(s, who, session_id, amend_reason, used, confirm_amend,
                                      **fixed | {"held_on": needs_date("Date", fixed["held_on"])})
            correct(amend, f"Session {number} corrected.", f"amend_reason_{session_id}", f"amend_confirm_{session_id}")

if measured_area:
    marker_form(db, who, course_id, course.marker_mm, correct)

if measured_area == "cellulite":
    with db.session() as s:
        current = records.get_session(s, who, session_id)
        score = None if current.hexsel is None else {k: getattr(current.hexsel, k) for k in HEXSEL_ITEMS}
        shots = []
        for p in current.photos:
            found = photos.latest_analysis(p)
            baseline = photos.baseline_of(s, p)
            if found and found.result and "alignment" in found.result and baseline is not None:
                shots.append((templates.view_label(p.view), p.sha256, baseline.sha256,
                              found.result["alignment"]["matrix"]))
    st.subheader(f"Cellulite score, session {number}")
    pair, form = st.columns([3, 2])
    with pair:
        if shots:
            label, sha, base_sha, matrix = shots[0]
            before, after = aligned_by_matrix(photo_pixels(sha), photo_pixels(base_sha), matrix)
            a, b = st.columns(2)
            a.image(before, caption=f"{label}: first session", width="stretch")
            b.image(after, caption=f"{label}: session {number}, aligned to the first", width="stretch")
        else:
            st.info("The aligned before/after appears here once this session has an analysed photo compared with "
                    "the first session.")
    with form:
        hexsel_form(db, who, session_id, number, score)
