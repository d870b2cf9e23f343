"""Find or add a client."""

import streamlit as st

from app_pages.common import database, staff_only
from tracker import records
from tracker.errors import RecordError
from tracker.samples import load_sample_course, sample_loaded

who = staff_only()
db = database()
st.title("Clients")

search = st.text_input("Find a client by name", key="client_search")
with db.session() as s:
    rows = records.client_overview(s, search)
if rows:
    st.dataframe([{"id": r.id, "name": r.name, "born": r.date_of_birth, "courses": r.courses, "sessions": r.sessions,
                   "last session": r.last_session} for r in rows], hide_index=True, width="stretch")
    labels = {r.id: f"{r.name} (#{r.id})" for r in rows}
    current = st.session_state.get("client_id")
    chosen = st.selectbox("Work with", list(labels), format_func=labels.get, key="choose_client",
                          index=list(labels).index(current) if current in labels else 0)
    if st.button("Open this client", key="open_client", type="primary"):
        st.session_state.client_id = chosen
        st.session_state.pop("course_id", None)
        st.switch_page("app_pages/record.py")
else:
    st.info("No clients yet." if not search else "No client matches.")

with st.expander("Add a client", expanded=not rows):
    with st.form("add_client", clear_on_submit=True):
        name = st.text_input("Name", key="new_name")
        dob = st.date_input("Date of birth", value=None, key="new_dob", min_value=None)
        contact = st.text_input("Contact (phone or e-mail)", key="new_contact")
        fitzpatrick = st.selectbox("Fitzpatrick skin type", [None, 1, 2, 3, 4, 5, 6], key="new_fitzpatrick")
        notes = st.text_area("Notes", key="new_notes")
        if st.form_submit_button("Add client"):
            try:
                with db.session() as s:
                    client, code = records.add_client(s, who.name, name, dob, contact, fitzpatrick, notes)
                    s.commit()
                st.session_state.client_id = client.id
                st.success(f"Client #{client.id} added. Their access code for the client portal, shown once: "
                           f"**{code}**")
            except RecordError as exc:
                st.error(exc.message)

if who.role == "admin" and not sample_loaded(db):
    if st.button("Load the simulated sample course", key="load_sample"):
        bar = st.progress(0.0, "Loading the sample course...")
        load_sample_course(db, who.name, lambda i, n, label: bar.progress(i / n, label))
        st.rerun()
