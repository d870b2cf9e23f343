"""Analysis workers (``python -m tracker worker``): real worker processes on a real PostgreSQL and on SQLite.

On PostgreSQL several workers share the pending photos by row locks (``FOR NO
KEY UPDATE SKIP LOCKED``): every photo is analysed exactly once, and the
photo of a worker killed with SIGKILL is taken over at once (not after the
SQLite claim's 30 minutes). Each wait is bounded.
"""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select

import analysis
from servers import start_postgres
from test_data_safety import REGION, WAIT_S, body_photos, env
from tracker import photos
from tracker.cli import main as tracker_main
from tracker.db import init_data_folder
from tracker.models import AuditEvent, Photo, PhotoAnalysis
from tracker.worker import WORKER, analysis_mode
from tracker_helpers import ACTOR, SAMPLES, client_with_course


def start_worker(root, url: str | None, name: str, *flags) -> subprocess.Popen:
    argv = [sys.executable, "-m", "tracker", "--data", str(root), "--actor", name]
    if url:
        argv += ["--database-url", url]
    return subprocess.Popen([*argv, "worker", *flags], env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def until(condition, what: str, timeout: float = WAIT_S):
    deadline = time.monotonic() + timeout
    while True:
        found = condition()
        if found:
            return found
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout} s"
        time.sleep(0.05)


def unfinished_claims(db) -> list[PhotoAnalysis]:
    with db.session() as s:
        return list(s.scalars(select(PhotoAnalysis).where(PhotoAnalysis.result.is_(None),
                                                          PhotoAnalysis.error_code.is_(None))))


def finished_count(db) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(PhotoAnalysis).where(
            (PhotoAnalysis.result.is_not(None)) | (PhotoAnalysis.error_code.is_not(None))))


def analysed_ids(output: str) -> list[int]:
    """The photo ids a worker's log says it analysed (``... photo 12: ok (0.4 s)``)."""
    return [int(line.split("photo ")[1].split(":")[0]) for line in output.splitlines() if ": photo " in line]


