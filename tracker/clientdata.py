"""A client's data as a whole: export it (right of access) or erase it (right to erasure).

Erasure deletes every row that describes the client (screenings, consents,
courses, sessions, products, photos, analyses, audit events about them),
every original and cached image no other record uses, then checkpoints the
SQLite write-ahead log and vacuums the database so that deleted pages do not
keep the data on disk. One audit event records that an erasure happened,
with the former id and no personal data.
"""

from __future__ import annotations

import json
import pathlib
from datetime import date, datetime

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session as DbSession

from .db import Database
from .models import AuditEvent, Client, Photo
from .photostore import PhotoStore, atomic_write
from .progress import course_progress
from .records import audit, get_client


def _plain(value):
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def client_record(client: Client) -> dict:
    """Everything the clinic holds about a client, as plain data (photos by hash)."""
    def columns(row, skip=()):
        return {c.key: getattr(row, c.key) for c in row.__table__.columns if c.key not in skip}

    return {
        "client": columns(client, skip=("access_code_hash",)),
        "screenings": [columns(x) for x in client.screenings],
        "consents": [columns(x) for x in client.consents],
        "courses": [{
            **columns(course),
            "sessions": [{
                **columns(session),
                "products": [columns(p) for p in session.products],
                "photos": [{**columns(photo), "analyses": [columns(a) for a in photo.analyses]}
                           for photo in session.photos],
            } for session in course.sessions],
        } for course in client.courses],
    }


def export_client(s: DbSession, store: PhotoStore, actor: str, client_id: int, out_dir: pathlib.Path) -> pathlib.Path:
    """Write ``client.json`` and every original photo into ``out_dir``; returns the JSON's path."""
    client = get_client(s, client_id)
    out_dir.mkdir(parents=True, exist_ok=True)
    record = client_record(client)
    record["progress"] = {course.id: [vars(r) for r in course_progress(s, course)] for course in client.courses}
    for course in client.courses:
        for session in course.sessions:
            for photo in session.photos:
                suffix = pathlib.Path(photo.original_name).suffix.lower() or ".img"
                name = f"course{course.id}-session{session.number}-{photo.view}-{photo.sha256[:12]}{suffix}"
                atomic_write(out_dir / "photos" / name, store.get(photo.sha256))
    path = out_dir / "client.json"
    atomic_write(path, json.dumps(record, indent=2, default=_plain).encode())
    audit(s, actor, "export", "client", client.id, client.id)
    return path


def erase_client(db: Database, store: PhotoStore, actor: str, client_id: int) -> int:
    """Erase a client completely (see module docstring); returns how many photo files were removed."""
    with db.session() as s:
        client = get_client(s, client_id)
        hashes = {p.sha256 for c in client.courses for ses in c.sessions for p in ses.all_photos}
        s.delete(client)
        s.execute(delete(AuditEvent).where(AuditEvent.client_id == client_id))
        s.flush()
        still_used = set(s.scalars(select(Photo.sha256).where(Photo.sha256.in_(hashes))))
        audit(s, actor, "delete", "client", client_id, None, erased=True)
        s.commit()
    for digest in hashes - still_used:
        store.delete(digest)
    if db.engine.dialect.name == "sqlite":
        with db.engine.connect() as conn:
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
            conn.execute(text("VACUUM"))
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    return len(hashes - still_used)
