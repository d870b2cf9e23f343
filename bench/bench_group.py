"""Benchmark a clinic group's records on a real PostgreSQL server, and the analysis workers.

    python bench/bench_group.py

Starts a throwaway PostgreSQL (Debian's ``postgresql``, via ``tests/servers.py``) and seeds it with bulk
inserts: 1,000 clients x 1 course x 10 sessions, 30,000 photo records (front, left 45 and right 45 in every
session; the rows share the three stored sample images) and 30,000 finished analyses holding real results
(the sample course's session 1 and 2 front photos, analysed once). Then times, median of 7 runs each in a
fresh database session:

1. the client list (every client with counts and last session, one aggregate query) and a client search by
   part of a name; target < 200 ms;
2. one client's progress for a course (:func:`tracker.progress.course_progress`, 30 photos); target < 100 ms;
3. a worker's look for the next pending photo (``FOR NO KEY UPDATE SKIP LOCKED``) among the 30,000;
4. worker throughput with 1 and 2 worker processes (``python -m tracker worker``), in photos per minute, on
   24 real sample photos (``sample_images/session-*.jpg``, two clients' courses): the workers are started
   and warmed up (one photo each, so loading the face models is not timed), then the photos are committed
   at once, and the clock runs until the last result is committed. The machine's 1-minute load average
   just before is printed beside it: on a shared machine it says how many cores were really free.

Prints one table.
"""

from __future__ import annotations

import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from sqlalchemy import func, insert, select  # noqa: E402

import analysis  # noqa: E402
from servers import start_postgres  # noqa: E402
from tracker import access, photos, progress, records  # noqa: E402
from tracker.db import init_data_folder  # noqa: E402
from tracker.models import Client, Clinic, Consent, Course, Photo, PhotoAnalysis, Session  # noqa: E402

SAMPLES = ROOT / "sample_images"
ACTOR = access.owner("bench")
CLIENTS, SESSIONS, VIEWS = 1000, 10, ("front", "left_45", "right_45")
CLINICS = 4  # the clients are spread over the group's clinics; a practitioner works in one
FIRST = ("Ada", "Ben", "Cleo", "Dev", "Eva", "Finn", "Gia", "Hugo", "Iris", "Jon", "Kai", "Lena", "Milo", "Nora")
LAST = ("Smith", "Jones", "Patel", "Garcia", "Nguyen", "Okafor", "Silva", "Kowalski", "Haddad", "Moreau")
REPEATS = 7


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return 1000 * (time.perf_counter() - start), result


def median_ms(db, fn) -> tuple[float, object]:
    times = []
    for _ in range(REPEATS):
        with db.session() as s:
            ms, result = timed(lambda: fn(s))
        times.append(ms)
    return statistics.median(times), result


def real_results(db) -> tuple[dict, dict]:
    """A baseline's and a compared photo's analysis results, from the sample course's front photos."""
    baseline = analysis.locate_face(analysis.decode((SAMPLES / "session-1-front.jpg").read_bytes()))
    later = analysis.decode((SAMPLES / "session-2-front.jpg").read_bytes())
    return analysis.analyse(baseline), analysis.analyse(later, baseline)


