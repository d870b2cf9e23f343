"""Who may do what, decided inside the library (issue 16.11): every actor against every action, on both backends.

Each cell calls the real library function the app and the command line call, on one client's records (Ada, of
Main clinic), and classifies what happened: the action was done ("allowed"), refused for the role or the sign-in
(:class:`NotAllowed`), or the records do not exist for this actor (:class:`NotFound`, exactly as for a missing
client). Before issue 16.11 a client's own Viewer could correct and erase their records, a practitioner could
erase, and any bare name acted as the group's admin.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tracker import access, backup, clientdata, clinics, gallery, photos, records, reports
from tracker.errors import NotAllowed, NotFound
from tracker.models import User
from tracker.photos import Incoming
from tracker_helpers import ACTOR, client_with_course, new_folder, sample_bytes

pytestmark = pytest.mark.backends

PASSWORD = "a long enough secret"
A, NA, NF = "allowed", "not allowed", "not found"
ACTORS = ("owner", "group admin", "practitioner here", "practitioner elsewhere", "the client", "another client",
          "deactivated")
#: action -> the expected outcome for each of ACTORS, in order.
EXPECTED = {
    "view": (A, A, A, NF, A, NF, NA),
    "correct": (A, A, A, NF, NA, NF, NA),
    "import": (A, A, A, NF, NA, NF, NA),
    "move": (A, A, A, NF, NA, NF, NA),
    "remove": (A, A, A, NF, NA, NF, NA),
    "erase": (A, A, NA, NF, NA, NF, NA),
    "export": (A, A, NA, NF, NA, NF, NA),
    "gallery": (A, A, A, A, NA, NA, NA),
    "report": (A, A, A, A, NA, NA, NA),
    "manage staff": (A, A, NA, NA, NA, NA, NA),
    "backup": (A, NA, NA, NA, NA, NA, NA),
    "restore": (A, NA, NA, NA, NA, NA, NA),
}


def staff(s, username: str) -> access.Viewer:
    return access.staff_viewer(s.scalar(select(User).where(User.username == username)))


@pytest.fixture
def world(db, tmp_path):
    """Ada (Main clinic) with a course and photos; Ben, another client; staff of Main and of North."""
    with db.session() as s:
        main = clinics.list_clinics(s, ACTOR)[0].id
        clinics.add_clinic(s, ACTOR, "North")
        access.add_user(s, ACTOR, "ann", PASSWORD, "practitioner", "Dr Ann", ["Main clinic"])
        access.add_user(s, ACTOR, "bob", PASSWORD, "practitioner", "Dr Bob", ["North"])
        access.add_user(s, ACTOR, "gia", PASSWORD, "admin", "Gia", ["North"])
        access.add_user(s, ACTOR, "dee", PASSWORD, "practitioner", "Dr Dee", ["Main clinic"])
        s.commit()
    ada = client_with_course(db, "Ada Example", sessions=2, clinic_id=main)
    ben = client_with_course(db, "Ben Other", sessions=1, with_photos=False, clinic_id=main)
    with db.session() as s:
        actors = {"owner": ACTOR, "group admin": staff(s, "gia"), "practitioner here": staff(s, "ann"),
                  "practitioner elsewhere": staff(s, "bob"), "deactivated": staff(s, "dee"),
                  "the client": access.client_viewer(records.get_client(s, ACTOR, ada["client"])),
                  "another client": access.client_viewer(records.get_client(s, ACTOR, ben["client"]))}
        access.deactivate_user(s, ACTOR, "dee")  # after its sign-in: the library must see it is no longer valid
        s.commit()
    archive = tmp_path / "backup.zip"
    backup.backup(db, archive, actor=ACTOR)
    return {"db": db, "ada": ada, "actors": actors, "archive": archive, "tmp": tmp_path, "main": main}


def _erasable(world) -> int:
    """A client of Main clinic to erase (erasure cannot be rolled back)."""
    with world["db"].session() as s:
        client, _ = records.add_client(s, ACTOR, "Eve Erasable", clinic_id=world["main"])
        s.commit()
        return client.id


def attempt(world, backend, who: access.Viewer, action: str, cell: int) -> str:
    """Run ``action`` as ``who`` on Ada's records; what happened. Nothing it did is kept (except an erasure
    or a restore, each of its own target)."""
    db, ada, tmp = world["db"], world["ada"], world["tmp"]
    try:
        if action == "erase":
            clientdata.erase_client(db, db.store, who, _erasable(world) if who.is_staff else ada["client"])
            return A
        if action == "restore":
            backup.restore(world["archive"], new_folder(backend, tmp / f"restored-{cell}"), actor=who)
            return A
        with db.session() as s:
            try:
                {
                    "view": lambda: records.get_client(s, who, ada["client"]),
                    "correct": lambda: records.update_client(s, who, ada["client"], "typo", notes=f"n{cell}"),
                    "import": lambda: photos.import_photos(s, db.store, who, ada["sessions"][1],
                                                           [Incoming("session-3-front.jpg", sample_bytes(3))]),
                    "move": lambda: photos.move_photo(s, who, ada["photos"][1], "wrong view", view="left thigh"),
                    "remove": lambda: photos.remove_photo(s, db.store, who, ada["photos"][1], "unusable"),
                    "export": lambda: clientdata.export_client(s, db.store, who, ada["client"], tmp / f"out-{cell}"),
                    "gallery": lambda: gallery.eligible_pairs(s, who),
                    "report": lambda: reports.report_pdf(s, db.store, who, []),
                    "manage staff": lambda: access.add_user(s, who, f"new{cell}", PASSWORD, "practitioner",
                                                            clinics=["Main clinic"]),
                    "backup": lambda: backup.backup(db, tmp / f"backup-{cell}.zip", actor=who),
                }[action]()
            finally:
                s.rollback()
        return A
    except NotFound:
        return NF
    except NotAllowed:
        return NA


def test_every_actor_against_every_action(world, backend):
    got, cell = {}, 0
    for action, expected in EXPECTED.items():
        for name, want in zip(ACTORS, expected):
            cell += 1
            got[action, name] = attempt(world, backend, world["actors"][name], action, cell)
    wrong = {key: (outcome, EXPECTED[key[0]][ACTORS.index(key[1])]) for key, outcome in got.items()
             if outcome != EXPECTED[key[0]][ACTORS.index(key[1])]}
    assert wrong == {}, "(action, actor): (what happened, what should)"
    with world["db"].session() as s:  # none of the refused corrections reached the records
        assert records.get_client(s, ACTOR, world["ada"]["client"]).notes in ("", *(f"n{i}" for i in range(1, 4)))


def test_a_bare_name_is_no_actor(db):
    """A plain string used to act as the group's admin."""
    with db.session() as s:
        with pytest.raises(TypeError, match="an actor is a Viewer"):
            records.add_client(s, "dr.anyone", "Ada")
        with pytest.raises(TypeError, match="an actor is a Viewer"):
            records.client_overview(s, "dr.anyone")


def test_allowed_is_one_decision_for_every_role():
    client = access.Viewer("client", "client", client_id=1)
    practitioner = access.Viewer("lee", "practitioner", clinics=frozenset({1}))
    assert access.allowed(access.owner("root"), "restore") and not access.allowed(access.Viewer("gia", "admin"),
                                                                                  "restore")
    assert access.allowed(practitioner, "correct") and not access.allowed(practitioner, "erase")
    assert access.allowed(client, "view") and not access.allowed(client, "correct")
    assert set(access.POLICY) == {"view", "correct", "import", "move", "remove", "analyse", "erase", "export",
                                  "gallery", "report", "manage_staff", "quality", "calibrate", "backup",
                                  "restore"}
    with pytest.raises(KeyError):
        access.allowed(practitioner, "delete everything")
