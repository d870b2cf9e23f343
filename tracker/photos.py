"""Importing session photos and analysing them against the course's baseline.

An import is all or nothing: every file is decoded and checked first (a
non-image, a duplicate, a bad view name or region, or a photo without a face
and without a named body area stops the import with the file's name), then
rows and originals are written in one transaction. A crash part-way leaves no
photo row; the store may hold originals no row refers to, which ``check``
reports and :meth:`~tracker.photostore.PhotoStore.collect_garbage` removes.
The import holds the store's shared lock until its transaction ends, so a
collector never removes an original whose row is about to commit.

What is stored is the file without its location, device identifiers and other
free metadata (:func:`tracker.metadata.strip_identifying`: the compressed image
data copied unchanged, so the pixels are the camera's); the import's audit
event names what was removed. Photos imported before this were stored whole.

Two imports for the same client never both add a photo: the duplicate check
runs after taking the client's write lock (an ``UPDATE`` of the client's row,
held until the transaction ends), so the second import sees the first's rows.

The baseline of a view is the photo the practitioner chose for the course
(:func:`choose_baseline`), else the view's photo in the course's earliest
session that has one. Corrections (a new baseline, a photo moved or removed)
mark the analyses they change stale, so that :func:`analyse_pending` runs them
again.

Each photo is analysed once per analysis version: a run first *claims* it by
inserting its (photo, version) row, which a unique constraint lets only one
run do (a stale row is replaced in the same transaction). On SQLite a claim
left by a run that died lapses after :data:`CLAIM_TIMEOUT`. On PostgreSQL a
run first locks the photo's row (``SELECT ... FOR NO KEY UPDATE SKIP
LOCKED``, :func:`hold_photo`) on a connection of its own and keeps the lock
until the result is committed: a live claim is always a locked row, so a run
that holds the lock replaces a claim left unfinished at once, and a run
killed mid-photo loses its connection and with it the lock. Any error in one
photo is recorded against that photo, and the run goes on with the next.

A removed photo (:func:`remove_photo`) leaves the record, the progress and the
galleries, but keeps its row and its original until the client is erased, so
that the record shows what was removed, by whom and why. A photo removed as
another client's (``wrong_client``) is deleted at once: its row, analyses and
history, and its original unless another record uses the same file; one audit
event keeps the ids and the reason.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import socket
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, event, exists, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession

import analysis
from analysis import AnalysisError, ImageTooLarge, UnsupportedImage, decode, locate_face
from analysis.marker import DEFAULT_MARKER_MM
from analysis.polygon import validate_polygon
from analysis.visual import Check, capture_checks, ghost

from .errors import BadPhoto, DuplicatePhoto, NotAllowed, NotFound, RecordError
from .models import (REMOVAL_REASONS, VIEWS, Client, Course, Photo, PhotoAnalysis, RecordVersion, Session,
                     ViewBaseline, utcnow)
from .calibration import floors_of
from .metadata import strip_identifying
from .photostore import PhotoStore, sha256_of
from .access import actor_name, check, may_see, visible_clients
from .records import Actor, amend, audit, get_client, get_course, get_session, has_consent
from .templates import view_spec

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".heic", ".heif", ".bmp"}
#: A body area's name: letters, digits, spaces, ``-``, ``_`` and ``'``; never a path, never markup.
BODY_AREA = re.compile(r"\w[\w '-]{0,59}")
MAX_NAME = 300
#: A claim older than this belongs to a run that died; another run may take the photo over.
CLAIM_TIMEOUT = timedelta(minutes=30)
#: A printed scale marker's plausible side, in mm.
MIN_MARKER_MM, MAX_MARKER_MM = 3.0, 100.0


def check_view(view: str) -> str:
    """A standard view, or a body area's name checked against :data:`BODY_AREA`."""
    view = view.strip()
    if view in VIEWS or BODY_AREA.fullmatch(view):
        return view
    raise RecordError(f"view {view!r}: use front, left_45, right_45 or a body area's name "
                      "(letters, digits, spaces, '-', at most 60)")


def clean_name(name: str) -> str:
    """A file name as plain text: undecodable bytes and control characters replaced, at most 300 characters."""
    text = name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    text = "".join("\ufffd" if unicodedata.category(c) in ("Cc", "Cf", "Cs") else c for c in text)
    return text[:MAX_NAME] or "unnamed"


