"""Attacker probes of the app's pages (AppTest, real data folder): can a client's sign-in reach another person's
photo pixels or results by setting session-state keys, or open a staff page? Can staff of another clinic?

Ada's course has three analysed sessions, session 3's photo judged to show someone else (withheld from her);
Ben is another client of the same clinic with his own analysed course; Bob works in North only.
"""

from __future__ import annotations

import pathlib

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from app_pages import common
from presentation_helpers import DIFFERENT_PERSON, course_with_a_different_person, forge
from tracker import access, clinics, photos, records
from tracker.db import init_data_folder
from tracker.errors import NotFound
from tracker.models import Photo
from tracker_helpers import ACTOR, client_with_course

APP = str(pathlib.Path(__file__).resolve().parents[1] / "app.py")
PASSWORD = "a long enough secret"


@pytest.fixture(scope="module")
def clinic(tmp_path_factory):
    root = tmp_path_factory.mktemp("probe-app") / "data"
    db = init_data_folder(root)
    ada = course_with_a_different_person(db)
    ben = client_with_course(db, "Ben Other", sessions=3)
    with db.session() as s:
        clinics.add_clinic(s, ACTOR, "North")
        access.add_user(s, ACTOR, "bob", PASSWORD, "practitioner", "Dr Bob", ["North"])
        access.add_user(s, ACTOR, "lee", PASSWORD, "practitioner", "Dr Lee", ["Main clinic"])
        photos.analyse_pending(s, db.store, ACTOR, ben["client"])
        code = records.reset_access_code(s, ACTOR, ada["client"])
        ada_shas = [s.get(Photo, p).sha256 for p in ada["photos"]]
        ben_shas = [s.get(Photo, p).sha256 for p in ben["photos"]]
        s.commit()
    yield {"root": root, "db": db, "ada": ada, "ben": ben, "code": code, "ada_shas": ada_shas,
           "ben_shas": ben_shas}
    db.close()


def loaded_photos(monkeypatch) -> list[str]:
    st.cache_data.clear()
    loaded = []
    real = common.photo_pixels
    monkeypatch.setattr(common, "photo_pixels", lambda sha: loaded.append(sha) or real(sha))
    return loaded


def signed_in_client(clinic, monkeypatch) -> AppTest:
    monkeypatch.setenv("TRACKER_DATA_DIR", str(clinic["root"]))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.text_input(key="access_code").input(clinic["code"])
    at.button[1].click().run()
    assert at.title[0].value == "Your progress"
    return at


def page_text(at: AppTest) -> str:
    parts = [e.value for kind in ("title", "markdown", "caption", "warning", "info", "success", "error")
             for e in at.get(kind)]
    return "\n".join(str(p) for p in parts)


def allowed_pixels(clinic) -> set[str]:
    return {clinic["ada_shas"][0], clinic["ada_shas"][1]}


@pytest.mark.parametrize("state", [
    {"client_id": "ben"},
    {"progress_session": 3},
    {"progress_session": 3, "progress_view": "front"},
])
def test_a_client_setting_session_state_sees_only_her_own_shown_photos(clinic, monkeypatch, state):
    """(progress_course set to Ben's course cannot be probed: AppTest, like a browser, cannot send a selectbox
    value outside its options; the page then asks records.get_course as the client, which says not found.)"""
    loaded = loaded_photos(monkeypatch)
    at = signed_in_client(clinic, monkeypatch)
    loaded.clear()
    values = {"ben": clinic["ben"]["client"], "ben course": clinic["ben"]["course"]}
    for key, value in state.items():
        at.session_state[key] = values.get(value, value)
    at.run()
    assert set(loaded) <= allowed_pixels(clinic), (state, loaded)
    assert "Ben Other" not in page_text(at)


@pytest.mark.parametrize("page", ["app_pages/session.py", "app_pages/record.py", "app_pages/gallery.py",
                                  "app_pages/clients.py", "app_pages/users.py"])
