"""Benchmark the records layer on a real SQLite data folder.

    python bench/bench_tracker.py

1. Import and analyse a course of 6 sessions x 3 views (18 photos of about
   1600 x 1600 pixels, from the simulated sample course with fresh capture
   variation). No licensed 45-degree portraits exist to ship, so the
   left_45 and right_45 slots hold frontal re-captures, named as those views:
   the timing is that of 18 face photos.
2. List 1,000 clients with 10 sessions each (one aggregate query), the
   clinic's client list. Target: under 200 ms.

Prints one table of timings.
"""

from __future__ import annotations

import io
import pathlib
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta

import numpy as np
from PIL import Image

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from analysis import decode  # noqa: E402
from analysis.simulate import Recapture  # noqa: E402
from tracker import access, photos, records  # noqa: E402
from tracker.db import init_data_folder  # noqa: E402
from tracker.models import Client, Course, Session  # noqa: E402

SAMPLES = pathlib.Path(__file__).resolve().parents[1] / "sample_images"
ACTOR = access.owner("bench")


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return 1000 * (time.perf_counter() - start), result


def course_photos(rng) -> list[list[photos.Incoming]]:
    """6 sessions x 3 views of JPEG bytes, each a fresh re-capture of a sample session photo."""
    sessions = []
    for number in range(6):
        source = decode((SAMPLES / f"session-{min(number, 3) + 1}-front.jpg").read_bytes()).rgb
        items = []
        for view in ("front", "left_45", "right_45"):
            capture = Recapture(rotation_deg=float(rng.uniform(-3, 3)), scale=float(rng.uniform(0.97, 1.03)),
                                exposure=float(rng.uniform(0.9, 1.0)))
            buf = io.BytesIO()
            Image.fromarray(capture.apply(source)).save(buf, format="JPEG", quality=90)
            items.append(photos.Incoming(f"s{number + 1}-{view}.jpg", buf.getvalue(), view))
        sessions.append(items)
    return sessions


def bench_course(root: pathlib.Path) -> list[tuple[str, float]]:
    db = init_data_folder(root / "course")
    with db.session() as s:
        client, _ = records.add_client(s, ACTOR, "Bench Client")
        records.record_screening(s, ACTOR, client.id, date(2026, 1, 1))
        for kind in ("treatment", "photography"):
            records.give_consent(s, ACTOR, client.id, kind, date(2026, 1, 1), "Bench Client")
        course = records.start_course(s, ACTOR, client.id, "skin rejuvenation", ["face"], 6, 28, date(2026, 1, 2))
        s.commit()
        batches = course_photos(np.random.default_rng(0))
        import_ms = 0.0
        for number, items in enumerate(batches):
            ses = records.add_session(s, ACTOR, course.id, date(2026, 1, 2) + timedelta(days=28 * number),
                                      "Dr Bench", "gun")
            ms, _ = timed(lambda: photos.import_photos(s, db.store, ACTOR, ses.id, items))
            s.commit()
            import_ms += ms
        analyse_ms, done = timed(lambda: photos.analyse_pending(s, db.store, ACTOR))
        failed = [a for a in done if a.error_code]
    db.close()
    return [("import 18 photos (decode, face, view, store, rows)", import_ms),
            ("  per photo", import_ms / 18),
            (f"analyse 18 photos against baselines ({len(failed)} failed)", analyse_ms),
            ("  per photo", analyse_ms / 18)]


def bench_listing(root: pathlib.Path) -> list[tuple[str, float]]:
    db = init_data_folder(root / "listing")
    with db.session() as s:
        start = date(2025, 1, 1)
        for i in range(1000):
            client = Client(name=f"Client {i:04d}", date_of_birth=date(1970 + i % 40, 1 + i % 12, 1 + i % 28))
            course = Course(client=client, treatment="skin rejuvenation", areas=["face"], planned_sessions=10,
                            interval_days=28, started_on=start)
            course.sessions = [Session(number=n + 1, held_on=start + timedelta(days=28 * n), practitioner="Dr",
                                       technique="gun") for n in range(10)]
            s.add(client)
        s.commit()
    times = []
    for _ in range(7):
        with db.session() as s:
            ms, rows = timed(lambda: records.client_overview(s, ACTOR))
            times.append(ms)
    assert len(rows) == 1000 and all(r.sessions == 10 for r in rows)
    db.close()
    return [("list 1,000 clients x 10 sessions (median of 7; target < 200)", statistics.median(times))]


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        root = pathlib.Path(scratch)
        rows = bench_course(root) + bench_listing(root)
    print(f"{'task':<62}{'ms':>10}")
    for name, ms in rows:
        print(f"{name:<62}{ms:>10.1f}")


if __name__ == "__main__":
    main()