@dataclass(frozen=True)
class Incoming:
    name: str
    data: bytes
    view: str | None = None  # None: guess from head pose
    region: list | None = None  # marked polygon for a body area, in this photo's pixels


def files_in(folder: pathlib.Path) -> list[Incoming]:
    """The image files of a session folder, by name; or a single photo file."""
    if folder.is_file():
        return [Incoming(folder.name, folder.read_bytes())]
    if not folder.is_dir():
        raise RecordError(f"{folder} is not a photo file or a folder")
    paths = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise RecordError(f"no photos in {folder} (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")
    return [Incoming(clean_name(p.name), p.read_bytes()) for p in paths]


def _check(item: Incoming) -> tuple[analysis.DecodedImage, str]:
    """Decode a file and settle its view and region; raises BadPhoto with the file's name."""
    try:
        image = decode(item.data)
        if item.region is not None:
            validate_polygon(item.region, image.width, image.height)
    except AnalysisError as exc:
        raise BadPhoto(f"{item.name}: {exc.message}", exc.code) from exc
    if item.view is not None:
        return image, item.view
    try:
        view = locate_face(image).pose.view
    except AnalysisError as exc:
        raise BadPhoto(f"{item.name}: {exc.message}; for a body area, name the view", exc.code) from exc
    if view is None:
        raise BadPhoto(f"{item.name}: the head is turned too far for a standard view", "unsupported")
    return image, view


def _hold_until_transaction_ends(s: DbSession, store: PhotoStore) -> None:
    """Take the store's shared lock until ``s``'s transaction commits or rolls back (see module docstring)."""
    lock = store.acquire(exclusive=False)
    s.info.setdefault("store_holds", []).append(lock)  # every import of the transaction holds one

    def release(_session, transaction) -> None:
        if transaction.parent is None:
            lock.release()  # idempotent: later transactions of the session find it released
            if lock in s.info.get("store_holds", ()):
                s.info["store_holds"].remove(lock)

    event.listen(s, "after_transaction_end", release)


def import_photos(s: DbSession, store: PhotoStore, actor: Actor, session_id: int,
                  items: Iterable[Incoming]) -> list[Photo]:
    """Check, store and record a session's photos, all or nothing (see module docstring)."""
    items = [replace(i, name=clean_name(i.name), view=None if i.view is None else check_view(i.view))
             for i in items]
    session = check_photo_consent(s, actor, session_id)
    stripped = [strip_identifying(i.data, i.name) for i in items]  # before the hash: the record is of what is kept
    items = [replace(i, data=kept.data) for i, kept in zip(items, stripped)]
    client = session.course.client
    checked, digests = [], set()
    for item in items:
        digest = sha256_of(item.data)
        if digest in digests:
            raise DuplicatePhoto(f"{item.name}: this photo is in the import twice")
        digests.add(digest)
        checked.append((item, digest, *_check(item)))
    _hold_until_transaction_ends(s, store)
    s.execute(update(Client).where(Client.id == client.id).values(id=Client.id))  # the client's write lock
    known = set(s.scalars(select(Photo.sha256).join(Session).join(Course).where(Course.client_id == client.id)))
    for item, digest, _, _ in checked:
        if digest in known:
            raise DuplicatePhoto(f"{item.name}: this photo is already in the client's records")
    photos = [Photo(session=session, sha256=digest, view=view, original_name=item.name, format=image.format,
                    width=image.width, height=image.height, size_bytes=len(item.data),
                    captured_at=image.captured_at, region=item.region)
              for item, digest, image, view in checked]
    s.add_all(photos)
    s.flush()  # rows first: a database error leaves no original behind
    for item, *_ in checked:
        store.put(item.data)
    for photo, kept in zip(photos, stripped):
        audit(s, actor, "import", "photo", photo.id, client.id, session_id=session.id, view=photo.view,
              **({"metadata_removed": list(kept.removed)} if kept.removed else {}))
    return photos


def referenced_hashes(s: DbSession) -> set[str]:
    """The SHA-256 of every original a photo record refers to."""
    return set(s.scalars(select(Photo.sha256)))


def get_photo(s: DbSession, viewer: Actor, photo_id: int, action: str = "view") -> Photo:
    """A photo of a client ``viewer`` may see (another is "not found", like a missing one) and do ``action`` on
    (else NotAllowed: :func:`tracker.access.check`)."""
    photo = s.get(Photo, photo_id)
    if photo is None or not may_see(viewer, photo.session.course.client) or (
            not viewer.is_staff and judged_other_person(photo)):  # never another person's photo to a client
        raise NotFound(f"no photo with id {photo_id}")
    check(s, viewer, action, photo.session.course.client)
    return photo


