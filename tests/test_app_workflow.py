"""A clinic day through Streamlit's AppTest (issue 17, "nothing is lost or filed in the wrong place"): the course
and session chosen stay chosen while their labels change, a photo saved is saved, a new client is the one opened,
and Progress opens the course that has something to show."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select
from streamlit.proto.WidgetStates_pb2 import WidgetState
from streamlit.testing.v1.element_tree import Selectbox

from test_app import app, errors, sign_in_staff
from tracker import photos, records
from tracker.models import Photo
from tracker_helpers import ACTOR, SAMPLES, client_with_course, sample_bytes, with_practitioner


class HeldLabel(Selectbox):
    """A selectbox as the browser sends it back: the label it was showing. AppTest re-labels the chosen value
    with each run's labels, but a browser keeps the label it shows when a rerun changes the labels without
    setting a new value, and sends that label at the next interaction."""

    held: str

    @property
    def _widget_state(self) -> WidgetState:
        return WidgetState(id=self.id, string_value=self.held)


def shown_label(at, key: str) -> str:
    box = at.selectbox(key=key)
    return box.options[box.index]


def browser_holds(at, key: str, label: str) -> None:
    """At the next run, the selectbox ``key`` sends ``label``, as a browser that showed it does."""
    box = at.selectbox(key=key)
    box.__class__, box.held = HeldLabel, label


@pytest.fixture(scope="module")
def clinic(tmp_path_factory):
    root = tmp_path_factory.mktemp("workflow") / "data"
    db = with_practitioner(root)
    yield {"root": root, "db": db}
    db.close()


def stopped_then_active(db, name: str, sessions: int = 0) -> dict:
    """A client whose first course was stopped before any session and whose second course is active, with
    ``sessions`` sessions, each with its sample front photo."""
    ids = client_with_course(db, name, sessions=0, with_photos=False)
    with db.session() as s:
        records.set_course_status(s, ACTOR, ids["course"], "stopped", "wrong area booked")
        active = records.start_course(s, ACTOR, ids["client"], "skin rejuvenation", ["face"], 4, 28, date(2026, 1, 12))
        session_ids = []
        for number in range(1, sessions + 1):
            held = date(2026, 1, 12) + timedelta(days=28 * (number - 1))
            new = records.add_session(s, ACTOR, active.id, held, "Dr Test", "gun", ["face"], [])
            photos.import_photos(s, db.store, ACTOR, new.id, [photos.Incoming(f"s{number}.jpg", sample_bytes(number))])
            session_ids.append(new.id)
        s.commit()
        return {"client": ids["client"], "stopped": ids["course"], "active": active.id, "sessions": session_ids}


def session_page(clinic, monkeypatch, client_id: int):
    at = sign_in_staff(app(clinic["root"], monkeypatch))
    at.session_state.client_id = client_id
    return at.switch_page("app_pages/session.py").run()


def saved_names(db, session_id: int) -> list[str]:
    with db.session() as s:
        return [p.original_name for p in s.scalars(select(Photo).where(Photo.session_id == session_id))]


def record_session(at, held_on: date):
    at.date_input(key="held_on").set_value(held_on)
    at.button(key="FormSubmitter:new_session-Record session").click().run()
    assert not errors(at) and not at.exception, errors(at)
    return at


def test_the_course_stays_put_after_recording_a_session_and_uploading(clinic, monkeypatch):
    """Issue 17.1: recording a session changed the course's label (its session count), and the course box fell
    back to the first course, a stopped one, taking the upload with it."""
    ids = stopped_then_active(clinic["db"], "Cora Course")
    at = session_page(clinic, monkeypatch, ids["client"])
    at.selectbox(key="session_course").set_value(ids["active"]).run()
    label = shown_label(at, "session_course")
    record_session(at, date(2026, 1, 12))
    assert at.selectbox(key="session_course").value == ids["active"]
    browser_holds(at, "session_course", label)  # the label from before the session was recorded
    at.file_uploader(key="uploads_0").set_value([("front.jpg", sample_bytes(1), "image/jpeg")]).run()
    assert at.selectbox(key="session_course").value == ids["active"]
    assert [b for b in at.button if b.key == "save_photos"], "the upload vanished"


def view_bytes(view: str) -> bytes:
    return (SAMPLES / f"session-2-{view}.jpg").read_bytes()


def browser_shows(at, key: str, held: str) -> str:
    """The label a browser that showed ``held`` shows after this run: the one the run set, else still ``held``."""
    box = at.selectbox(key=key)
    return box.proto.raw_value if box.proto.set_value else held


def test_the_photos_box_stays_on_the_session_a_photo_was_saved_to(clinic, monkeypatch):
    """Issue 17.3: saving a photo changed the session's label (its photo count); the browser was left showing
    another session than the page's "Photos of session 2", and at the next upload the box jumped to the last
    session, so the next photo went there."""
    ids = stopped_then_active(clinic["db"], "Sean Session", sessions=3)
    at = session_page(clinic, monkeypatch, ids["client"])
    second = ids["sessions"][1]
    at.selectbox(key="photo_session").set_value(second).run()
    label = shown_label(at, "photo_session")
    at.file_uploader(key="uploads_0").set_value([("left.jpg", view_bytes("left_45"), "image/jpeg")]).run()
    at.button(key="save_photos").click().run()
    assert any("Saved and analysed 1 photo" in s.value for s in at.success), errors(at)
    assert "Photos of session 2" in [h.value for h in at.subheader]
    shown = browser_shows(at, "photo_session", label)
    box = at.selectbox(key="photo_session")
    assert shown == box.options[box.index] and box.value == second, shown
    browser_holds(at, "photo_session", shown)
    at.file_uploader(key="uploads_1").set_value([("right.jpg", view_bytes("right_45"), "image/jpeg")]).run()
    assert at.selectbox(key="photo_session").value == second
    at.button(key="save_photos").click().run()
    assert sorted(saved_names(clinic["db"], second)) == ["left.jpg", "right.jpg", "s2.jpg"]


def test_open_this_client_after_adding_one_opens_the_new_client(clinic, monkeypatch):
    """Issue 17.5: the "Work with" box kept the client it showed before, and "Open this client" opened them."""
    earlier = client_with_course(clinic["db"], "Ann Earlier", sessions=0, with_photos=False)["client"]
    at = sign_in_staff(app(clinic["root"], monkeypatch))
    at.selectbox(key="choose_client").set_value(earlier).run()
    at.text_input(key="new_name").input("Ben Brandnew")
    at.date_input(key="new_dob").set_value(date(1990, 5, 1))
    at.button(key="FormSubmitter:add_client-Add client").click().run()
    assert not errors(at) and not at.exception, errors(at)
    with clinic["db"].session() as s:
        new = next(r.id for r in records.client_overview(s, ACTOR, "Ben Brandnew"))
    at.button(key="open_client").click().run()
    assert at.session_state.client_id == new and at.title[0].value == "Ben Brandnew"


def test_progress_opens_the_active_course_with_photos_and_names_each_courses_status(clinic, monkeypatch):
    """Issue 17.7: Progress opened the first course, an empty stopped one, for staff and for the client."""
    db = clinic["db"]
    ids = stopped_then_active(db, "Pam Progress", sessions=2)
    with db.session() as s:
        photos.analyse_pending(s, db.store, ACTOR, ids["client"])
        code = records.reset_access_code(s, ACTOR, ids["client"])
        s.commit()
    staff = sign_in_staff(app(clinic["root"], monkeypatch))
    staff.session_state.client_id = ids["client"]
    staff.switch_page("app_pages/progress.py").run()
    client = app(clinic["root"], monkeypatch)
    client.run()
    client.text_input(key="access_code").input(code)
    client.button[1].click().run()
    for at in (staff, client):
        assert not at.exception and not errors(at)
        box = at.selectbox(key="progress_course")
        assert box.value == ids["active"]
        assert [o.rsplit(", ", 1)[-1] for o in box.options] == ["stopped", "active"]
        assert len(set(box.options)) == 2  # same treatment, area and start: told apart
        assert "No photos in this course yet." not in [i.value for i in at.info]
        assert at.get("vega_lite_chart")
