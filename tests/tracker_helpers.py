"""Builders for tracker tests: a real data folder with a client, consents, a course and photos."""

from __future__ import annotations

import json
import pathlib
from datetime import date

from tracker import access, records
from tracker.db import DataFolder, data_folder, init_data_folder
from tracker.photos import Incoming, import_photos

SAMPLES = pathlib.Path(__file__).resolve().parents[1] / "sample_images"
COURSE = json.loads((SAMPLES / "course.json").read_text())
ACTOR = access.owner("dr.test")  # the server's owner (the command line), never a bare name


def injected(number: int, key: str = "delta_a_star") -> float:
    """The simulated treatment effect injected into the sample course's session ``number`` (course.json)."""
    return COURSE["sessions"][number - 1]["injected"][key]


def sample_bytes(number: int) -> bytes:
    return (SAMPLES / f"session-{number}-front.jpg").read_bytes()


#: The password of the staff accounts the app tests sign in with.
PASSWORD = "a long enough secret"


def with_practitioner(root: pathlib.Path, username: str = "lee", name: str = "Dr Lee"):
    """A new data folder at ``root`` (embedded defaults) with one practitioner who signs in with :data:`PASSWORD`."""
    db = init_data_folder(root)
    with db.session() as s:
        access.add_user(s, ACTOR, username, PASSWORD, "practitioner", name)
        s.commit()
    return db


def new_db(path: pathlib.Path):
    """A new data folder on the test's backend (the environment the ``backends`` fixture set; see conftest)."""
    return init_data_folder(path)


def new_folder(backend, path: pathlib.Path) -> DataFolder:
    """Another data folder on ``backend``, with an empty database and photo store of its own (not yet created)."""
    settings = backend.environment()
    return data_folder(path, settings["TRACKER_DATABASE_URL"], settings["TRACKER_PHOTO_STORE"])


def client_with_course(db, name: str = "Ada Example", sessions: int = 2, marketing: bool = True,
                       with_photos: bool = True, clinic_id: int | None = None) -> dict:
    """A screened, consenting client (of ``clinic_id``, default the only clinic) with a course of ``sessions``
    sessions, each with its sample photo."""
    with db.session() as s:
        client, code = records.add_client(s, ACTOR, name, date(1985, 12, 10), "ada@example.org", 2,
                                          clinic_id=clinic_id)
        records.record_screening(s, ACTOR, client.id, date(2026, 1, 5), patch_test_on=date(2026, 1, 5),
                                 patch_test_result="negative")
        kinds = ("treatment", "photography", "marketing") if marketing else ("treatment", "photography")
        for kind in kinds:
            records.give_consent(s, ACTOR, client.id, kind, date(2026, 1, 5), name)
        course = records.start_course(s, ACTOR, client.id, "skin rejuvenation", ["face"], 4, 28, date(2026, 1, 12))
        session_ids, photo_ids = [], []
        for number in range(1, sessions + 1):
            held = date.fromisoformat(COURSE["sessions"][number - 1]["date"])
            ses = records.add_session(s, ACTOR, course.id, held, "Dr Test", "gun", ["face"],
                                      [{"product": "HA complex", "batch": f"B{number}", "expiry": date(2027, 6, 30),
                                        "volume_ml": 3.0}])
            session_ids.append(ses.id)
            if with_photos:
                photos = import_photos(s, db.store, ACTOR, ses.id,
                                       [Incoming(f"session-{number}-front.jpg", sample_bytes(number))])
                photo_ids += [p.id for p in photos]
        s.commit()
        return {"client": client.id, "code": code, "course": course.id, "sessions": session_ids,
                "photos": photo_ids}