def first_of_view(s: DbSession, course_id: int, view: str) -> Photo | None:
    """The course's baseline of a view: the chosen photo, else the earliest photo of the view still in the record."""
    chosen = s.scalar(select(Photo).join(ViewBaseline, ViewBaseline.photo_id == Photo.id)
                      .where(ViewBaseline.course_id == course_id, ViewBaseline.view == view,
                             Photo.removed_at.is_(None)))
    if chosen is not None:
        return chosen
    return s.scalar(select(Photo).join(Session).where(Session.course_id == course_id, Photo.view == view,
                                                      Photo.removed_at.is_(None))
                    .order_by(Session.number, Photo.id).limit(1))


def baseline_of(s: DbSession, photo: Photo) -> Photo | None:
    """The baseline ``photo`` is compared with (see :func:`first_of_view`); None if that is this photo."""
    first = first_of_view(s, photo.session.course_id, photo.view)
    return None if first is None or first.id == photo.id else first


def baselines_key(s: DbSession, course_id: int) -> tuple:
    """The course's current baseline of each view, as ``((view, photo id), ...)``: a cache key for previews."""
    views = s.scalars(select(Photo.view).join(Session).where(Session.course_id == course_id,
                                                             Photo.removed_at.is_(None)).distinct())
    return tuple(sorted((view, first_of_view(s, course_id, view).id) for view in views))


def _mark_stale(s: DbSession, course_id: int, view: str) -> int:
    """Mark every analysis of a course's view stale (its baseline changed); returns how many."""
    found = list(s.scalars(select(PhotoAnalysis).join(Photo, PhotoAnalysis.photo_id == Photo.id).join(Session)
                           .where(Session.course_id == course_id, Photo.view == view,
                                  PhotoAnalysis.stale.is_(False))))
    for record in found:
        record.stale = True
    return len(found)


def _restale_after(s: DbSession, photo: Photo, change: Callable[[], None], also: tuple = ()) -> int:
    """Make a change to ``photo``; mark stale what it changed: the photo's analyses, and every analysis of a
    (course, view) whose baseline moved (the photo's own, and ``also``). Returns how many were marked."""
    groups = {(photo.session.course_id, photo.view), *also}
    baselines = {key: getattr(first_of_view(s, *key), "id", None) for key in groups}
    change()
    s.flush()
    s.expire_all()
    marked = 0
    for key, old in baselines.items():
        if old != getattr(first_of_view(s, *key), "id", None):
            marked += _mark_stale(s, *key)
    for record in photo.analyses:
        if not record.stale:
            record.stale = True
            marked += 1
    s.flush()
    return marked


def choose_baseline(s: DbSession, actor: Actor, photo_id: int, reason: str) -> int:
    """Make a photo its course's baseline of its view; returns how many analyses became stale."""
    photo = get_photo(s, actor, photo_id, "correct")
    if photo.removed_at is not None:
        raise RecordError(f"photo {photo.id} was removed from the record")
    course_id = photo.session.course_id
    current = s.scalar(select(ViewBaseline).where(ViewBaseline.course_id == course_id,
                                                  ViewBaseline.view == photo.view))
    previous = first_of_view(s, course_id, photo.view)
    if previous is not None and previous.id == photo.id:
        raise RecordError(f"photo {photo.id} is already the baseline of {photo.view}")

    def change():
        if current is None:
            s.add(ViewBaseline(course_id=course_id, view=photo.view, photo_id=photo.id, chosen_by=actor_name(actor)))
        else:
            current.photo_id, current.chosen_by, current.chosen_at = photo.id, actor_name(actor), utcnow()

    amend(s, actor, photo.session.course, "baseline", photo.session.course.client_id, {}, reason,
           {"view": photo.view, "photo_id": previous.id if previous else None, "chosen": current is not None})
    return _restale_after(s, photo, change)


