"""Staff accounts, for admins: list, add, deactivate, and reset a password."""

import streamlit as st

from app_pages.common import admin_only, database
from tracker import access
from tracker.errors import RecordError
from tracker.models import ROLES

who = admin_only()
db = database()
st.title("Staff accounts")


def attempt(action, success: str):
    """Run an account change and commit it; say how it went and return its result (None on failure)."""
    try:
        with db.session() as s:
            result = action(s)
            s.commit()
        st.success(success)
        return result
    except RecordError as exc:
        st.error(exc.message)
        return None


table = st.empty()  # filled last, so that it shows the changes made below


def accounts() -> list[tuple]:
    with db.session() as s:
        return [(u.username, u.display_name, u.role, u.active, u.created_at) for u in access.list_users(s, who)]


users = accounts()

add_tab, deactivate_tab, reset_tab = st.tabs(["Add", "Deactivate", "Reset a password"])
with add_tab:
    with st.form("add_user", clear_on_submit=True):
        username = st.text_input("Username (lower-case letters, digits, '.', '_' or '-')", key="new_username")
        name = st.text_input("Name", key="new_user_name")
        role = st.selectbox("Role", ROLES, key="new_role")
        password = st.text_input(f"Password (at least {access.MIN_PASSWORD} characters)", type="password",
                                 key="new_password")
        if st.form_submit_button("Add account"):
            attempt(lambda s: access.add_user(s, who, username, password, role, name), "Account added.")

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
            new = attempt(lambda s: access.reset_password(s, who, target, typed or None), "Password reset.")
            if new and not typed:
                st.write("The temporary password, shown once: give it to the account's owner.")
                st.code(new, language=None)

# A dataframe shows names as cell text, never as markup.
table.dataframe([{"username": u, "name": n, "role": r, "active": a, "created": c} for u, n, r, a, c in accounts()],
                hide_index=True, width="stretch")