def seed(db) -> None:
    """1,000 clients x 10 sessions, 30,000 photos and their analyses, by bulk inserts."""
    digests = {view: db.store.put((SAMPLES / f"session-1-{view}.jpg").read_bytes()) for view in VIEWS}
    first_result, later_result = (json.loads(json.dumps(r)) for r in real_results(db))
    start = date(2025, 1, 6)
    with db.engine.begin() as conn:
        conn.execute(insert(Clinic), [{"name": f"Clinic {k}"} for k in range(2, CLINICS + 1)])
        conn.execute(insert(Client), [
            {"id": i, "name": f"{FIRST[i % len(FIRST)]} {LAST[i // len(FIRST) % len(LAST)]} {i:04d}",
             "date_of_birth": date(1960 + i % 40, 1 + i % 12, 1 + i % 28), "contact": "", "notes": "",
             "clinic_id": 1 + i % CLINICS}
            for i in range(1, CLIENTS + 1)])
        conn.execute(insert(Consent), [{"client_id": i, "kind": kind, "given_on": start, "signatory": "bench"}
                                       for i in range(1, CLIENTS + 1) for kind in ("treatment", "photography")])
        conn.execute(insert(Course), [{"id": i, "client_id": i, "treatment": "skin rejuvenation", "areas": ["face"],
                                       "planned_sessions": SESSIONS, "interval_days": 28, "status": "active",
                                       "started_on": start} for i in range(1, CLIENTS + 1)])
        conn.execute(insert(Session), [
            {"id": (i - 1) * SESSIONS + n, "course_id": i, "number": n,
             "held_on": start + timedelta(days=28 * (n - 1)), "practitioner": "Dr Bench", "technique": "gun",
             "areas": ["face"], "anaesthetic": "", "notes": "", "immediate_reactions": "", "aftercare": ""}
            for i in range(1, CLIENTS + 1) for n in range(1, SESSIONS + 1)])
        photo_rows, analysis_rows = [], []
        for session_id in range(1, CLIENTS * SESSIONS + 1):
            for view in VIEWS:
                photo_id = len(photo_rows) + 1
                photo_rows.append({"id": photo_id, "session_id": session_id, "sha256": digests[view], "view": view,
                                   "original_name": f"{view}.jpg", "format": "JPEG", "width": 1600,
                                   "height": 1600, "size_bytes": 400_000})
                baseline = (session_id - 1) % SESSIONS == 0
                analysis_rows.append({"photo_id": photo_id, "analysis_version": analysis.__version__,
                                      "reference_photo_id": None if baseline else photo_id - 3 * ((session_id - 1)
                                                                                                 % SESSIONS),
                                      "result": first_result if baseline else later_result, "stale": False})
        for begin in range(0, len(photo_rows), 5000):
            conn.execute(insert(Photo), photo_rows[begin:begin + 5000])
        for begin in range(0, len(analysis_rows), 2000):
            conn.execute(insert(PhotoAnalysis), analysis_rows[begin:begin + 2000])
        for table in ("clients", "courses", "sessions", "photos"):  # ids were given: move the sequences on
            conn.exec_driver_sql(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))")
        conn.exec_driver_sql("ANALYZE")


def queue_courses(db, label: str, clients: int, sessions: int = 4) -> list[int]:
    """Import the sample course (``sessions`` sessions x 3 views) for ``clients`` new clients in one commit,
    so that every photo is queued at once; returns the photo ids."""
    photo_ids = []
    with db.session() as s:
        for k in range(clients):
            client, _ = records.add_client(s, ACTOR, f"Throughput {label}-{k}", clinic_id=1)
            records.record_screening(s, ACTOR, client.id, date(2026, 1, 1))
            for kind in ("treatment", "photography"):
                records.give_consent(s, ACTOR, client.id, kind, date(2026, 1, 1), "bench")
            course = records.start_course(s, ACTOR, client.id, "skin rejuvenation", ["face"], 4, 28, date(2026, 1, 1))
            for number in range(1, sessions + 1):
                ses = records.add_session(s, ACTOR, course.id, date(2026, 1, 1) + timedelta(days=28 * (number - 1)),
                                          "Dr Bench", "gun", confirmed=True)
                items = [photos.Incoming(f"session-{number}-{view}.jpg",
                                         (SAMPLES / f"session-{number}-{view}.jpg").read_bytes(), view)
                         for view in VIEWS]
                photo_ids += [p.id for p in photos.import_photos(s, db.store, ACTOR, ses.id, items)]
        s.commit()
    return photo_ids


def wait_analysed(db, photo_ids: list[int]) -> int:
    """Wait until every photo has a finished analysis; returns how many failed."""
    finished = PhotoAnalysis.result.is_not(None) | PhotoAnalysis.error_code.is_not(None)
    with db.session() as s:
        while True:
            s.rollback()
            done = s.scalar(select(func.count()).select_from(PhotoAnalysis)
                            .where(PhotoAnalysis.photo_id.in_(photo_ids), finished))
            if done == len(photo_ids):
                return s.scalar(select(func.count()).select_from(PhotoAnalysis)
                                .where(PhotoAnalysis.photo_id.in_(photo_ids), PhotoAnalysis.error_code.is_not(None)))
            time.sleep(0.1)


