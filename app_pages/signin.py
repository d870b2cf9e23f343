"""Sign in: staff with username and password, clients with their access code.

While no staff account exists, the page offers to create the first admin, but
only to whoever has the one-time setup token printed on the server's console
(or the server's owner runs ``python -m tracker user add NAME --role admin``).
"""

import streamlit as st

from app_pages.ui import plain

from app_pages.common import database, setup_token, sign_in
from tracker.access import (SignInRefused, create_first_admin, has_users, setup_token_valid, sign_in_client,
                            sign_in_staff, staff_viewer)
from tracker.errors import RecordError
from tracker.samples import load_sample_course, sample_loaded

db = database()
st.title("Skin progress tracker")
if "signed_out_because" in st.session_state:
    st.info(st.session_state.pop("signed_out_because"))

with db.session() as s:
    first_run = not has_users(s)

if first_run:
    setup_token(db)
    st.subheader("First run: create the first admin account")
    st.markdown("This data folder has no staff account yet. Only the server's owner can create the first one: "
                "enter the **setup token** printed in the console where `streamlit run app.py` was started, "
                "or run `python -m tracker user add NAME --role admin` on the server and reload this page.")
    with st.form("first_admin"):
        typed = st.text_input("Setup token (from the server's console)", type="password", key="setup_token")
        username = st.text_input("Username (lower-case letters, digits, '.', '_' or '-')", key="first_username")
        name = st.text_input("Your name", key="first_name")
        password = st.text_input("Password (at least 10 characters)", type="password", key="first_password")
        again = st.text_input("Password again", type="password", key="first_again")
        sample = st.checkbox("Load the sample course (simulated photos from a public-domain portrait)", value=True,
                             key="first_sample")
        if st.form_submit_button("Create account"):
            with db.session() as s:
                known = setup_token_valid(s, typed)
            if not known:
                st.error("This is not the setup token printed in the server's console.")
            elif password != again:
                st.error("The passwords differ.")
            else:
                try:
                    with db.session() as s:
                        user = create_first_admin(s, username, password, name)
                        s.commit()
                        who = staff_viewer(user)
                    sign_in(who)
                    if sample and not sample_loaded(db):
                        bar = st.progress(0.0, "Loading the sample course...")
                        load_sample_course(db, who, lambda i, n, label: bar.progress(i / n, label))
                    st.rerun()
                except RecordError as exc:
                    st.error(plain(exc.message))
    st.stop()

staff, client = st.tabs(["Staff", "Client"])
with staff:
    with st.form("staff_sign_in"):
        username = st.text_input("Username", key="username")
        password = st.text_input("Password", type="password", key="password")
        if st.form_submit_button("Sign in"):
            try:
                with db.session() as s:
                    sign_in(sign_in_staff(s, username.strip(), password))
                st.rerun()
            except SignInRefused as exc:
                st.error(plain(exc.message))
with client:
    with st.form("client_sign_in"):
        code = st.text_input("Your personal access code", key="access_code", help="From your clinic, e.g. 12-ABCD-EFGH")
        if st.form_submit_button("See my progress"):
            try:
                with db.session() as s:
                    sign_in(sign_in_client(s, code))
                st.rerun()
            except SignInRefused as exc:
                st.error(plain(exc.message))
