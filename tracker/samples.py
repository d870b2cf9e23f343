"""Load the simulated sample course from ``sample_images/`` into a data folder.

So that a newcomer sees real charts within a minute: a client named as
simulated, screened and consenting (marketing included, so the gallery has
pairs), one course of four monthly sessions with their front and 45-degree
photos, analysed.
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
from .records import Actor, add_client, add_session, give_consent, record_screening, start_course

SAMPLE_DIR = pathlib.Path(__file__).resolve().parents[1] / "sample_images"
SAMPLE_NAME = "Sample client (simulated)"


def sample_loaded(db: Database) -> bool:
    with db.session() as s:
        return s.scalar(select(Client.id).where(Client.name == SAMPLE_NAME)) is not None


def load_sample_course(db: Database, actor: Actor, progress: Callable[[int, int, str], None] | None = None,
                       folder: pathlib.Path = SAMPLE_DIR, clinic_id: int | None = None) -> int:
    """Create the sample client and course, import and analyse its photos; returns the client id.

    The client joins ``clinic_id``, else the first clinic ``actor`` sees.
    """
    manifest = json.loads((folder / "course.json").read_text())
    sessions = manifest["sessions"]
    first = date.fromisoformat(sessions[0]["date"])
    with db.session() as s:
        if clinic_id is None:
            clinic_id = min(c.id for c in list_clinics(s, actor))
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