def worker_throughput(db, workers: int, batch: int) -> tuple[float, int, float]:
    """Photos per minute of ``workers`` warmed-up worker processes over ``batch`` sample photos queued at once;
    also how many failed and the machine's 1-minute load average just before."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-m", "tracker", "--data", str(db.folder.root), "--database-url",
                               db.folder.database_url, "--actor", f"bench-{workers}-{i}", "worker", "--poll", "0.1"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
             for i in range(workers)]
    try:
        for proc in procs:  # idle and polling before any photo is queued
            while "started" not in proc.stdout.readline():
                pass
        # Warm-up: one photo for each idle worker, so that loading the face models is not timed.
        wait_analysed(db, queue_courses(db, f"warm-up {workers}", 1, sessions=1))  # 3 photos: one each at least
        load = os.getloadavg()[0]
        photo_ids = queue_courses(db, f"{workers} workers", batch // 12)
        start = time.perf_counter()
        failed = wait_analysed(db, photo_ids)
        elapsed = time.perf_counter() - start
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(60)
    return 60 * len(photo_ids) / elapsed, failed, load


def main() -> None:
    server = start_postgres()
    try:
        with tempfile.TemporaryDirectory() as scratch:
            db = init_data_folder(pathlib.Path(scratch) / "data", server.new_database())
            seed_ms, _ = timed(lambda: seed(db))
            with db.session() as s:
                counts = [s.scalar(select(func.count()).select_from(t)) for t in (Client, Session, Photo)]
            rows = [(f"seed {counts[0]:,} clients, {counts[1]:,} sessions, {counts[2]:,} photos + analyses",
                     f"{seed_ms / 1000:.1f} s", "")]
            with db.session() as s:
                access.add_user(s, access.owner(ACTOR), "prac", "a long bench password", "practitioner",
                                clinics=["Main clinic"])
                s.commit()
                practitioner = access.staff_viewer(access.authenticate(s, "prac", "a long bench password"))
            for who, viewer, clients in (("group admin, every clinic", ACTOR, CLIENTS),
                                         ("practitioner, one clinic", practitioner, CLIENTS // CLINICS)):
                ms, listed = median_ms(db, lambda s: records.client_overview(s, viewer))
                assert len(listed) == clients and all(r.sessions == SESSIONS for r in listed)
                rows.append((f"client list, {clients:,} clients with counts ({who})", f"{ms:.1f} ms", "< 200 ms"))
                ms, found = median_ms(db, lambda s: records.client_overview(s, viewer, "ada smi"))
                assert found and all("Ada Smi" in r.name for r in found)
                rows.append((f"client search 'ada smi', {len(found)} found ({who})", f"{ms:.1f} ms", "< 200 ms"))
            ms, progress_rows = median_ms(db, lambda s: progress.course_progress(
                s, practitioner, records.get_course(s, practitioner, 500)))
            assert len(progress_rows) == SESSIONS * len(VIEWS) and progress_rows[-1].status == "compared"
            rows.append(("one client's progress (course of 10 sessions, 30 photos)", f"{ms:.1f} ms", "< 100 ms"))

            def pick(s):
                with db.engine.connect() as conn:
                    found = photos.lock_next_pending(conn)
                    conn.rollback()
                    return found

            ms, _ = median_ms(db, pick)
            rows.append(("a worker's look for the next pending photo (none of 30,000)", f"{ms:.1f} ms", ""))
            for workers in (1, 2):
                per_minute, failed, load = worker_throughput(db, workers, 24)
                rows.append((f"worker throughput, {workers} worker{'s' if workers > 1 else ''}, 24 sample photos "
                             f"(load {load:.1f})" + (f" ({failed} failed)" if failed else ""),
                             f"{per_minute:.1f} /min", ""))
            db.close()
    finally:
        server.stop()
    print(f"PostgreSQL {CLIENTS:,} clients x {SESSIONS} sessions, {CLIENTS * SESSIONS * len(VIEWS):,} photos "
          f"({os.cpu_count()} CPUs)")
    print(f"{'task':<68}{'measured':>14}{'target':>12}")
    for name, value, target in rows:
        print(f"{name:<68}{value:>14}{target:>12}")


if __name__ == "__main__":
    main()
