"""Analysis workers: ``python -m tracker worker`` analyses pending photos outside the app.

A clinic group runs one or more workers beside its app instances and sets
``TRACKER_ANALYSIS=worker`` for the app (:func:`analysis_mode`): the app then
saves photos and queues them, and shows each photo's status
(:func:`tracker.photos.analysis_status`), instead of analysing them in the
request. Without the setting the app analyses in process, as a single clinic
needs nothing else running.

A worker takes one pending photo at a time (a new photo, or one whose
analysis a correction made stale), oldest first, and commits its result
before taking the next. On PostgreSQL it locks the photo's row with ``SELECT
... FOR NO KEY UPDATE SKIP LOCKED`` on a connection of its own and keeps the
lock until the result is committed, so that several workers never take the
same photo, and a worker killed mid-photo (even by SIGKILL) loses its
connection, the lock goes with it, and another worker takes the photo over at
once. On SQLite it claims the photo as ``python -m tracker analyse`` does
(:func:`tracker.photos.claim`). SIGTERM or SIGINT let the current photo
finish, then the worker exits.

A PostgreSQL server that goes away (a restart, a fail-over, a network cut)
does not stop a worker that has reached it once: it logs the outage and
connects again after a pause that grows from 1 s to 30 s
(:data:`RECONNECT_PAUSES_S`, from the start again once it is back), then goes
on with the queue; a photo it was analysing when the connection dropped lost
its lock with it and is taken again. A database it never reached, a refused
login or a missing table is a mistake to fix, not an outage: the worker
stops with the error.

Each photo gives one log line on standard output, with ids and codes only,
never personal data.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from . import photos
from .db import Database
from .errors import RecordError
from .models import Photo

IN_PROCESS, WORKER = "in_process", "worker"
#: Seconds between looks at an empty queue.
DEFAULT_POLL_S = 5.0
#: Seconds to wait before each attempt to reach the database again during one outage (the last one repeats).
RECONNECT_PAUSES_S = (1.0, 2.0, 5.0, 10.0, 30.0)
#: PostgreSQL's SQLSTATEs for a server shutting down or starting (besides class 08, connection exceptions).
SERVER_GOING = frozenset(("57P01", "57P02", "57P03"))


def analysis_mode() -> str:
    """Where the app analyses photos: ``$TRACKER_ANALYSIS``, :data:`IN_PROCESS` (the default: in the request that
    saves them) or :data:`WORKER` (queued for ``python -m tracker worker``)."""
    mode = (os.environ.get("TRACKER_ANALYSIS") or IN_PROCESS).strip().lower().replace("-", "_")
    if mode not in (IN_PROCESS, WORKER):
        raise RecordError(f"TRACKER_ANALYSIS={mode!r}: use {IN_PROCESS!r} (the default) or {WORKER!r}")
    return mode


def log_line(text: str) -> None:
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    print(f"{stamp} worker {os.getpid()}: {text}", flush=True)


def stop_on_signals(stop: threading.Event) -> None:
    """SIGTERM and SIGINT ask the worker to stop after the current photo (the handler only sets ``stop``: a
    print from a signal handler could interrupt one in progress)."""
    def handler(_signum, _frame):
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def work(db: Database, actor: str, once: bool = False, poll_s: float = DEFAULT_POLL_S,
         stop: threading.Event | None = None, log: Callable[[str], None] = log_line) -> int:
    """Analyse pending photos until ``stop`` is set (or, with ``once``, until none is left that no other worker
    holds), through database outages; returns how many photos this worker analysed."""
    stop = stop or threading.Event()
    baselines = photos._Baselines(db.store)
    state = {"done": 0, "reached": False, "reached_again": False}
    outages = 0
    log(f"started ({db.engine.dialect.name}, {'until the queue is empty' if once else f'polling every {poll_s:g} s'})")
    while not stop.is_set():
        state["reached_again"] = False
        try:
            _drain(db, actor, once, poll_s, stop, baselines, log, state)
            break
        except (OperationalError, InterfaceError) as exc:
            if not (state["reached"] and lost_connection(db, exc)):
                raise
            outages = 0 if state["reached_again"] else outages + 1
            pause = RECONNECT_PAUSES_S[min(outages, len(RECONNECT_PAUSES_S) - 1)]
            sqlstate = getattr(exc.orig, "sqlstate", None)
            log(f"database unavailable ({type(exc).__name__}{f' {sqlstate}' if sqlstate else ''}); "
                f"connecting again in {pause:g} s")
            stop.wait(pause)
    log(f"stopped{' when asked' if stop.is_set() else ': nothing left to analyse'}: {state['done']} photos analysed")
    return state["done"]


def lost_connection(db: Database, exc: DBAPIError) -> bool:
    """True for a PostgreSQL connection that dropped or cannot be made while the server is away (worth waiting
    for); False for a refused login, a missing table, SQLite's errors (a local file has no outage)."""
    if db.engine.dialect.name != "postgresql":
        return False
    sqlstate = getattr(exc.orig, "sqlstate", None)  # None: no answer from a server at all
    return exc.connection_invalidated or sqlstate is None or sqlstate.startswith("08") or sqlstate in SERVER_GOING


def _drain(db: Database, actor: str, once: bool, poll_s: float, stop: threading.Event, baselines, log,
           state: dict) -> None:
    """Take pending photos one at a time on one lock connection until ``stop``, or with ``once`` an empty
    queue; counts them in ``state["done"]`` and notes in ``state`` that the database answered. Raises the
    database's error when the connection is lost."""
    held = db.engine.dialect.name == "postgresql"
    with db.engine.connect() as locks:
        while not stop.is_set():
            if held:
                photo_id = photos.lock_next_pending(locks)
            else:
                with db.session() as s:
                    photo_id = photos.next_claimable(s)
            state["reached"] = state["reached_again"] = True
            if photo_id is None:
                locks.rollback()
                if once:
                    return
                stop.wait(poll_s)
                continue
            try:
                state["done"] += _one(db, actor, photo_id, baselines, held=held, log=log)
            finally:
                locks.rollback()  # releases the photo's lock, after its result was committed


def _one(db: Database, actor: str, photo_id: int, baselines, held: bool, log) -> int:
    """Analyse one photo; log one line. Returns 1 if this worker analysed it."""
    start = time.perf_counter()
    try:
        with db.session() as s:
            photo = s.get(Photo, photo_id)
            record = None if photo is None else photos.analyse_photo(s, db.store, actor, photo, baselines, held=held)
            outcome = None if record is None else (record.error_code or "ok")
    except Exception as exc:  # a lost database connection: say so, and try again after a pause
        log(f"photo {photo_id}: not recorded ({type(exc).__name__})")
        time.sleep(1)
        return 0
    if outcome is None:
        return 0  # another run took it first
    log(f"photo {photo_id}: {outcome} ({time.perf_counter() - start:.1f} s)")
    return 1
