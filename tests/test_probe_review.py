"""Attacker probes of issue 16's access rules in the library (review of 82a32e5..3f9b531).

Actors as in tests/test_permissions.py: the owner, Ann (practitioner of Main, Ada's clinic), Bob (practitioner of
North), Dee (practitioner of Main, deactivated after signing in), Ada's own client sign-in, Ben's (another client
of Main). Each probe calls a library function the matrix does not cover and says what should happen. A probe that
found a hole is marked xfail(strict=True) with the file and line: it fails (XPASS) once the hole is fixed.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from tracker import access, clinics, gallery, photos, progress, records, reports
from tracker.errors import NotAllowed, NotFound
from tracker.models import User
from tracker_helpers import ACTOR, client_with_course, new_db

PASSWORD = "a long enough secret"
REFUSED = (NotAllowed, NotFound)


def staff(s, username: str) -> access.Viewer:
    return access.staff_viewer(s.scalar(select(User).where(User.username == username)))


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    """One data folder for the module (each probe rolls back what it did): its setup hashes five secrets."""
    folder = new_db(tmp_path_factory.mktemp("probe") / "data")
    yield folder
    folder.close()


@pytest.fixture(scope="module")
def world(db):
    with db.session() as s:
        main = clinics.list_clinics(s, ACTOR)[0].id
        north = clinics.add_clinic(s, ACTOR, "North").id
        access.add_user(s, ACTOR, "ann", PASSWORD, "practitioner", "Dr Ann", ["Main clinic"])
        access.add_user(s, ACTOR, "bob", PASSWORD, "practitioner", "Dr Bob", ["North"])
        access.add_user(s, ACTOR, "dee", PASSWORD, "practitioner", "Dr Dee", ["Main clinic"])
        s.commit()
    ada = client_with_course(db, "Ada Example", sessions=2, clinic_id=main)
    ben = client_with_course(db, "Ben Other", sessions=1, with_photos=False, clinic_id=main)
    with db.session() as s:
        screening = records.get_client(s, ACTOR, ada["client"]).screenings[0].id
        consent = records.get_client(s, ACTOR, ada["client"]).consents[0].id
        actors = {"ann": staff(s, "ann"), "bob": staff(s, "bob"), "dee": staff(s, "dee"),
                  "ada": access.client_viewer(records.get_client(s, ACTOR, ada["client"])),
                  "ben": access.client_viewer(records.get_client(s, ACTOR, ben["client"]))}
        access.deactivate_user(s, ACTOR, "dee")
        s.commit()
    return {"db": db, "ada": ada, "ben": ben, "actors": actors, "main": main, "north": north,
            "screening": screening, "consent": consent}


def outcome(world, who: str, call) -> str:
    db = world["db"]
    with db.session() as s:
        try:
            call(s, world["actors"][who])
            return "allowed"
        except NotFound:
            return "not found"
        except NotAllowed:
            return "not allowed"
        finally:
            s.rollback()


# --- reads that take a record the caller fetched, or no actor at all --------------------------------------

def _progress_of_adas_course(world):
    def call(s, who):
        course = records.get_course(s, ACTOR, world["ada"]["course"])  # fetched by someone else (a bug, a script)
        rows = progress.course_progress(s, who, course)
        assert progress.photo_hashes(course, rows), "the probe needs photo hashes to leak"
    return call


@pytest.mark.parametrize("who", ["ben", "bob", "dee"])
def test_course_progress_checks_its_viewer(world, who):
    assert outcome(world, who, _progress_of_adas_course(world)) != "allowed"


def test_analysis_status_takes_a_viewer():
    import inspect
    assert "viewer" in inspect.signature(photos.analysis_status).parameters


# --- lists read without check(): a deactivated account ---------------------------------------------------

LISTS = {
    "client_overview": lambda s, who: records.client_overview(s, who),
    "due_courses": lambda s, who: records.due_courses(s, who, today=date(2027, 1, 1)),
    "batch_recall": lambda s, who: records.batch_recall(s, who, "B1"),
    "pending": lambda s, who: photos.pending(s, who),
    "list_clinics": lambda s, who: clinics.list_clinics(s, who),
}


def _non_empty(call):
    def run(s, who):
        got = call(s, who)
        assert got, "empty: nothing read"
    return run


@pytest.mark.parametrize("name", sorted(LISTS))
def test_a_deactivated_account_lists_nothing(world, name):
    assert outcome(world, "dee", _non_empty(LISTS[name])) != "allowed"


@pytest.mark.parametrize("name", sorted(set(LISTS) - {"list_clinics"}))
def test_another_clinic_and_another_client_list_nothing_of_adas(world, name):
    for who in ("bob", "ben"):
        with world["db"].session() as s:
            got = LISTS[name](s, world["actors"][who])
            ids = {getattr(x, "client_id", getattr(x, "id", None)) for x in got} if name != "pending" else \
                {p.session.course.client_id for p in got}
            assert world["ada"]["client"] not in ids, (name, who)
            s.rollback()


def test_history_of_another_client(world):
    assert outcome(world, "ben", lambda s, who: records.history(s, who, world["ada"]["client"])) == "not found"
    assert outcome(world, "bob", lambda s, who: records.history(s, who, world["ada"]["client"])) == "not found"
    assert outcome(world, "dee", lambda s, who: records.history(s, who, world["ada"]["client"])) == "not allowed"


# --- writes the matrix does not cover ------------------------------------------------------------------------

def writes(world):
    ada = world["ada"]
    return {
        "give_consent": lambda s, w: records.give_consent(s, w, ada["client"], "marketing", date(2026, 2, 1), "x"),
        "withdraw_consent": lambda s, w: records.withdraw_consent(s, w, ada["client"], "marketing", date(2026, 2, 1)),
        "amend_consent": lambda s, w: records.amend_consent(s, w, world["consent"], "typo", date(2026, 1, 4)),
        "amend_screening": lambda s, w: records.amend_screening(s, w, world["screening"], "typo", notes="x"),
        "record_screening": lambda s, w: records.record_screening(s, w, ada["client"], date(2026, 1, 6)),
        "reset_access_code": lambda s, w: records.reset_access_code(s, w, ada["client"]),
        "start_course": lambda s, w: records.start_course(s, w, ada["client"], "peel", ["face"], 2, 28,
                                                          date(2026, 3, 1)),
        "set_course_status": lambda s, w: records.set_course_status(s, w, ada["course"], "stopped", "x"),
        "add_session": lambda s, w: records.add_session(s, w, ada["course"], date(2026, 3, 2), "x", "gun", ["face"],
                                                        confirmed=True),
        "amend_session": lambda s, w: records.amend_session(s, w, ada["sessions"][0], "typo", notes="x"),
        "record_hexsel": lambda s, w: records.record_hexsel(s, w, ada["sessions"][0], depressions_number=1,
                                                            depressions_depth=1, morphology=1, laxity=1,
                                                            nurnberger=1),
        "choose_baseline": lambda s, w: photos.choose_baseline(s, w, ada["photos"][1], "x"),
        "set_marker_size": lambda s, w: photos.set_marker_size(s, w, ada["course"], 10.0, "x"),
        "analyse_pending": lambda s, w: photos.analyse_pending(s, None, w, ada["client"]),
        "capture_preview": lambda s, w: photos.check_photo_consent(s, w, ada["sessions"][0]),
    }


WRITES = ["give_consent", "withdraw_consent", "amend_consent", "amend_screening", "record_screening",
          "reset_access_code", "start_course", "set_course_status", "add_session", "amend_session",
          "record_hexsel", "choose_baseline", "set_marker_size", "analyse_pending", "capture_preview"]


@pytest.mark.parametrize("name", WRITES)
@pytest.mark.parametrize("who, refused", [("ada", "not allowed"), ("ben", "not found"), ("bob", "not found"),
                                          ("dee", "not allowed")])
def test_writes_refused(world, name, who, refused):
    got = outcome(world, who, writes(world)[name])
    if name == "analyse_pending" and who in ("bob", "ben"):
        refused = "not allowed" if who == "ben" else "not found"
    assert got == refused, (name, who, got)


def test_a_photo_moves_to_no_session_of_another_clinics_client(world, db):
    north_client = client_with_course(db, "Nora North", sessions=1, with_photos=False, clinic_id=world["north"])
    got = outcome(world, "ann", lambda s, w: photos.move_photo(s, w, world["ada"]["photos"][1], "x",
                                                                 session_id=north_client["sessions"][0]))
    assert got == "not found"


# --- a Viewer held across a change of its clinics -------------------------------------------------------------

def test_a_practitioner_taken_out_of_a_clinic_no_longer_sees_its_clients(world):
    db = world["db"]
    with db.session() as s:
        access.add_user(s, ACTOR, "fay", PASSWORD, "practitioner", "Dr Fay", ["Main clinic"])
        s.commit()
        fay = staff(s, "fay")  # signed in while she works in Main
        access.join_clinic(s, ACTOR, "fay", "North")
        access.leave_clinic(s, ACTOR, "fay", "Main clinic")
        s.commit()
        with pytest.raises(NotFound):
            records.update_client(s, fay, world["ada"]["client"], "probe", notes="written by fay after leaving")


# --- the gallery's pairs are trusted as given --------------------------------------------------------------

def test_a_report_holds_no_client_without_marketing_consent(world, db):
    cy = client_with_course(db, "Cy NoMarketing", sessions=2, marketing=False, clinic_id=world["main"])
    with db.session() as s:
        ann = world["actors"]["ann"]
        course = records.get_course(s, ann, cy["course"])
        before, after = (photos.get_photo(s, ann, p) for p in cy["photos"])
        pair = gallery.GalleryPair(cy["client"], course.id, "front", before, after)
        assert pair not in gallery.eligible_pairs(s, ann)
        with pytest.raises(REFUSED):
            reports.report_pdf(s, db.store, ann, [pair])
