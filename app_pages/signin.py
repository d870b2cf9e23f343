"""Sign in: staff with username and password, clients with their access code; first-run setup."""

import streamlit as st

from app_pages.common import database
from tracker.access import Viewer, add_user, authenticate, client_for_code, has_users
from tracker.errors import RecordError
from tracker.records import audit
from tracker.samples import load_sample_course, sample_loaded

db = database()
st.title("Skin progress tracker")

with db.session() as s:
    first_run = not has_users(s)

if first_run:
    st.subheader("First run: create the first admin account")
    st.caption(f"Data folder: {db.folder.root}")
    with st.form("first_admin"):
        username = st.text_input("Username", key="first_username")
        name = st.text_input("Your name", key="first_name")
        password = st.text_input("Password (at least 10 characters)", type="password", key="first_password")
        again = st.text_input("Password again", type="password", key="first_again")
        sample = st.checkbox("Load the sample course (simulated photos from a public-domain portrait)", value=True,
                             key="first_sample")
        if st.form_submit_button("Create account"):
            if password != again:
                st.error("The passwords differ.")
            else:
                try:
                    with db.session() as s:
                        user = add_user(s, username.strip(), password, "admin", name.strip())
                        audit(s, user.username, "create", "user", user.id, None)
                        s.commit()
                        st.session_state.viewer = Viewer(user.display_name, "admin")
                    if sample and not sample_loaded(db):
                        bar = st.progress(0.0, "Loading the sample course...")
                        load_sample_course(db, user.username, lambda i, n, label: bar.progress(i / n, label))
                    st.rerun()
                except RecordError as exc:
                    st.error(exc.message)
    st.stop()

staff, client = st.tabs(["Staff", "Client"])
with staff:
    with st.form("staff_sign_in"):
        username = st.text_input("Username", key="username")
        password = st.text_input("Password", type="password", key="password")
        if st.form_submit_button("Sign in"):
            with db.session() as s:
                user = authenticate(s, username.strip(), password)
                if user is None:
                    st.error("Unknown username or wrong password.")
                else:
                    audit(s, user.username, "login", "user", user.id, None)
                    s.commit()
                    st.session_state.viewer = Viewer(user.display_name, user.role)
                    st.rerun()
with client:
    with st.form("client_sign_in"):
        code = st.text_input("Your personal access code", key="access_code", help="From your clinic, e.g. 12-ABCD-EFGH")
        if st.form_submit_button("See my progress"):
            with db.session() as s:
                found = client_for_code(s, code)
                if found is None:
                    st.error("This access code is not valid. Ask your clinic for a new one.")
                else:
                    audit(s, "client", "login", "client", found.id, found.id)
                    s.commit()
                    st.session_state.viewer = Viewer("client", "client", client_id=found.id)
                    st.rerun()
