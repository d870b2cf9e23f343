"""A client's data as a whole: export it (right of access) or erase it (right to erasure).

The export is everything the clinic holds about the client: their details,
screenings, consents, courses, sessions with products and Hexsel scores,
every photo still held (removed ones too, marked as such, until erasure) with
its analyses and its original, the previous values of every corrected record
(who changed it, when and why), and the log of when their records were
viewed, changed or exported (which action on which record). The one rule
for staff names: who recorded something in the client's record (screened,
scored, corrected or removed it) is part of that record, as on a paper
chart, and is exported; who only consulted it is not (CJEU C-579/21).

Erasure deletes every row that describes the client (screenings, consents,
courses, sessions, products, photos, analyses, audit events about them) and,
in the same transaction, queues each of the client's originals in
``pending_deletions``. It then deletes every queued original and cached image
no other record uses, together with every unreferenced file in the store
(originals left by an import that was killed before it committed, which may
be this client's), and checkpoints the SQLite write-ahead log and vacuums the
database so that deleted pages do not keep the data on disk. While another
program holds a read transaction the log cannot be emptied: erasure waits,
tries again, and then says so (:class:`ErasureIncomplete`) and keeps the
queue, which the next opening of the data folder finishes. A crash between
the commit and the deletions leaves the queue, which the next opening of the
data folder finishes (:func:`finish_erasures`). One audit event records that
an erasure happened: the former id, the actor and the number of files, no
personal data.

Erasure cannot reach copies outside the data folder: backups and exports
made before it still hold the client (see the README).
"""

from __future__ import annotations

import json
import pathlib
from datetime import date, datetime

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session as DbSession

from .db import BUSY_TIMEOUT_S, Database
from .errors import RecordError
from .models import AuditEvent, Client, PendingDeletion, Photo, RecordVersion
from .photostore import PhotoStore, StoreBusy, atomic_write, safe_name, safe_suffix
from .progress import course_progress
from .records import Actor, audit, get_client


def _plain(value):
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def _columns(row, skip=()) -> dict:
    return {c.key: getattr(row, c.key) for c in row.__table__.columns if c.key not in skip}


def client_record(s: DbSession, client: Client) -> dict:
    """Everything the clinic holds about a client, as plain data (photos by hash; see module docstring)."""
    return {
        "client": {**_columns(client, skip=("access_code_hash",)), "clinic": client.clinic.name},
        "screenings": [_columns(x) for x in client.screenings],
        "consents": [_columns(x) for x in client.consents],
        "courses": [{
            **_columns(course),
            "sessions": [{
                **_columns(session),
                "products": [_columns(p) for p in session.products],
                "hexsel": None if session.hexsel is None else _columns(session.hexsel),
                "photos": [{**_columns(photo), "analyses": [_columns(a) for a in photo.analyses]}
                           for photo in session.all_photos],
            } for session in course.sessions],
        } for course in client.courses],
        "history": [_columns(v, skip=("client_id",)) for v in s.scalars(
            select(RecordVersion).where(RecordVersion.client_id == client.id).order_by(RecordVersion.id))],
        # When and how the records were used, not which member of staff did it (CJEU C-579/21, Pankki S: the
        # employees' identities are not the client's to receive; the clinic answers for them).
        "access_log": [_columns(e, skip=("client_id", "clinic_id", "actor")) for e in s.scalars(
            select(AuditEvent).where(AuditEvent.client_id == client.id).order_by(AuditEvent.id))],
    }


def export_client(s: DbSession, store: PhotoStore, actor: Actor, client_id: int, out_dir: pathlib.Path) -> pathlib.Path:
    """Write ``client.json`` and every original photo into ``out_dir``; returns the JSON's path.

    A client ``actor`` may not see is "not found"; only an admin or the owner may export (NotAllowed)."""
    client = get_client(s, actor, client_id, action="export")
    out_dir.mkdir(parents=True, exist_ok=True)
    record = client_record(s, client)
    record["progress"] = {course.id: [vars(r) for r in course_progress(s, actor, course)]
                          for course in client.courses}
    for course in client.courses:
        for session in course.sessions:
            for photo in session.all_photos:  # removed ones too: held until erasure (another client's is deleted)
                suffix = safe_suffix(photo.original_name) or ".img"
                name = (f"course{course.id}-session{session.number}-{safe_name(photo.view)}-"
                        f"{photo.sha256[:12]}{suffix}")
                atomic_write(out_dir / "photos" / name, store.get(photo.sha256))
    path = out_dir / "client.json"
    atomic_write(path, json.dumps(record, indent=2, default=_plain).encode())
    audit(s, actor, "export", "client", client.id, client.id)
    return path


def erase_client(db: Database, store: PhotoStore, actor: Actor, client_id: int) -> int:
    """Erase a client completely (see module docstring); returns how many photo files were removed."""
    with db.session() as s:
        client = get_client(s, actor, client_id, action="erase")
        clinic_id = client.clinic_id
        hashes = {p.sha256 for c in client.courses for ses in c.sessions for p in ses.all_photos}
        s.delete(client)
        s.execute(delete(AuditEvent).where(AuditEvent.client_id == client_id))
        s.add_all(PendingDeletion(sha256=digest) for digest in sorted(hashes))
        audit(s, actor, "delete", "client", client_id, None, clinic_id=clinic_id, erased=True,
              photo_files=len(hashes))
        s.commit()
    return finish_erasures(db, store)


def finish_erasures(db: Database, store: PhotoStore | None = None, wait: bool = True) -> int:
    """Delete the originals queued by erasures and every unreferenced file, then vacuum; returns files removed.

    Runs under the store's exclusive lock, so it waits for a running import
    (or, with ``wait=False``, leaves the work for the next run).
    """
    store = store or db.store
    with db.session() as s:
        queued = list(s.scalars(select(PendingDeletion.id)))
    if not queued:
        return 0

    def referenced() -> set[str]:
        with db.session() as s:
            return set(s.scalars(select(Photo.sha256)))

    try:
        removed = store.collect_garbage(referenced, timeout=None if wait else 0)
    except StoreBusy:
        return 0
    if db.engine.dialect.name == "sqlite" and not _wipe_sqlite_journal(db):
        if not wait:
            return 0  # the queue stays: the next opening of the data folder tries again
        raise ErasureIncomplete("the client's records are erased, but another program is reading the database, "
                                "so their details are still in tracker.db: close the other tracker windows and "
                                "commands, then run 'python -m tracker check' to finish the erasure")
    with db.session() as s:
        s.execute(delete(PendingDeletion).where(PendingDeletion.id.in_(queued)))
        s.commit()
    return sum(1 for r in removed if r.problem == "unreferenced")


class ErasureIncomplete(RecordError):
    """The rows are gone, but their bytes may still be in the database file: the erasure is finished later."""


#: How long erasure waits for programs reading the SQLite database to finish, per try (seconds), and how often.
CHECKPOINT_WAIT_S, CHECKPOINT_TRIES = 5.0, 3


def _wipe_sqlite_journal(db: Database) -> bool:
    """Vacuum the database and empty its write-ahead log, so that no freed page keeps erased data; False when
    a reader's open transaction keeps the log from being emptied (``wal_checkpoint`` reports it busy)."""
    with db.engine.connect() as conn:
        conn.execute(text(f"PRAGMA busy_timeout = {int(CHECKPOINT_WAIT_S * 1000)}"))
        try:
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
            conn.execute(text("VACUUM"))
            for _ in range(CHECKPOINT_TRIES):
                busy, _, _ = conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)")).one()
                if not busy:
                    return True
            return False
        finally:
            conn.execute(text(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_S * 1000}"))