def move_photo(s: DbSession, actor: Actor, photo_id: int, reason: str, session_id: int | None = None,
               view: str | None = None) -> int:
    """File a photo under another session of the same client, or another view; returns analyses made stale."""
    photo = get_photo(s, actor, photo_id, "move")
    if photo.removed_at is not None:
        raise RecordError(f"photo {photo.id} was removed from the record")
    changes = {}
    if session_id is not None and session_id != photo.session_id:
        target = get_session(s, actor, session_id, "move")
        if target.course.client_id != photo.session.course.client_id:
            raise RecordError("a photo moves only between sessions of the same client; for another client's "
                              "photo, remove it as 'wrong_client'")
        if any(p.sha256 == photo.sha256 for p in target.all_photos):
            raise DuplicatePhoto(f"session {target.id} already holds this photo")
        changes["session_id"] = session_id
    if view is not None and view.strip() and view.strip() != photo.view:
        changes["view"] = check_view(view)
    if not changes:
        raise RecordError(f"nothing to change in photo {photo.id}")
    old_course = photo.session.course_id
    new_course = get_session(s, actor, changes["session_id"]).course_id if "session_id" in changes else old_course
    chosen = s.scalar(select(ViewBaseline).where(ViewBaseline.photo_id == photo.id))

    def change():
        amend(s, actor, photo, "photo", photo.session.course.client_id, changes, reason)
        s.expire(photo, ["session"])
        if chosen is not None and (photo.view != chosen.view or photo.session.course_id != old_course):
            s.delete(chosen)  # the chosen baseline left its view or course: that view falls back to the earliest

    return _restale_after(s, photo, change, also=((new_course, changes.get("view", photo.view)),))


def remove_photo(s: DbSession, store: PhotoStore, actor: Actor, photo_id: int, reason: str, note: str = "") -> int:
    """Take a photo out of the record, with a REMOVAL_REASONS code (see module docstring); returns analyses
    made stale. For ``wrong_client`` the original is deleted from the store once the change is committed."""
    if reason not in REMOVAL_REASONS:
        raise RecordError(f"removal reason is one of {', '.join(REMOVAL_REASONS)}")
    if reason == "other" and not note.strip():
        raise RecordError("say why in the note when the reason is 'other'")
    photo = get_photo(s, actor, photo_id, "remove")
    if photo.removed_at is not None:
        raise RecordError(f"photo {photo.id} was already removed")
    client_id = photo.session.course.client_id
    why = REMOVAL_REASONS[reason] + (f": {note.strip()}" if note.strip() else "")
    if reason != "wrong_client":
        def change():
            amend(s, actor, photo, "photo", client_id, {"removed_at": utcnow(), "removed_by": actor_name(actor),
                                                         "removed_reason": reason}, why)
        return _restale_after(s, photo, change)
    digest, course_id, view = photo.sha256, photo.session.course_id, photo.view
    was_baseline = getattr(first_of_view(s, course_id, view), "id", None) == photo.id
    for version in s.scalars(select(RecordVersion).where(RecordVersion.entity == "photo",
                                                         RecordVersion.entity_id == photo.id)):
        s.delete(version)  # it would keep another person's file name and hash in this client's history
    s.delete(photo)
    s.flush()
    audit(s, actor, "delete", "photo", photo_id, client_id, reason=reason)
    marked = _mark_stale(s, course_id, view) if was_baseline else 0
    if s.scalar(select(Photo.id).where(Photo.sha256 == digest).limit(1)) is None:
        _delete_after_commit(s, store, digest)
    return marked


def _delete_after_commit(s: DbSession, store: PhotoStore, digest: str) -> None:
    """Delete an original from the store when (and only if) the transaction that dropped its row commits.

    As garbage collection does: under the store's exclusive lock, and only if no row refers to it once the
    lock is held. An import of the same bytes (for the right client) may have committed, or be about to,
    since the row was dropped."""
    if "delete_originals" not in s.info:
        pending = s.info["delete_originals"] = []
        engine = s.get_bind()

        def commit(_s):
            items = list(pending)
            pending.clear()
            if not items:
                return
            for hold in s.info.pop("store_holds", ()):
                hold.release()  # this transaction's imports have committed: their holds are over
            with store.locked(exclusive=True), engine.connect() as conn:
                used = set(conn.scalars(select(Photo.sha256).where(Photo.sha256.in_(items))))
                for item in items:
                    if item not in used:
                        store.delete(item)

        event.listen(s, "after_commit", commit)
        event.listen(s, "after_soft_rollback", lambda _s, _t: pending.clear())
    s.info["delete_originals"].append(digest)


