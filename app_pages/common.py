"""What every page shares: the open data folder, who is signed in, and the role checks."""

from __future__ import annotations

import streamlit as st

from analysis import decode
from analysis.facemesh import load_model
from tracker.access import Viewer, require_client_access, require_staff
from tracker.errors import NotAllowed
from tracker.db import Database, data_folder, init_data_folder


@st.cache_resource(show_spinner=False)
def _database(root: str) -> Database:
    return init_data_folder(root)


def database() -> Database:
    """The data folder of ``$TRACKER_DATA_DIR`` (default ./data), created and migrated on first use."""
    return _database(str(data_folder().root))


@st.cache_resource(show_spinner="Loading the face model...")
def face_model():
    """The face-landmark model, loaded once per server process."""
    return load_model()


@st.cache_data(show_spinner=False, max_entries=64)
def photo_pixels(sha256: str):
    """A stored photo, decoded once per server and shared between reruns (keyed by its hash)."""
    return decode(database().store.get(sha256)).rgb


def first_view(client_id: int) -> bool:
    """True the first time this browser session opens a client's records, so that the audit log
    records a view once rather than at every widget rerun."""
    seen = st.session_state.setdefault("viewed_clients", set())
    if client_id in seen:
        return False
    seen.add(client_id)
    return True


def viewer() -> Viewer | None:
    return st.session_state.get("viewer")


def sign_out() -> None:
    for key in list(st.session_state):
        del st.session_state[key]


def staff_only() -> Viewer:
    """Stop the page unless a practitioner or admin is signed in."""
    try:
        return require_staff(viewer())
    except NotAllowed as exc:
        st.error(exc.message)
        st.stop()


def client_in_view() -> int:
    """The client whose records this page shows: a client always sees themself; staff the one they chose."""
    who = viewer()
    client_id = who.client_id if who is not None and not who.is_staff else st.session_state.get("client_id")
    if client_id is None:
        st.info("Choose a client on the Clients page first.")
        st.stop()
    try:
        require_client_access(who, client_id)
    except NotAllowed as exc:
        st.error(exc.message)
        st.stop()
    return client_id
