"""A client's record: details, access code, screening, consents, courses and the history of corrections."""

from datetime import date

import streamlit as st

from app_pages.common import client_in_view, database, first_view, staff_only
from app_pages.ui import clear_later, date_field, flash, needs_date, plain, portal_url, reason_input, show_flash
from tracker import cards, records
from tracker.errors import RecordError
from tracker.models import AREAS, CONSENT_KINDS, CONTRAINDICATIONS, COURSE_STATUSES, TREATMENTS

PATCH_RESULTS = [None, "negative", "positive"]

who = staff_only()
client_id = client_in_view()
db = database()


def attempt(action, success: str, *spent: str) -> None:
    """Run a records change and commit it; on success show the fresh page with the message kept and the
    ``spent`` fields (their keys, e.g. the correction's reason) emptied."""
    try:
        with db.session() as s:
            action(s)
            s.commit()
    except (RecordError, ValueError) as exc:
        st.error(plain(getattr(exc, "message", str(exc))))
        return
    flash(success)
    clear_later(*spent)
    st.rerun()


with db.session() as s:
    client = records.get_client(s, who, client_id, record_view=first_view(client_id))
    s.commit()
    details = {field: getattr(client, field) for field in records.CLIENT_FIELDS}
    open_now = records.open_contraindications(client)
    consents = {kind: records.has_consent(client, kind) for kind in CONSENT_KINDS}
    consent_rows = [(c.id, c.kind, c.given_on, c.signatory, c.withdrawn_on) for c in client.consents]
    latest_screening = client.screenings[-1] if client.screenings else None
    screening_rows = [(x.id, x.screened_on, x.screened_by, x.open_contraindications, x.patch_test_on,
                       x.patch_test_result) for x in client.screenings]
    courses = [(c.id, c.treatment, ", ".join(c.areas), len(c.sessions), c.planned_sessions, c.interval_days,
                c.status, c.override_reason, records.next_due(c)) for c in client.courses]
    trail = [(v.at, v.actor, v.entity, v.entity_id, v.previous, v.reason) for v in records.history(s, who, client_id)]

st.title(plain(details["name"]))
st.caption(plain(f"Client #{client_id} - born {details['date_of_birth'] or 'unknown'} - "
                 f"Fitzpatrick {details['fitzpatrick'] or '-'} - {details['contact'] or 'no contact'}"))
show_flash()
(st.warning if open_now else st.success)(
    "Open contraindications: " + "; ".join(open_now) if open_now else "No open contraindications.")

details_tab, screening_tab, consent_tab, course_tab, history_tab = st.tabs(
    ["Details", "Screening", "Consent", "Courses", f"History ({len(trail)})"])

with details_tab:
    with st.form("edit_client"):
        name = st.text_input("Name", value=details["name"], key="edit_name")
        dob = date_field("Date of birth", "edit_dob", value=details["date_of_birth"], latest=date.today())
        contact = st.text_input("Contact (phone or e-mail)", value=details["contact"], key="edit_contact")
        fitzpatrick = st.selectbox("Fitzpatrick skin type", [None, 1, 2, 3, 4, 5, 6],
                                   index=[None, 1, 2, 3, 4, 5, 6].index(details["fitzpatrick"]),
                                   key="edit_fitzpatrick")
        notes = st.text_area("Notes", value=details["notes"], key="edit_notes")
        reason = reason_input("Reason for the correction (kept with the previous version)", "edit_reason")
        if st.form_submit_button("Save details"):
            attempt(lambda s: records.update_client(
                s, who, client_id, reason, name=name, date_of_birth=needs_date("Date of birth", dob),
                contact=contact, fitzpatrick=fitzpatrick, notes=notes), "Details saved; the previous version is kept.",
                "edit_reason")

    st.subheader("Access code for the client portal")
    st.caption("The code is stored only as a hash: it is shown once, when issued. Issuing a new one stops the old one.")
    if st.session_state.pop("issue_code_done", False):
        st.session_state.issue_code_confirm = False  # before the box is drawn: the next code asks again
    sure = st.checkbox("The client's current code and printed card stop working, and their open portal sessions "
                       "end", key="issue_code_confirm")
    if st.button("Issue a new access code", key="issue_code", disabled=not sure):
        with db.session() as s:
            code = records.reset_access_code(s, who, client_id)
            s.commit()
        st.session_state.issued_code, st.session_state.issue_code_done = (client_id, code), True
    issued = st.session_state.pop("issued_code", None)
    if issued and issued[0] == client_id:
        st.success("New access code (shown once; give it to the client now):", icon=":material/key:")
        st.code(issued[1], language=None)
        st.download_button("Download a printable card (PDF)", key="code_card", on_click="ignore",
                           data=cards.access_card_pdf(details["name"], issued[1], portal_url()),
                           file_name=f"access-card-{client_id}.pdf", mime="application/pdf")