def test_workers_on_postgresql_analyse_every_photo_once_and_take_over_a_killed_worker_s_photo(
        tmp_path, postgres_server):
    db = init_data_folder(tmp_path / "data", postgres_server.new_database())
    url = db.folder.database_url
    ids = client_with_course(db, "Ada Private", sessions=2, with_photos=False)
    with db.session() as s:  # a face photo: long enough to analyse that the first worker is killed during it
        [slow] = photos.import_photos(s, db.store, ACTOR, ids["sessions"][0],
                                      [photos.Incoming("s1.jpg", (SAMPLES / "session-1-front.jpg")
                                                       .read_bytes())])
        s.commit()
    first = start_worker(tmp_path / "data", url, "w1", "--poll", "0.2")
    try:
        [claim] = until(lambda: unfinished_claims(db), "the first worker's claim")
        assert claim.photo_id == slow.id
        first.send_signal(signal.SIGKILL)  # mid-photo: its claim is committed, its result not
        first.wait(WAIT_S)
    finally:
        first.kill()
    assert finished_count(db) == 0 and [c.id for c in unfinished_claims(db)] == [claim.id]

    # Two more workers, then a few dozen photos in one commit: both take photos at once.
    workers = [start_worker(tmp_path / "data", url, name, "--poll", "0.2") for name in ("w2", "w3")]
    try:
        files = body_photos(tmp_path / "incoming", 24)
        with db.session() as s:
            added = photos.import_photos(s, db.store, ACTOR, ids["sessions"][1],
                                         [photos.Incoming(f.name, f.read_bytes(), "neck", REGION) for f in files])
            s.commit()
        until(lambda: finished_count(db) == 25, "the analysis of all 25 photos", timeout=3 * WAIT_S)
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)  # each finishes its photo (if any) and exits cleanly
        outputs = [w.communicate(timeout=WAIT_S) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    every = {slow.id, *(p.id for p in added)}
    with db.session() as s:
        per_photo = {p.id: [(a.id, a.error_code) for a in p.analyses] for p in s.scalars(select(Photo))}
        events = s.scalars(select(AuditEvent).where(AuditEvent.action == "analyse")).all()
    assert set(per_photo) == every and all(len(rows) == 1 for rows in per_photo.values()), per_photo
    assert all(code is None for rows in per_photo.values() for _, code in rows), per_photo
    assert per_photo[slow.id][0][0] != claim.id  # the killed worker's claim was replaced, not waited for
    assert sorted(e.entity_id for e in events) == sorted(every)  # one analysis event per photo
    assert {e.actor for e in events if e.entity_id == slow.id} <= {"w2", "w3"}
    logged = [analysed_ids(out) for out, _ in outputs]
    assert all(logged), outputs  # both workers took photos
    assert sorted(logged[0] + logged[1]) == sorted(every)  # between them, each photo exactly once
    for out, _ in outputs:
        assert "stopped when asked:" in out
        assert "Ada" not in out and "neck" not in out  # ids and codes only
    assert unfinished_claims(db) == []
    db.close()


def test_a_worker_rides_out_a_database_restart_and_analyses_what_was_added_after_it(tmp_path):
    server = start_postgres(durable=True)  # a server of its own: this test halts it, and a commit must survive
    db = init_data_folder(tmp_path / "data", server.new_database())
    try:
        ids = client_with_course(db, sessions=1, with_photos=False)
        files = body_photos(tmp_path / "incoming", 2)

        def add(file) -> int:
            with db.session() as s:
                [photo] = photos.import_photos(s, db.store, ACTOR, ids["sessions"][0],
                                               [photos.Incoming(file.name, file.read_bytes(), "neck", REGION)])
                s.commit()
                return photo.id

        first = add(files[0])
        worker = start_worker(tmp_path / "data", db.folder.database_url, "w1", "--poll", "0.2")
        try:
            until(lambda: finished_count(db) == 1, "the first photo's analysis")
            server.halt()  # as a crash: every connection drops
            time.sleep(2)  # the worker polls into the outage
            server.start()
            second = add(files[1])  # the app's pool replaces its dead connections too
            until(lambda: finished_count(db) == 2, "the analysis of a photo added after the restart")
        finally:
            worker.send_signal(signal.SIGTERM)
            out, err = worker.communicate(timeout=WAIT_S)
        assert worker.returncode == 0, err
        assert re.search(r"database unavailable \(OperationalError[ 0-9A-Z]*\); connecting again in 1 s", out), out
        assert analysed_ids(out) == [first, second] and "stopped when asked: 2 photos analysed" in out, out
        assert "Traceback" not in err
        with db.session() as s:
            assert [len(p.analyses) for p in s.scalars(select(Photo).order_by(Photo.id))] == [1, 1]
    finally:
        db.close()
        server.stop()


def test_a_broken_database_is_an_error_the_worker_stops_on_not_an_outage_it_waits_out(tmp_path):
    db = init_data_folder(tmp_path / "data")
    client_with_course(db, sessions=1, with_photos=False)
    with db.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE photo_analyses")  # a schema someone broke: waiting will not mend it
    db.close()
    running = start_worker(tmp_path / "data", None, "w1", "--poll", "0.2")
    try:
        out, err = running.communicate(timeout=WAIT_S)
    finally:
        running.kill()
    assert running.returncode == 1 and "connecting again" not in out
    assert err.startswith("error: the command failed and saved nothing (OperationalError") and "Traceback" not in err


def test_a_worker_on_sqlite_drains_the_queue_and_exits_with_once(tmp_path):
    db = init_data_folder(tmp_path / "data")
    ids = client_with_course(db, sessions=1, with_photos=False)
    files = body_photos(tmp_path / "incoming", 4)
    with db.session() as s:
        added = photos.import_photos(s, db.store, ACTOR, ids["sessions"][0],
                                     [photos.Incoming(f.name, f.read_bytes(), "neck", REGION) for f in files])
        s.commit()
        assert {x.state for x in photos.analysis_status(s, ACTOR, [p.id for p in added]).values()} == {photos.QUEUED}
    runs = [start_worker(tmp_path / "data", None, f"w{i}", "--once") for i in range(2)]
    outputs = [r.communicate(timeout=WAIT_S) for r in runs]
    assert [r.returncode for r in runs] == [0, 0], outputs
    assert sorted(analysed_ids(outputs[0][0]) + analysed_ids(outputs[1][0])) == [p.id for p in added]
    with db.session() as s:
        assert [len(p.analyses) for p in s.scalars(select(Photo))] == [1] * 4
        assert {x.state for x in photos.analysis_status(s, ACTOR, [p.id for p in added]).values()} == {photos.ANALYSED}
    db.close()


def test_analysis_status_queued_analysing_analysed_failed(tmp_path):
    db = init_data_folder(tmp_path / "data")
    ids = client_with_course(db, sessions=1, with_photos=False)
    files = body_photos(tmp_path / "incoming", 3)
    with db.session() as s:
        a, b, c = photos.import_photos(s, db.store, ACTOR, ids["sessions"][0],
                                       [photos.Incoming(f.name, f.read_bytes(), "neck", REGION) for f in files])
        s.commit()
        assert photos.claim(s, b) is not None
        s.add(PhotoAnalysis(photo_id=c.id, analysis_version=photos.analysis.__version__, error_code="no_face",
                            error_message="no face was found"))
        s.commit()
        status = photos.analysis_status(s, ACTOR, [a.id, b.id, c.id])
    assert status[a.id].state == photos.QUEUED
    assert status[b.id].state == photos.ANALYSING and status[b.id].since is not None
    assert status[c.id].state == photos.FAILED and status[c.id].reason == {"code": "no_face",
                                                                          "message": "no face was found"}
    with db.session() as s:
        assert photos.analyse_photo(s, db.store, ACTOR, s.get(Photo, a.id)) is not None
        assert photos.analyse_photo(s, db.store, ACTOR, s.get(Photo, a.id)) is None  # finished: never again
        assert photos.analysis_status(s, ACTOR, [a.id])[a.id].state == photos.ANALYSED
    db.close()


@pytest.mark.parametrize("value, mode", [(None, "in_process"), ("worker", WORKER), (" Worker ", WORKER)])
def test_the_analysis_mode_comes_from_the_environment(monkeypatch, value, mode):
    if value is None:
        monkeypatch.delenv("TRACKER_ANALYSIS", raising=False)
    else:
        monkeypatch.setenv("TRACKER_ANALYSIS", value)
    assert analysis_mode() == mode


def test_an_unknown_analysis_mode_is_refused(monkeypatch):
    monkeypatch.setenv("TRACKER_ANALYSIS", "threads")
    with pytest.raises(Exception, match="TRACKER_ANALYSIS"):
        analysis_mode()


def test_sigterm_lets_the_worker_finish_its_photo_then_exit(tmp_path):
    db = init_data_folder(tmp_path / "data")
    ids = client_with_course(db, sessions=1, with_photos=False)
    with db.session() as s:
        [photo] = photos.import_photos(s, db.store, ACTOR, ids["sessions"][0],
                                       [photos.Incoming("s1.jpg", (SAMPLES / "session-1-front.jpg").read_bytes())])
        s.commit()
    running = start_worker(tmp_path / "data", None, "w1", "--poll", "0.2")
    try:
        until(lambda: unfinished_claims(db), "the worker's claim")
        running.send_signal(signal.SIGTERM)  # mid-photo
        out, err = running.communicate(timeout=WAIT_S)
    finally:
        running.kill()
    assert running.returncode == 0, err
    assert analysed_ids(out) == [photo.id] and "stopped when asked: 1 photos analysed" in out
    with db.session() as s:
        assert photos.latest_analysis(s.get(Photo, photo.id)).result is not None
    assert unfinished_claims(db) == []
    db.close()


def test_a_killed_run_s_claim_is_taken_over_at_once_and_a_live_one_is_reported(db, capsys):
    """Issue 16: after a killed `analyse`, the next run said "analysed N photos" and silently skipped the
    claimed photo for 30 minutes. (SQLite's timed claims; PostgreSQL's row locks already free a dead run's.)"""
    ids = client_with_course(db, sessions=2)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with db.session() as s:
        for photo_id, by in zip(ids["photos"], (f"{socket.gethostname()}:{dead.pid}", "another-host:1")):
            s.add(PhotoAnalysis(photo_id=photo_id, analysis_version=analysis.__version__, claimed_by=by))
        s.commit()
        assert photos.release_stale_claims(s) == 1  # the dead process's, not the other machine's (30 min)
    assert tracker_main(["--data", str(db.folder.root), "--actor", "dr.cli", "analyse"]) == 0
    out = capsys.readouterr().out
    assert "analysed 1 photos" in out
    assert f"1 photo(s) skipped: another run is analysing them now ({ids['photos'][1]})" in out
