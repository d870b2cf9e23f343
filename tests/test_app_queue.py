"""The app with and without analysis workers (``TRACKER_ANALYSIS``), through Streamlit's AppTest.

By default the app analyses saved photos in the request, as a single clinic
needs. With ``TRACKER_ANALYSIS=worker`` it queues them, and the Session and
Progress pages show each photo as queued, being analysed, analysed or failed
with its reason, with a button to look again.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from test_app import app, errors, sign_in_staff
from test_data_safety import REGION, body_photos
from tracker import photos
from tracker.models import Photo, PhotoAnalysis
from tracker.worker import work
from tracker_helpers import ACTOR, client_with_course, sample_bytes, with_practitioner


@pytest.fixture(scope="module")
def clinic(tmp_path_factory):
    root = tmp_path_factory.mktemp("queue") / "data"
    db = with_practitioner(root)
    yield {"root": root, "db": db}
    db.close()


def session_page(clinic, monkeypatch, ids: dict, session_index: int = 0):
    at = sign_in_staff(app(clinic["root"], monkeypatch))
    at.session_state.client_id = ids["client"]
    at.switch_page("app_pages/session.py").run()
    at.selectbox(key="photo_session").set_value(ids["sessions"][session_index]).run()
    return at


def analysis_captions(at) -> list[str]:
    return [c.value for c in at.caption if c.value.startswith("Analysis: ")]


def save_a_photo(clinic, monkeypatch, name: str, sessions: int):
    """A new client with a course, and the app's session page after saving one front photo to the first
    session; returns the client's ids and the page."""
    ids = client_with_course(clinic["db"], name, sessions=sessions, with_photos=False)
    at = session_page(clinic, monkeypatch, ids)
    at.file_uploader(key="uploads_0").set_value([("front.jpg", sample_bytes(1), "image/jpeg")]).run()
    at.button(key="save_photos").click().run()
    assert not at.exception and not errors(at)
    return ids, at


def test_queue_mode_saves_photos_for_the_workers_and_shows_their_status(clinic, monkeypatch, tmp_path):
    monkeypatch.setenv("TRACKER_ANALYSIS", "worker")
    db = clinic["db"]
    ids, at = save_a_photo(clinic, monkeypatch, "Quinn Queued", sessions=2)
    assert "Saved 1 photo(s); queued for analysis." in [x.value for x in at.success]
    with db.session() as s:
        [baseline] = s.scalars(select(Photo).where(Photo.session_id == ids["sessions"][0])).all()
        assert s.scalars(select(PhotoAnalysis)).all() == []  # nothing analysed in the request
    assert analysis_captions(at) == ["Analysis: queued for analysis"]
    assert at.button(key="refresh_session_status")

    # A body-area photo with no region: the worker records why it cannot be measured.
    [area] = body_photos(tmp_path / "incoming", 1)
    at.selectbox(key="photo_session").set_value(ids["sessions"][1]).run()
    at.selectbox(key="view_choice").set_value("body area").run()
    at.text_input(key="body_area").input("neck").run()
    at.file_uploader(key="uploads_1").set_value([("neck.jpg", area.read_bytes(), "image/jpeg")]).run()
    at.button(key="save_photos").click().run()
    assert "Saved 1 photo(s); queued for analysis." in [x.value for x in at.success]
    with db.session() as s:
        [neck] = s.scalars(select(Photo).where(Photo.session_id == ids["sessions"][1])).all()
        assert photos.claim(s, s.get(Photo, neck.id)) is not None  # as a worker does when it starts on it
    at.button(key="refresh_session_status").click().run()
    [shown] = analysis_captions(at)
    assert shown.startswith("Analysis: being analysed (since ") and shown.endswith(" UTC)")

    # The progress page says what is waiting, in plain words.
    at.switch_page("app_pages/progress.py").run()
    assert not at.exception
    notes = [x.value for x in at.info]
    assert any(n.startswith("Session 1 (") and n.endswith("queued for analysis.") for n in notes), notes
    assert at.button(key="refresh_progress_status")

    with db.session() as s:  # the claim above was a worker that died; on SQLite it lapses after CLAIM_TIMEOUT
        s.query(PhotoAnalysis).filter(PhotoAnalysis.photo_id == neck.id).delete()
        s.commit()
    assert work(db, ACTOR, once=True, log=lambda line: None) == 2
    at.switch_page("app_pages/session.py").run()
    at.selectbox(key="photo_session").set_value(ids["sessions"][0]).run()
    assert analysis_captions(at) == ["Analysis: analysed"]
    assert "refresh_session_status" not in [b.key for b in at.button]
    at.selectbox(key="photo_session").set_value(ids["sessions"][1]).run()
    assert analysis_captions(at) == ["Analysis: analysis failed: mark the region to measure on the baseline photo "
                                     "of this body area"]
    with db.session() as s:
        assert photos.pending(s, ACTOR, ids["client"]) == []
        assert photos.analysis_status(s, ACTOR, [baseline.id])[baseline.id].state == photos.ANALYSED


def test_without_workers_the_app_analyses_in_the_request(clinic, monkeypatch):
    monkeypatch.delenv("TRACKER_ANALYSIS", raising=False)
    db = clinic["db"]
    ids, at = save_a_photo(clinic, monkeypatch, "Ivy Inprocess", sessions=1)
    assert "Saved and analysed 1 photo(s)." in [x.value for x in at.success]
    assert analysis_captions(at) == ["Analysis: analysed"]
    assert "refresh_session_status" not in [b.key for b in at.button]
    with db.session() as s:
        assert photos.pending(s, ACTOR, ids["client"]) == []


def test_in_queue_mode_a_correction_queues_the_analyses_it_made_stale(clinic, monkeypatch, tmp_path):
    monkeypatch.setenv("TRACKER_ANALYSIS", "worker")
    db = clinic["db"]
    ids = client_with_course(db, "Cora Corrected", sessions=2, with_photos=False)
    first, second = body_photos(tmp_path / "incoming", 2)
    with db.session() as s:
        added = [photos.import_photos(s, db.store, ACTOR, session, [photos.Incoming(f.name, f.read_bytes(), "neck",
                                                                                    REGION)])[0].id
                 for session, f in zip(ids["sessions"], (first, second))]
        s.commit()
        photos.analyse_pending(s, db.store, ACTOR, ids["client"])
    at = session_page(clinic, monkeypatch, ids, session_index=1)
    at.radio(key=f"photo_action_{added[1]}").set_value("baseline").run()
    at.text_input(key=f"photo_why_{added[1]}").input("the first was blurred")
    at.button(key=f"FormSubmitter:photo_{added[1]}-Apply").click().run()
    assert not at.exception and not errors(at)
    assert f"Photo {added[1]} is now the baseline of neck. 2 analyses are queued to run again." in [
        x.value for x in at.success]
    with db.session() as s:
        assert [p.id for p in photos.pending(s, ACTOR, ids["client"])] == added  # for the workers, not in the request
    assert analysis_captions(at) == ["Analysis: queued for analysis"]
