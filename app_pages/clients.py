"""Find or add a client; who is due for a session; which clients received a product batch."""

from datetime import date

import streamlit as st

from app_pages.common import choose, choose_clinic, clinic_names, database, staff_only
from app_pages.ui import date_field, flash, needs_date, plain, portal_url, show_flash
from tracker import cards, records
from tracker.errors import RecordError
from tracker.samples import load_sample_course, sample_loaded

who = staff_only()
db = database()
st.title("Clients")
show_flash()

issued = st.session_state.pop("new_client_code", None)
if issued:
    client_id, name, code = issued
    st.success(f"Client #{client_id} added. Their access code for the client portal (shown once):",
               icon=":material/key:")
    st.code(code, language=None)
    st.download_button("Download a printable card (PDF)", key="new_code_card", on_click="ignore",
                       data=cards.access_card_pdf(name, code, portal_url()), file_name=f"access-card-{client_id}.pdf",
                       mime="application/pdf")


def open_client(client_id: int) -> None:
    st.session_state.client_id = client_id
    st.session_state.pop("course_id", None)
    st.session_state.pop("due_table", None)  # forget the row picked, or coming back would open it again
    st.switch_page("app_pages/record.py")


with db.session() as s:
    due = records.due_courses(s, who)
if due:
    st.subheader("Due for a session")
    st.dataframe([{"client": d.client_name, "client id": d.client_id, "course": f"#{d.course_id} {d.treatment}",
                   "sessions": f"{d.sessions_done}/{d.planned_sessions}", "due": d.due_on,
                   "status": f"overdue {d.days_overdue} days" if d.days_overdue > 0 else
                   "due today" if d.days_overdue == 0 else f"in {-d.days_overdue} days"} for d in due],
                 hide_index=True, width="stretch", key="due_table", on_select="rerun", selection_mode="single-row")
    picked = st.session_state.due_table.selection.rows
    if picked:
        open_client(due[picked[0]].client_id)

search = st.text_input("Find a client by name", key="client_search")
with db.session() as s:
    rows = records.client_overview(s, who, search)
if rows:
    table = [{"id": r.id, "name": r.name, "born": r.date_of_birth, "courses": r.courses, "sessions": r.sessions,
              "last session": r.last_session} for r in rows]
    names = clinic_names(who)
    if len(names) > 1:  # with one clinic there is nothing to tell apart
        for row, r in zip(table, rows):
            row["clinic"] = names[r.clinic_id]
    st.dataframe(table, hide_index=True, width="stretch")
    labels = {r.id: f"{r.name} (#{r.id})" for r in rows}
    if issued:  # the client just added, not the one the box showed before
        st.session_state.choose_client = issued[0]
    chosen = choose("Work with", labels, "choose_client", default=st.session_state.get("client_id"))
    if st.button("Open this client", key="open_client", type="primary"):
        open_client(chosen)
else:
    st.info("No clients yet." if not search else "No client matches.")

with st.expander("Add a client", expanded=not rows):
    with st.form("add_client"):
        name = st.text_input("Name", key="new_name")
        dob = date_field("Date of birth", "new_dob", latest=date.today())
        contact = st.text_input("Contact (phone or e-mail)", key="new_contact")
        fitzpatrick = st.selectbox("Fitzpatrick skin type", [None, 1, 2, 3, 4, 5, 6], key="new_fitzpatrick")
        notes = st.text_area("Notes", key="new_notes")
        clinic_id = choose_clinic(who, "Clinic", "new_clinic")
        if st.form_submit_button("Add client"):
            try:
                with db.session() as s:
                    client, code = records.add_client(s, who, name, needs_date("Date of birth", dob), contact,
                                                      fitzpatrick, notes, clinic_id)
                    s.commit()
                st.session_state.client_id = client.id
                st.session_state.new_client_code = (client.id, client.name, code)
                for key in ("new_name", "new_dob", "new_contact", "new_fitzpatrick", "new_notes", "new_clinic"):
                    st.session_state.pop(key, None)  # an empty form for the next client
                st.rerun()
            except (RecordError, ValueError) as exc:
                st.error(plain(getattr(exc, "message", str(exc))))

with st.expander("Batch recall: who received a product batch"):
    with st.form("recall"):
        batch = st.text_input("Batch number", key="recall_batch")
        find = st.form_submit_button("Find")
    if find:
        try:
            with db.session() as s:
                hits = records.batch_recall(s, who, batch)
                s.commit()
        except RecordError as exc:
            st.error(plain(exc.message))
            hits = None
        if hits:
            st.dataframe([{"client": h.client_name, "client id": h.client_id, "contact": h.contact,
                           "course": h.course_id, "session": h.session_number, "date": h.held_on,
                           "product": h.product, "batch": h.batch, "expiry": h.expiry} for h in hits],
                         hide_index=True, width="stretch", key="recall_table")
            st.caption(f"{len({h.client_id for h in hits})} clients, {len(hits)} sessions.")
        elif hits is not None:
            st.info("No session used this batch.")

if who.role == "admin" and not sample_loaded(db):
    if st.button("Load the simulated sample course", key="load_sample"):
        bar = st.progress(0.0, "Loading the sample course...")
        load_sample_course(db, who, lambda i, n, label: bar.progress(i / n, label))
        flash("Sample course loaded.")
        st.rerun()