def test_a_client_cannot_open_a_staff_page(clinic, monkeypatch, page):
    loaded = loaded_photos(monkeypatch)
    at = signed_in_client(clinic, monkeypatch)
    loaded.clear()
    at.session_state.client_id = clinic["ada"]["client"]
    at.session_state.session_course = clinic["ada"]["course"]
    at.session_state.photo_session = clinic["ada"]["sessions"][2]
    at.switch_page(page).run()
    text = page_text(at)
    assert set(loaded) <= allowed_pixels(clinic), (page, loaded)
    assert "Ada Example" not in text and "Ben Other" not in text
    assert not any(t.value.startswith(("Session -", "Clients", "Gallery", "Staff")) for t in at.title), text


def test_staff_of_another_clinic_open_nothing_by_client_id(clinic, monkeypatch):
    loaded = loaded_photos(monkeypatch)
    monkeypatch.setenv("TRACKER_DATA_DIR", str(clinic["root"]))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.text_input(key="username").input("bob")
    at.text_input(key="password").input(PASSWORD)
    at.button[0].click().run()
    for page in ("app_pages/progress.py", "app_pages/session.py", "app_pages/record.py"):
        at.session_state.client_id = clinic["ada"]["client"]
        at.session_state.progress_course = clinic["ada"]["course"]
        at.session_state.session_course = clinic["ada"]["course"]
        at.switch_page(page).run()
        assert not loaded, (page, loaded)
        assert "Ada Example" not in page_text(at), page


def test_a_stale_judgement_does_not_show_the_other_persons_photo(clinic, monkeypatch):
    """A correction (here the marker size) makes every analysis stale: until re-analysed, the photo judged
    someone else must still not reach the client."""
    db = clinic["db"]
    with db.session() as s:
        photos.set_marker_size(s, ACTOR, clinic["ada"]["course"], 20.0, "probe")
        s.commit()
    try:
        loaded = loaded_photos(monkeypatch)
        signed_in_client(clinic, monkeypatch)
        assert clinic["ada_shas"][2] not in loaded
    finally:
        with db.session() as s:
            photos.set_marker_size(s, ACTOR, clinic["ada"]["course"], None, "probe undone")
            s.commit()



def test_the_library_gives_a_client_no_photo_judged_someone_else(clinic):
    """get_photo gave the client's Viewer the photo judged someone else's (its hash and results). Through the
    ORM, a session's or course's ``photos`` still hold its row: the pages read only course_progress's rows."""
    with clinic["db"].session() as s:
        withheld = clinic["ada"]["photos"][2]
        if not photos.judged_other_person(s.get(Photo, withheld)):  # an earlier probe made the analyses stale
            photos.analyse_pending(s, clinic["db"].store, ACTOR)
            forge(s, withheld, [DIFFERENT_PERSON])
            s.commit()
        assert photos.judged_other_person(s.get(Photo, withheld))
        client = access.client_viewer(records.get_client(s, ACTOR, clinic["ada"]["client"]))
        with pytest.raises(NotFound):
            photos.get_photo(s, client, withheld)
        assert photos.get_photo(s, ACTOR, withheld).id == withheld  # staff still find it, to remove or move it


def test_a_report_goes_when_a_photo_in_it_is_removed(clinic, monkeypatch):
    """Runs last: it removes Ben's session-3 photo (as another client's) after a report with it was built."""
    db = clinic["db"]
    monkeypatch.setenv("TRACKER_DATA_DIR", str(clinic["root"]))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.text_input(key="username").input("lee")
    at.text_input(key="password").input(PASSWORD)
    at.button[0].click().run()
    at.switch_page("app_pages/gallery.py").run()
    ours = [c.label for c in at.checkbox if f"course #{clinic['ben']['course']}," in c.label]
    assert ours and "session 3" in ours[0], [c.label for c in at.checkbox]
    at.button(key="build_pdf").click().run()
    assert at.session_state.report_pdf.startswith(b"%PDF")
    with db.session() as s:
        photos.remove_photo(s, db.store, ACTOR, clinic["ben"]["photos"][2], "wrong_client")
        s.commit()
    at.run()
    ours = [c.label for c in at.checkbox if f"course #{clinic['ben']['course']}," in c.label]
    assert ours and "session 2" in ours[0]  # the course still offers a pair of the view
    assert "report_pdf" not in at.session_state, "the report with the removed photo is still downloadable"