with screening_tab:
    for screening_id, screened_on, screened_by, found, patch_on, patch_result in screening_rows:
        st.text(f"Screening {screening_id} on {screened_on} by {screened_by}: "
                + ("; ".join(found) if found else "no contraindications")
                + (f"; patch test {patch_result} on {patch_on}" if patch_result else "; no patch test"))
    with st.form("screening"):
        screened_on = date_field("Consultation date", "screened_on", value=date.today(), latest=date.today())
        present = {field for field, label in CONTRAINDICATIONS.items() if st.checkbox(label, key=f"ci_{field}")}
        patch_on = date_field("Patch test date", "patch_on", latest=date.today())
        patch_result = st.selectbox("Patch test result", PATCH_RESULTS, key="patch_result")
        notes = st.text_area("Notes", key="screening_notes")
        if st.form_submit_button("Record screening"):
            attempt(lambda s: records.record_screening(s, who, client_id, needs_date("Consultation date",
                                                                                           screened_on),
                                                       present, patch_on, patch_result, notes), "Screening recorded.")
    if latest_screening is not None:
        with st.expander(f"Correct screening {latest_screening.id} (the previous version is kept)"):
            with st.form("amend_screening"):
                fixed = {field: st.checkbox(label, value=getattr(latest_screening, field), key=f"fix_{field}")
                         for field, label in CONTRAINDICATIONS.items()}
                fixed_on = date_field("Consultation date", "fix_screened_on", value=latest_screening.screened_on,
                                      latest=date.today())
                fixed["patch_test_on"] = date_field("Patch test date", "fix_patch_on",
                                                    value=latest_screening.patch_test_on, latest=date.today())
                fixed["patch_test_result"] = st.selectbox(
                    "Patch test result", PATCH_RESULTS, index=PATCH_RESULTS.index(latest_screening.patch_test_result),
                    key="fix_patch_result")
                fixed["notes"] = st.text_area("Notes", value=latest_screening.notes, key="fix_screening_notes")
                why = reason_input("Reason for the correction", "fix_screening_reason")
                if st.form_submit_button("Save correction"):
                    attempt(lambda s: records.amend_screening(s, who, latest_screening.id, why,
                                                              screened_on=needs_date("Consultation date", fixed_on),
                                                              **fixed), "Screening corrected.",
                            "fix_screening_reason")

