"""Skin progress tracker: the Streamlit app.

    streamlit run app.py

Opens on the data folder in ``$TRACKER_DATA_DIR`` (default ``./data``),
creating it on first run. Staff see the practitioner and clinic pages (an
admin also the staff accounts); a client signed in with their access code
sees only their own progress. Who is signed in is re-checked against the
database at every run. The pages call :mod:`tracker` and :mod:`analysis`;
they hold no analysis or SQL.
"""

import streamlit as st

from app_pages.common import clinic_names, sign_out, viewer
from app_pages.ui import plain

st.set_page_config(page_title="Skin progress tracker", page_icon=":material/face:", layout="wide")

PAGES = {
    "signin": st.Page("app_pages/signin.py", title="Sign in", icon=":material/login:", url_path="signin"),
    "clients": st.Page("app_pages/clients.py", title="Clients", icon=":material/group:", url_path="clients"),
    "record": st.Page("app_pages/record.py", title="Client record", icon=":material/assignment_ind:",
                      url_path="record"),
    "session": st.Page("app_pages/session.py", title="Session & photos", icon=":material/photo_camera:",
                       url_path="session"),
    "progress": st.Page("app_pages/progress.py", title="Progress", icon=":material/monitoring:", url_path="progress"),
    "gallery": st.Page("app_pages/gallery.py", title="Gallery & reports", icon=":material/collections:",
                       url_path="gallery"),
    "quality": st.Page("app_pages/quality.py", title="Measurement quality", icon=":material/straighten:",
                       url_path="quality"),
    "users": st.Page("app_pages/users.py", title="Staff accounts", icon=":material/manage_accounts:",
                     url_path="users"),
}

who = viewer()
if who is None:
    pages = [PAGES["signin"]]
elif who.role == "admin":
    pages = [PAGES[name] for name in ("clients", "record", "session", "progress", "gallery", "quality", "users")]
elif who.is_staff:
    pages = [PAGES[name] for name in ("clients", "record", "session", "progress", "gallery", "quality")]
else:
    pages = [PAGES["progress"]]

if who is not None:
    with st.sidebar:
        st.caption(f"Signed in as {plain(who.display_name)} ({who.role})" if who.is_staff
                   else "Signed in with your personal access code")
        if who.is_staff:
            names = list(clinic_names(who).values())
            shown = "all clinics" if who.sees_every_clinic and len(names) > 1 else ", ".join(names) or "none"
            st.caption(f"Clinic{'s' * (len(names) > 1)}: {plain(shown)}")
        st.button("Sign out", on_click=sign_out, key="sign_out")

st.navigation(pages).run()