def latest_analysis(photo: Photo) -> PhotoAnalysis | None:
    """The photo's finished analysis by the installed version (a result or an error) that no correction
    made stale; a claim in progress is not one."""
    current = [a for a in photo.analyses if a.analysis_version == analysis.__version__ and not a.stale
               and (a.result is not None or a.error_code is not None)]
    return current[-1] if current else None


def judged_other_person(photo: Photo) -> bool:
    """Whether the photo's current analysis judged it to show someone other than its baseline's person."""
    found = latest_analysis(photo)
    reasons = (found.result or {}).get("alignment", {}).get("reasons", []) if found is not None else []
    return any(isinstance(r, dict) and r.get("code") == "different_person" for r in reasons)


def _finished():
    """SQL: the photo (``Photo``) has a finished analysis by the installed version that is not stale."""
    return exists().where(PhotoAnalysis.photo_id == Photo.id, PhotoAnalysis.analysis_version == analysis.__version__,
                          PhotoAnalysis.stale.is_(False),
                          or_(PhotoAnalysis.result.is_not(None), PhotoAnalysis.error_code.is_not(None)))


def _claimed():
    """SQL: a run has claimed the photo (``Photo``) for the installed version and not finished."""
    return exists().where(PhotoAnalysis.photo_id == Photo.id, PhotoAnalysis.analysis_version == analysis.__version__,
                          PhotoAnalysis.stale.is_(False), PhotoAnalysis.result.is_(None),
                          PhotoAnalysis.error_code.is_(None))


#: Where a photo's analysis is (:func:`analysis_status`).
QUEUED, ANALYSING, ANALYSED, FAILED = "queued", "being analysed", "analysed", "failed"


@dataclass(frozen=True)
class AnalysisStatus:
    """A photo's analysis by the installed version: :data:`QUEUED`, :data:`ANALYSING` (claimed at ``since``),
    :data:`ANALYSED`, or :data:`FAILED` with its ``reason`` (``{"code", "message"}``)."""

    state: str
    since: datetime | None = None
    reason: dict | None = None


def analysis_status(s: DbSession, viewer: Actor, photo_ids: Iterable[int]) -> dict[int, AnalysisStatus]:
    """Each photo's :class:`AnalysisStatus`, in one query, of those ``viewer`` may see (others are left out).
    A stale analysis counts as queued again."""
    check(s, viewer, "view")
    asked = list(photo_ids)
    ids = list(s.scalars(select(Photo.id).join(Session).join(Course).join(Client, Course.client_id == Client.id)
                         .where(Photo.id.in_(asked), visible_clients(viewer))))
    found = {i: AnalysisStatus(QUEUED) for i in asked if i in set(ids)}
    rows = s.scalars(select(PhotoAnalysis).where(PhotoAnalysis.photo_id.in_(ids), PhotoAnalysis.stale.is_(False),
                                                 PhotoAnalysis.analysis_version == analysis.__version__))
    for row in rows:
        if row.error_code is not None:
            found[row.photo_id] = AnalysisStatus(FAILED, reason={"code": row.error_code,
                                                                 "message": row.error_message or ""})
        elif row.result is not None:
            found[row.photo_id] = AnalysisStatus(ANALYSED)
        else:
            found[row.photo_id] = AnalysisStatus(ANALYSING, since=row.created_at)
    return found


def pending_clause():
    """SQL: the photo (``Photo``) is in the record without a current analysis (see :func:`latest_analysis`)."""
    return and_(Photo.removed_at.is_(None), ~_finished())


def pending(s: DbSession, viewer: Actor, client_id: int | None = None) -> list[Photo]:
    """Photos of the clients ``viewer`` sees (or of one of them) without a current analysis (see
    :func:`latest_analysis`), oldest session first."""
    check(s, viewer, "view")
    query = (select(Photo).join(Session).join(Course).join(Client, Course.client_id == Client.id)
             .where(pending_clause(), visible_clients(viewer))
             .order_by(Course.id, Session.number, Photo.id))
    if client_id is not None:
        query = query.where(Course.client_id == get_client(s, viewer, client_id).id)
    return list(s.scalars(query))


def locks_rows(s: DbSession) -> bool:
    """True where runs claim photos by row locks (PostgreSQL); False where by timed claims alone (SQLite)."""
    return s.get_bind().dialect.name == "postgresql"


