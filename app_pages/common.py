"""What every page shares: the open data folder, who is signed in, the role checks, and user text as text."""

from __future__ import annotations

import secrets
import sys
import threading
import time

import streamlit as st

from app_pages.ui import plain

from analysis import decode
from analysis.facemesh import load_model
from tracker import clinics, records
from tracker.access import Viewer, current, idle_timeout_s, register_setup_token, require_admin, require_staff
from tracker.errors import NotAllowed, NotFound
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
    """Who is signed in, re-checked against the database at every page run: an erased client, a
    reissued access code, a deactivated or changed account, or :func:`idle_timeout_s` without a page
    run ends the session (and the sign-in page says why)."""
    who = st.session_state.get("viewer")
    if who is None:
        return None
    now = time.time()
    idle = now - st.session_state.get("last_active", now) > idle_timeout_s()
    if not idle:
        with database().session() as s:
            who = current(s, who)
    if idle or who is None:
        sign_out()
        st.session_state.signed_out_because = (
            f"You were signed out after {idle_timeout_s() / 60:.0f} minutes without activity." if idle else
            "Your session has ended because your account or access code changed. Please sign in again.")
        return None
    st.session_state.viewer, st.session_state.last_active = who, now
    return who


def sign_in(who: Viewer) -> None:
    st.session_state.viewer, st.session_state.last_active = who, time.time()


def sign_out() -> None:
    for key in list(st.session_state):
        del st.session_state[key]


@st.cache_resource(show_spinner=False)
def _setup_tokens() -> tuple[dict, threading.Lock]:
    return {}, threading.Lock()


def setup_token(db: Database) -> None:
    """Make this server process's one-time token for setting up the first admin of the data folder, record its
    hash in the database (so that every app instance on it accepts the token) and print it on the server's
    console, once per process; it is never shown in the app."""
    root = str(db.folder.root)
    tokens, lock = _setup_tokens()
    with lock:
        if root in tokens:
            return
        tokens[root] = secrets.token_urlsafe(16)
        with db.session() as s:
            register_setup_token(s, tokens[root])
            s.commit()
        print(f"\nSetup token for the first admin account of {root}:\n\n    {tokens[root]}\n\n"
              "Enter it on the app's sign-in page (or instead run: python -m tracker user add NAME --role "
              "admin).\n", file=sys.stderr, flush=True)


def _allowed(rule) -> Viewer:
    """The signed-in viewer if ``rule`` (a :mod:`tracker.access` check) lets them in; else stop the page."""
    try:
        return rule(viewer())
    except NotAllowed as exc:
        st.error(plain(exc.message))
        st.stop()


def staff_only() -> Viewer:
    """Stop the page unless a practitioner or admin is signed in."""
    return _allowed(require_staff)


def admin_only() -> Viewer:
    """Stop the page unless an admin is signed in."""
    return _allowed(require_admin)


def client_in_view() -> int:
    """The client whose records this page shows: a client always sees themself; staff the one they chose."""
    who = viewer()
    client_id = who.client_id if who is not None and not who.is_staff else st.session_state.get("client_id")
    if client_id is None:
        st.info("Choose a client on the Clients page first.")
        st.stop()
    try:
        with database().session() as s:
            records.get_client(s, who, client_id)  # another clinic's client is "not found", like a missing one
    except NotFound as exc:
        st.session_state.pop("client_id", None)
        st.error(plain(exc.message))
        st.stop()
    return client_id


def clinic_names(who: Viewer) -> dict[int, str]:
    """The clinics ``who`` sees, by id (every clinic for an admin)."""
    with database().session() as s:
        return {c.id: c.name for c in clinics.list_clinics(s, who)}


def choose_clinic(who: Viewer, label: str, key: str, every: str | None = None) -> int | None:
    """A clinic picked among those ``who`` sees, shown only when there are several; with one, that one.

    With ``every`` (its label) the choice may also be every clinic: None.
    """
    names = clinic_names(who)
    if len(names) == 1:
        return next(iter(names))
    options = ([None] if every else []) + list(names)
    return st.selectbox(label, options, format_func=lambda c: every if c is None else names[c], key=key)


def choose(label: str, labels: dict, key: str, default=None):
    """A selectbox of ``labels``' keys, shown by their labels, that keeps its choice when a label changes.

    A browser sends back the label it shows, not the option: after a run that changed the chosen option's label
    (a session recorded, a photo saved) that label matches no option, and Streamlit falls back to the first
    option, e.g. a stopped course. The last choice is kept in ``st.session_state[key + "_kept"]`` and put back.
    A value set in ``st.session_state[key]`` before the page runs (another page opening a session) is taken;
    with none, or one no longer offered, ``default`` (else the first option).
    """
    options, kept = list(labels), f"{key}_kept"
    value = st.session_state.get(key)
    if value not in options:
        restored = st.session_state.get(kept)
        value = restored if restored in options else default if default in options else options[0]
    st.session_state[key] = value  # set at every run, so the browser is sent this run's label, never left on an old one
    st.session_state[kept] = st.selectbox(label, options, format_func=labels.get, key=key)
    return st.session_state[kept]
