"""Staff accounts, for admins: list, add, deactivate, reset a password; the clinics each works in."""

import streamlit as st

from app_pages.ui import plain

from app_pages.common import admin_only, database
from tracker import access, clinics
from tracker.errors import RecordError
from tracker.models import ROLES

who = admin_only()
db = database()
st.title("Staff accounts")


def attempt(action, success: str, temporary: bool = False) -> None:
    """Run an account change and commit it, then show the page again with the change and ``success``
    (and, when ``temporary``, the new password the action returned, once); an error shows here."""
    try:
        with db.session() as s:
            result = action(s)
            s.commit()
    except RecordError as exc:
        st.error(plain(exc.message))
        return
    st.session_state.users_done = (success, result if temporary else None)
    st.rerun()


if "users_done" in st.session_state:
    message, password = st.session_state.pop("users_done")
    st.success(message)
    if password:
        st.write("The temporary password, shown once: give it to the account's owner.")
        st.code(password, language=None)

with db.session() as s:
    users = [(u.username, u.display_name, u.role, u.active, u.created_at) for u in access.list_users(s, who)]
    works_in = {u.username: [c.name for c in u.clinics] for u in access.list_users(s, who)}
    every_clinic = [c.name for c in clinics.list_clinics(s, who)]
# A dataframe shows names as cell text, never as markup.
st.dataframe([{"username": u, "name": n, "role": r, "clinics": ", ".join(works_in[u]), "active": a, "created": c}
              for u, n, r, a, c in users], hide_index=True, width="stretch")
st.caption("A practitioner sees the clients of their clinics only; an admin sees every clinic of the group.")

add_tab, clinics_tab, deactivate_tab, reset_tab = st.tabs(["Add", "Clinics", "Deactivate", "Reset a password"])
with add_tab:
    with st.form("add_user", clear_on_submit=True):
        username = st.text_input("Username (lower-case letters, digits, '.', '_' or '-')", key="new_username")
        name = st.text_input("Name", key="new_user_name")
        role = st.selectbox("Role", ROLES, key="new_role")
        password = st.text_input(f"Password (at least {access.MIN_PASSWORD} characters)", type="password",
                                 key="new_password")
        joins = st.multiselect("Works in", every_clinic, key="new_user_clinics") if len(every_clinic) > 1 else None
        if st.form_submit_button("Add account"):
            attempt(lambda s: access.add_user(s, who, username, password, role, name, joins), "Account added.")

with clinics_tab:
    target = st.selectbox("Account", [u for u, *_ in users], key="clinics_user")
    if target:
        with st.form("user_clinics"):
            chosen = st.multiselect("Works in", every_clinic, default=works_in[target], key=f"clinics_of_{target}")
            if st.form_submit_button("Save the clinics"):
                attempt(lambda s: access.set_user_clinics(s, who, target, chosen), "Clinics saved.")
    with st.form("add_clinic", clear_on_submit=True):
        new_clinic = st.text_input("New clinic's name", key="new_clinic_name")
        if st.form_submit_button("Add the clinic"):
            attempt(lambda s: clinics.add_clinic(s, who, new_clinic), "Clinic added.")

with deactivate_tab:
    st.caption("A deactivated account can no longer sign in, and its open sessions end at once.")
    target = st.selectbox("Account", [u for u, _, _, active, _ in users if active], key="deactivate_user")
    if target and st.button("Deactivate", key="deactivate"):
        attempt(lambda s: access.deactivate_user(s, who, target), "Account deactivated.")

with reset_tab:
    st.caption("The account's open sessions end. Leave the password empty to make a temporary one, shown once.")
    with st.form("reset_password", clear_on_submit=True):
        target = st.selectbox("Account", [u for u, *_ in users], key="reset_user")
        typed = st.text_input("New password (optional)", type="password", key="reset_password")
        if st.form_submit_button("Reset the password"):
            attempt(lambda s: access.reset_password(s, who, target, typed or None), "Password reset.",
                    temporary=not typed)