def lock_next_pending(conn) -> int | None:
    """On PostgreSQL: lock the first pending photo no other run has locked, in ``conn``'s transaction, and return
    its id (None when there is none). The lock lasts until ``conn``'s transaction ends."""
    return conn.execute(select(Photo.id).where(pending_clause()).order_by(Photo.id).limit(1)
                        .with_for_update(skip_locked=True, key_share=True, of=Photo)).scalar()


def next_claimable(s: DbSession) -> int | None:
    """On SQLite: the first pending photo that no live run has claimed (claims past their time released first)."""
    release_stale_claims(s)
    return s.scalar(select(Photo.id).where(pending_clause(), ~_claimed()).order_by(Photo.id).limit(1))


@contextlib.contextmanager
def hold_photo(s: DbSession, photo_id: int) -> Iterator[bool]:
    """Hold the run's exclusive right to analyse a photo: on PostgreSQL, lock its row (``FOR NO KEY UPDATE SKIP
    LOCKED``, which lets claims refer to it) on a connection of its own until the block ends; yields False when
    another run holds it. On SQLite, yields True: the claim alone decides."""
    if not locks_rows(s):
        yield True
        return
    with s.get_bind().connect() as conn:
        locked = conn.execute(select(Photo.id).where(Photo.id == photo_id)
                              .with_for_update(skip_locked=True, key_share=True)).scalar()
        try:
            yield locked is not None
        finally:
            conn.rollback()  # after the caller committed the result: never a moment unlocked and unfinished


class _Baselines:
    """Baselines decoded (and their faces found) once per run, the ``limit`` most recently used kept (a worker
    runs for days); session photos are not kept."""

    def __init__(self, store: PhotoStore, limit: int = 16):
        self.store = store
        self.limit = limit
        self.kept: dict[tuple[str, bool], object] = {}

    def load(self, photo: Photo, face: bool, keep: bool):
        key = (photo.sha256, face)
        if key in self.kept:
            self.kept[key] = self.kept.pop(key)  # most recently used last
            return self.kept[key]
        image = decode(self.store.get(photo.sha256))
        value = locate_face(image) if face else image
        if keep:
            self.kept[key] = value
            while len(self.kept) > self.limit:
                del self.kept[next(iter(self.kept))]
        return value


def this_run() -> str:
    """``host:pid`` of this process, as a claim records it."""
    return f"{socket.gethostname()}:{os.getpid()}"[:120]