with consent_tab:
    for kind, current in consents.items():
        st.write(f"**{kind.capitalize()}**: {'current' if current else 'not given or withdrawn'}")
    with st.form("consent"):
        kind = st.selectbox("Consent", CONSENT_KINDS, key="consent_kind")
        day = date_field("Date", "consent_day", value=date.today(), latest=date.today())
        signatory = st.text_input("Signed by", value=details["name"], key="consent_signatory")
        give, withdraw = st.columns(2)
        if give.form_submit_button("Record consent"):
            attempt(lambda s: records.give_consent(s, who, client_id, kind, needs_date("Date", day), signatory),
                    f"{kind.capitalize()} consent recorded.")
        if withdraw.form_submit_button("Withdraw consent"):
            attempt(lambda s: records.withdraw_consent(s, who, client_id, kind, needs_date("Date", day)),
                    f"{kind.capitalize()} consent withdrawn from {day}.")
    if consent_rows:
        with st.expander("Correct a consent record (the previous version is kept)"):
            labels = {row[0]: f"#{row[0]} {row[1]}, given {row[2]}" + (f", withdrawn {row[4]}" if row[4] else "")
                      for row in consent_rows}
            chosen = st.selectbox("Consent record", list(labels), format_func=labels.get, key="fix_consent")
            row = next(r for r in consent_rows if r[0] == chosen)
            with st.form(f"amend_consent_{chosen}"):
                given = date_field("Given on", f"fix_given_{chosen}", value=row[2], latest=date.today())
                signed = st.text_input("Signed by", value=row[3], key=f"fix_signatory_{chosen}")
                clear = st.checkbox("Not withdrawn (clear the withdrawal date)", value=row[4] is None,
                                    key=f"fix_clear_{chosen}")
                withdrawn = date_field("Withdrawn on", f"fix_withdrawn_{chosen}", value=row[4], latest=date.today())
                why = reason_input("Reason for the correction", f"fix_consent_reason_{chosen}")
                if st.form_submit_button("Save correction"):
                    attempt(lambda s: records.amend_consent(s, who, chosen, why, needs_date("Given on", given),
                                                            signed, None if clear else needs_date("Withdrawn on",
                                                                                                  withdrawn)),
                            "Consent corrected.", f"fix_consent_reason_{chosen}")

with course_tab:
    for course_id, treatment, areas, done, planned, interval, status, override, due in courses:
        with st.container(border=True):
            st.text(f"Course #{course_id}: {treatment} ({areas}) - {done}/{planned} sessions every {interval} days "
                    f"- {status}" + (f" - next session due {due}" + (" (overdue)" if due < date.today() else "")
                                     if due else "")
                    + (f"\nStarted despite contraindications: {override}" if override else ""))
            with st.form(f"course_status_{course_id}"):
                left, right, go = st.columns([1, 2, 1], vertical_alignment="bottom")
                new_status = left.selectbox("Status", COURSE_STATUSES, index=COURSE_STATUSES.index(status),
                                            key=f"status_{course_id}")
                with right:
                    why = reason_input("Reason", f"status_reason_{course_id}")
                if go.form_submit_button("Set status"):
                    attempt(lambda s: records.set_course_status(s, who, course_id, new_status, why),
                            f"Course #{course_id} is now {new_status}.", f"status_reason_{course_id}")
    with st.form("start_course"):
        treatment = st.selectbox("Treatment", [*TREATMENTS, "other"], key="course_treatment")
        other = st.text_input("Other treatment", key="course_other")
        areas = st.multiselect("Areas", AREAS, default=["face"], key="course_areas")
        planned = st.number_input("Planned sessions", 1, 20, 4, key="course_sessions")
        interval = st.number_input("Days between sessions", 1, 180, 28, key="course_interval")
        start = date_field("Start", "course_start", value=date.today())
        override = st.text_input("Start despite open contraindications, because...", key="course_override",
                                 disabled=not open_now)
        if st.form_submit_button("Start course"):
            name = other.strip() if treatment == "other" else treatment
            attempt(lambda s: records.start_course(s, who, client_id, name, areas, int(planned), int(interval),
                                                   needs_date("Start", start), override or None), "Course started.")

with history_tab:
    if not trail:
        st.caption("No corrections: every record is as first entered.")
    for at, actor, entity, entity_id, previous, reason in trail:
        with st.container(border=True):
            before = "\n".join(f"  {field}: {value if value not in (None, '') else '(empty)'}"
                               for field, value in previous.items())
            st.text(f"{at:%Y-%m-%d %H:%M} UTC - {actor} corrected {entity} {entity_id}\nReason: {reason}\n"
                    f"Before:\n{before}")
