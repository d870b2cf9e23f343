"""Load the simulated sample courses from ``sample_images/`` into a data folder.

So that a newcomer sees real charts within a minute: a client named as
simulated, screened and consenting (marketing included, so the gallery has
pairs), one course of four monthly sessions with their front and 45-degree
photos, analysed; and two more simulated clients, one with a hair-loss course
(``sample_images/hair-loss/``: the midline part) and one with a cellulite
course (``sample_images/cellulite/``: the posterior thighs, with simulated
Hexsel scores), rendered by :mod:`analysis.simulate`, their photos' files
named ``SIMULATED-...``.
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import Callable
from datetime import date

from sqlalchemy import select

from .db import Database
from .models import Client
from .photos import Incoming, analyse_pending, import_photos
from .clinics import list_clinics
from .records import Actor, add_client, add_session, give_consent, record_hexsel, record_screening, start_course

SAMPLE_DIR = pathlib.Path(__file__).resolve().parents[1] / "sample_images"
SAMPLE_NAME = "Sample client (simulated)"
#: The simulated body-area courses: folder, client, the course's treatment and areas (tracker.models).
BODY_SAMPLES = (("hair-loss", "Sample client, hair loss (SIMULATED)", "hair loss", ["scalp"]),
                ("cellulite", "Sample client, cellulite (SIMULATED)", "cellulite/fat", ["body"]))


def sample_loaded(db: Database) -> bool:
    with db.session() as s:
        return s.scalar(select(Client.id).where(Client.name == SAMPLE_NAME)) is not None


def load_sample_course(db: Database, actor: Actor, progress: Callable[[int, int, str], None] | None = None,
                       folder: pathlib.Path = SAMPLE_DIR, clinic_id: int | None = None) -> int:
    """Create the sample clients and courses, import and analyse their photos; returns the face client's id.

    The clients join ``clinic_id``, else the first clinic ``actor`` sees.
    """
    clinic_id = clinic_id or _first_clinic(db, actor)
    client_id = _face_course(db, actor, progress, folder, clinic_id)
    for name, client, treatment, areas in BODY_SAMPLES:
        if (folder / name / "course.json").exists():
            if progress:
                progress(1, 1, f"loading the simulated {treatment} course")
            _body_course(db, actor, folder / name, client, treatment, areas, clinic_id)
    return client_id


def _first_clinic(db: Database, actor: Actor) -> int:
    with db.session() as s:
        return min(c.id for c in list_clinics(s, actor))


def _face_course(db: Database, actor: Actor, progress, folder: pathlib.Path, clinic_id: int) -> int:
    manifest = json.loads((folder / "course.json").read_text())
    sessions = manifest["sessions"]
    first = date.fromisoformat(sessions[0]["date"])
    with db.session() as s:
        client, _ = add_client(s, actor, SAMPLE_NAME, date(1985, 6, 1), "", 2,
                               "Simulated data generated from a public-domain portrait; not a real client.",
                               clinic_id)
        record_screening(s, actor, client.id, first, patch_test_on=first, patch_test_result="negative")
        for kind in ("treatment", "photography", "marketing"):
            give_consent(s, actor, client.id, kind, first, SAMPLE_NAME)
        course = start_course(s, actor, client.id, manifest["treatment"], ["face"], len(sessions), 28, first)
        for i, entry in enumerate(sessions, start=1):
            session = add_session(s, actor, course.id, date.fromisoformat(entry["date"]), "Sample practitioner",
                                  "gun", ["face"], [{"product": "Hyaluronic acid + vitamin complex (simulated)",
                                                     "batch": f"SIM-{i:03d}", "expiry": date(2027, 12, 31),
                                                     "volume_ml": 3.0}],
                                  notes="Simulated session", aftercare="Avoid make-up for 12 hours")
            import_photos(s, db.store, actor, session.id, [Incoming(p["photo"], (folder / p["photo"]).read_bytes(),
                                                                    p["view"]) for p in entry["photos"]])
            if progress:
                progress(i, 2 * len(sessions), f"imported session {i}")
        s.commit()
        total = sum(len(entry["photos"]) for entry in sessions)
        analyse_pending(s, db.store, actor, client.id,
                        lambda i, n, p: progress(len(sessions) + i * len(sessions) // total, 2 * len(sessions),
                                                 f"analysed photo {i} of {n}") if progress else None)
        return client.id


def _body_course(db: Database, actor: Actor, folder: pathlib.Path, name: str, treatment: str, areas: list[str],
                 clinic_id: int | None = None) -> int:
    """A simulated hair-loss or cellulite course from ``folder/course.json``: the region marked on the baseline,
    the marker's size recorded, each session's Hexsel score when the manifest has one."""
    manifest = json.loads((folder / "course.json").read_text())
    sessions = manifest["sessions"]
    first = date.fromisoformat(sessions[0]["date"])
    clinic_id = clinic_id or _first_clinic(db, actor)
    with db.session() as s:
        client, _ = add_client(s, actor, name, date(1980, 3, 1), "", 3,
                               f"Simulated data rendered by the analysis engine ({manifest['source']}); not a "
                               "real client.", clinic_id)
        record_screening(s, actor, client.id, first, patch_test_on=first, patch_test_result="negative")
        for kind in ("treatment", "photography", "marketing"):
            give_consent(s, actor, client.id, kind, first, name)
        course = start_course(s, actor, client.id, treatment, areas, len(sessions), 28, first)
        course.marker_mm = manifest["marker_mm"]
        for i, entry in enumerate(sessions, start=1):
            session = add_session(s, actor, course.id, date.fromisoformat(entry["date"]), "Sample practitioner",
                                  "gun", areas, [{"product": "Mesotherapy cocktail (simulated)",
                                                  "batch": f"SIM-{manifest['area'].upper()}-{i:03d}",
                                                  "expiry": date(2027, 12, 31), "volume_ml": 4.0}],
                                  notes="Simulated session")
            import_photos(s, db.store, actor, session.id, [
                Incoming(p["photo"], (folder / p["photo"]).read_bytes(), p["view"],
                         manifest["region"] if i == 1 else None) for p in entry["photos"]])
            if "hexsel" in entry:
                record_hexsel(s, actor, session.id, **entry["hexsel"])
        s.commit()
        analyse_pending(s, db.store, actor, client.id)
        return client.id