def _dead_here(claimed_by: str | None) -> bool:
    """Whether ``claimed_by`` names a process of this host that no longer runs (killed, crashed)."""
    host, _, pid = (claimed_by or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False  # another machine's run, or an older claim: only its age tells
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def release_stale_claims(s: DbSession) -> int:
    """Drop the claims of runs that died: at once for a process of this host that no longer runs, else after
    :data:`CLAIM_TIMEOUT`; returns how many. On PostgreSQL it drops none: there a claim is replaced as soon as
    another run can lock its photo (see :func:`claim`)."""
    if locks_rows(s):
        return 0
    unfinished = and_(PhotoAnalysis.result.is_(None), PhotoAnalysis.error_code.is_(None))
    dead = [claim_id for claim_id, by in s.execute(select(PhotoAnalysis.id, PhotoAnalysis.claimed_by)
                                                   .where(unfinished)) if _dead_here(by)]
    stale = s.execute(delete(PhotoAnalysis).where(unfinished, or_(PhotoAnalysis.created_at < utcnow() - CLAIM_TIMEOUT,
                                                                  PhotoAnalysis.id.in_(dead))))
    s.commit()
    return stale.rowcount


def claim(s: DbSession, photo: Photo) -> PhotoAnalysis | None:
    """Insert and commit the photo's row for this analysis version, replacing a stale one; None if another
    run holds it or has finished it. On PostgreSQL the caller holds the photo's lock (:func:`hold_photo`), so
    an unfinished claim found there is a dead run's, and is replaced too."""
    s.commit()  # a fresh snapshot: what other runs finished since this run listed its photos
    if s.scalar(select(Photo.id).where(Photo.id == photo.id, _finished())) is not None:
        return None
    replaced = PhotoAnalysis.stale.is_(True)
    if locks_rows(s):
        replaced = or_(replaced, and_(PhotoAnalysis.result.is_(None), PhotoAnalysis.error_code.is_(None)))
    s.execute(delete(PhotoAnalysis).where(PhotoAnalysis.photo_id == photo.id, replaced,
                                          PhotoAnalysis.analysis_version == analysis.__version__))
    s.expire(photo, ["analyses"])
    baseline = baseline_of(s, photo)
    record = PhotoAnalysis(photo=photo, reference_photo_id=baseline.id if baseline else None,
                           analysis_version=analysis.__version__, claimed_by=this_run())
    s.add(record)
    try:
        s.commit()
    except IntegrityError:
        s.rollback()
        return None
    return record


def marker_size(course: Course) -> float:
    """The side in mm of the course's printed scale marker: as recorded, else the engine's default."""
    return course.marker_mm or DEFAULT_MARKER_MM


def marker_size_text(marker_mm: float | None) -> str:
    """How big the course's printed marker is taken to be, for people."""
    if marker_mm:
        return f"{marker_mm:g} mm (recorded)"
    return f"{DEFAULT_MARKER_MM:g} mm, the default (record the size of yours if it differs)"


def _measure(photo: Photo, baseline: Photo | None, baselines: _Baselines, floors: analysis.Floors | None) -> dict:
    """The photo's analysis against its baseline, with its clinic's own floors where it has set them."""
    face = photo.view in VIEWS
    reference = baselines.load(baseline, face, keep=True) if baseline else None
    if face:
        return analysis.analyse(baselines.load(photo, True, keep=False), reference, floors=floors)
    marked = (baseline or photo).region
    if not marked:
        raise UnsupportedImage("mark the region to measure on the baseline photo of this body area")
    course = photo.session.course
    area, _ = view_spec(course, photo.view)
    extra = {} if area is None else {"area": area, "marker_mm": marker_size(course)}
    return analysis.analyse(baselines.load(photo, False, keep=False), reference, region=marked, floors=floors,
                            **extra)


def set_marker_size(s: DbSession, actor: Actor, course_id: int, marker_mm: float | None, reason: str) -> int:
    """Record the side of the course's printed scale marker (None: not known); returns analyses made stale.

    The scale of every hair-loss and cellulite measure depends on it, so the course's analyses are re-run.
    """
    if marker_mm is not None and not (MIN_MARKER_MM <= marker_mm <= MAX_MARKER_MM):
        raise RecordError(f"a printed marker's side is {MIN_MARKER_MM:g} to {MAX_MARKER_MM:g} mm")
    course = get_course(s, actor, course_id, "correct")
    amend(s, actor, course, "course", course.client_id, {"marker_mm": marker_mm}, reason)
    found = list(s.scalars(select(PhotoAnalysis).join(Photo, PhotoAnalysis.photo_id == Photo.id).join(Session)
                           .where(Session.course_id == course_id, PhotoAnalysis.stale.is_(False))))
    for record in found:
        record.stale = True
    s.flush()
    return len(found)


def analyse_photo(s: DbSession, store: PhotoStore, actor: Actor, photo: Photo,
                  baselines: _Baselines | None = None, held: bool = False) -> PhotoAnalysis | None:
    """Claim, analyse and record one photo; None if another run has claimed or finished it.

    ``held``: the caller holds the photo's lock already (:func:`lock_next_pending`). Whatever goes wrong with
    this photo (a typed analysis error, a damaged stored region, a missing original, a bug) is recorded
    against it as an error code and message; it never reaches the caller.
    """
    with contextlib.nullcontext(True) if held else hold_photo(s, photo.id) as mine:
        return _analyse_held(s, store, actor, photo, baselines) if mine else None


def _analyse_held(s: DbSession, store: PhotoStore, actor: Actor, photo: Photo,
                  baselines: _Baselines | None) -> PhotoAnalysis | None:
    record = claim(s, photo)
    if record is None:
        return None
    baseline = s.get(Photo, record.reference_photo_id) if record.reference_photo_id else None
    try:
        floors = floors_of(s, photo.session.course.client.clinic_id)
        record.result = _measure(photo, baseline, baselines or _Baselines(store), floors)
    except AnalysisError as exc:
        record.error_code, record.error_message = exc.code, exc.message
    except MemoryError:
        error = ImageTooLarge("the photo does not fit in memory")
        record.error_code, record.error_message = error.code, error.message
    except Exception as exc:  # one photo's failure must not stop the others
        record.error_code = "failed"
        record.error_message = f"the analysis of this photo failed ({type(exc).__name__}: {exc})"[:2000]
    audit(s, actor, "analyse", "photo", photo.id, photo.session.course.client_id,
          outcome=record.error_code or "ok")
    s.commit()
    return record


def analyse_pending(s: DbSession, store: PhotoStore, actor: Actor, client_id: int | None = None,
                    progress: Callable[[int, int, Photo], None] | None = None) -> list[PhotoAnalysis]:
    """Analyse every pending photo, committing after each so that an interruption loses nothing done.

    Photos another run is analysing are skipped (they are not in the result).
    """
    check(s, actor, "analyse")
    release_stale_claims(s)
    todo = pending(s, actor, client_id)
    baselines = _Baselines(store)
    done = []
    for i, photo in enumerate(todo, start=1):
        record = analyse_photo(s, store, actor, photo, baselines)
        if record is not None:
            done.append(record)
        if progress:
            progress(i, len(todo), photo)
    return done


@dataclass(frozen=True)
class Preview:
    """Feedback on a photo before it is saved: its checks against the course's baseline of that view."""

    name: str
    view: str | None
    checks: list
    rgb: object | None  # the decoded photo (uint8 RGB), for display
    ghost: object | None  # the baseline laid over it, when there is a baseline
    error: str | None = None


def parse_region(text: str) -> list[list[float]]:
    """A marked region, ``"x1,y1 x2,y2 x3,y3 ..."`` in the photo's pixels."""
    try:
        points = [[float(v) for v in pair.split(",")] for pair in text.split()]
    except ValueError:
        raise RecordError(f"region {text!r}: write points as 'x,y x,y x,y'") from None
    if len(points) < 3 or any(len(p) != 2 for p in points):
        raise RecordError("a region needs at least three points 'x,y'")
    return points


def check_photo_consent(s: DbSession, viewer: Actor, session_id: int) -> Session:
    """The session, if ``viewer`` may import its photos and its client's photography consent is current on its
    date; else NotAllowed."""
    session = get_session(s, viewer, session_id, "import")
    client = session.course.client
    if not has_consent(client, "photography", session.held_on):
        raise NotAllowed(f"client {client.id} has no current photography consent for {session.held_on.isoformat()}")
    return session


def capture_preview(s: DbSession, store: PhotoStore, viewer: Actor, session_id: int, item: Incoming) -> Preview:
    """Decode, find the face and compare with the course's baseline of the same view, without saving.

    Refuses (NotAllowed) before decoding anything when the client's photography
    consent is not current on the session's date. A named body area has no
    face to find: it is decoded and shown, and its region is checked when the
    photo is saved and analysed.
    """
    course_id = check_photo_consent(s, viewer, session_id).course_id
    try:
        return _preview(s, store, course_id, item)
    except (AnalysisError, RecordError) as exc:
        return Preview(item.name, item.view, [], None, None, exc.message)
    except MemoryError:
        return Preview(item.name, item.view, [], None, None, "the photo does not fit in memory")
    except Exception as exc:  # a preview is advice: never a traceback in the page
        return Preview(item.name, item.view, [], None, None, f"the photo could not be checked ({type(exc).__name__})")


def _preview(s: DbSession, store: PhotoStore, course_id: int, item: Incoming) -> Preview:
    if item.view is not None:
        item = replace(item, view=check_view(item.view))
    try:
        image = decode(item.data)
        if item.region is not None:
            validate_polygon(item.region, image.width, image.height)
        if item.view is not None and item.view not in VIEWS:
            found = [Check("photo readable", "pass", f"{image.width} x {image.height}, {image.format}"),
                     Check("region marked", "pass", f"{len(item.region)} points") if item.region else
                     Check("no region marked", "warn", "draw the region to measure on the baseline photo of this area")]
            return Preview(item.name, item.view, found, image.rgb, None)
        photo = locate_face(image)
    except AnalysisError as exc:
        return Preview(item.name, item.view, [], None, None, exc.message)
    view = item.view or photo.pose.view
    baseline = first_of_view(s, course_id, view) if view else None
    try:
        reference = locate_face(decode(store.get(baseline.sha256))) if baseline else None
    except AnalysisError:  # a baseline without a findable face: check the photo on its own
        reference = None
    result = analysis.analyse(photo, reference)
    checks = capture_checks(result, photo, reference)
    return Preview(item.name, view, checks, image.rgb, ghost(image.rgb, reference.rgb) if reference else None)
