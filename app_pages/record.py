"""A client's record: screening, consents and courses."""

from datetime import date

import streamlit as st

from app_pages.common import client_in_view, database, first_view, staff_only
from tracker import records
from tracker.errors import RecordError
from tracker.models import AREAS, CONSENT_KINDS, CONTRAINDICATIONS, TREATMENTS

who = staff_only()
client_id = client_in_view()
db = database()


def attempt(action, success: str) -> None:
    """Run a records change, commit it, and say how it went next to the form."""
    try:
        with db.session() as s:
            action(s)
            s.commit()
        st.success(success)
    except RecordError as exc:
        st.error(exc.message)


with db.session() as s:
    client = records.get_client(s, client_id, who.name if first_view(client_id) else None)
    s.commit()
    st.title(client.name)
    st.caption(f"Client #{client.id} - born {client.date_of_birth or '-'} - Fitzpatrick {client.fitzpatrick or '-'}"
               f" - {client.contact or 'no contact'}")
    open_now = records.open_contraindications(client)
    consents = {kind: records.has_consent(client, kind) for kind in CONSENT_KINDS}
    courses = [(c.id, c.treatment, ", ".join(c.areas), len(c.sessions), c.planned_sessions, c.status,
                c.override_reason) for c in client.courses]

(st.warning if open_now else st.success)(
    "Open contraindications: " + "; ".join(open_now) if open_now else "No open contraindications.")

screening_tab, consent_tab, course_tab = st.tabs(["Screening", "Consent", "Courses"])
with screening_tab:
    with st.form("screening"):
        screened_on = st.date_input("Consultation date", value=date.today(), key="screened_on")
        present = {field for field, label in CONTRAINDICATIONS.items() if st.checkbox(label, key=f"ci_{field}")}
        patch_on = st.date_input("Patch test date", value=None, key="patch_on")
        patch_result = st.selectbox("Patch test result", [None, "negative", "positive"], key="patch_result")
        notes = st.text_area("Notes", key="screening_notes")
        if st.form_submit_button("Record screening"):
            attempt(lambda s: records.record_screening(s, who.name, client_id, screened_on, present, patch_on,
                                                       patch_result, notes), "Screening recorded.")

with consent_tab:
    for kind, current in consents.items():
        st.write(f"**{kind.capitalize()}**: {'current' if current else 'not given or withdrawn'}")
    with st.form("consent"):
        kind = st.selectbox("Consent", CONSENT_KINDS, key="consent_kind")
        day = st.date_input("Date", value=date.today(), key="consent_day")
        signatory = st.text_input("Signed by", value=client.name, key="consent_signatory")
        give, withdraw = st.columns(2)
        if give.form_submit_button("Record consent"):
            attempt(lambda s: records.give_consent(s, who.name, client_id, kind, day, signatory),
                    f"{kind.capitalize()} consent recorded.")
        if withdraw.form_submit_button("Withdraw consent"):
            attempt(lambda s: records.withdraw_consent(s, who.name, client_id, kind, day),
                    f"{kind.capitalize()} consent withdrawn from {day}.")

with course_tab:
    for course_id, treatment, areas, done, planned, status, override in courses:
        st.write(f"**Course #{course_id}**: {treatment} ({areas}) - {done}/{planned} sessions - {status}"
                 + (f" - started despite contraindications: {override}" if override else ""))
    with st.form("start_course"):
        treatment = st.selectbox("Treatment", [*TREATMENTS, "other"], key="course_treatment")
        other = st.text_input("Other treatment", key="course_other")
        areas = st.multiselect("Areas", AREAS, default=["face"],
                               key="course_areas")
        planned = st.number_input("Planned sessions", 1, 20, 4, key="course_sessions")
        interval = st.number_input("Days between sessions", 1, 180, 28, key="course_interval")
        start = st.date_input("Start", value=date.today(), key="course_start")
        override = st.text_input("Start despite open contraindications, because...", key="course_override",
                                 disabled=not open_now)
        if st.form_submit_button("Start course"):
            name = other.strip() if treatment == "other" else treatment
            attempt(lambda s: records.start_course(s, who.name, client_id, name, areas, int(planned), int(interval),
                                                   start, override or None), "Course started.")
