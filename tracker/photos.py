"""Importing session photos and analysing them against the course's baseline.

An import is all or nothing: every file is decoded and checked first (a
non-image, a duplicate, a bad view name or region, or a photo without a face
and without a named body area stops the import with the file's name), then
rows and originals are written in one transaction. A crash part-way leaves no
photo row; the store may hold originals no row refers to, which ``check``
reports and :meth:`~tracker.photostore.PhotoStore.collect_garbage` removes.
The import holds the store's shared lock until its transaction ends, so a
collector never removes an original whose row is about to commit.

Two imports for the same client never both add a photo: the duplicate check
runs after taking the client's write lock (an ``UPDATE`` of the client's row,
held until the transaction ends), so the second import sees the first's rows.

The baseline of a photo is the same view's photo in the course's earliest
session that has one. Each photo is analysed once per analysis version: a run
first *claims* it by inserting its (photo, version) row, which a unique
constraint lets only one run do. Any error in one photo is recorded against
that photo, and the run goes on with the next.
"""

from __future__ import annotations

import pathlib
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import timedelta

from sqlalchemy import delete, event, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession

import analysis
from analysis import AnalysisError, ImageTooLarge, UnsupportedImage, decode, locate_face
from analysis.polygon import validate_polygon
from analysis.visual import Check, capture_checks, ghost

from .errors import BadPhoto, DuplicatePhoto, NotAllowed, RecordError
from .models import VIEWS, Client, Course, Photo, PhotoAnalysis, Session, utcnow
from .photostore import PhotoStore, sha256_of
from .records import audit, get_session, has_consent

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".heic", ".heif", ".bmp"}
#: A body area's name: letters, digits, spaces, ``-``, ``_`` and ``'``; never a path, never markup.
BODY_AREA = re.compile(r"\w[\w '-]{0,59}")
MAX_NAME = 300
#: A claim older than this belongs to a run that died; another run may take the photo over.
CLAIM_TIMEOUT = timedelta(minutes=30)


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
    """The image files of a session folder, by name."""
    if not folder.is_dir():
        raise RecordError(f"{folder} is not a folder")
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

    def release(_session, transaction) -> None:
        if transaction.parent is None:
            lock.release()  # idempotent: later transactions of the session find it released

    event.listen(s, "after_transaction_end", release)


def import_photos(s: DbSession, store: PhotoStore, actor: str, session_id: int,
                  items: Iterable[Incoming]) -> list[Photo]:
    """Check, store and record a session's photos, all or nothing (see module docstring)."""
    items = [replace(i, name=clean_name(i.name), view=None if i.view is None else check_view(i.view))
             for i in items]
    session = get_session(s, session_id)
    client = session.course.client
    if not has_consent(client, "photography", session.held_on):
        raise NotAllowed(f"client {client.id} has no current photography consent")
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
    for photo in photos:
        audit(s, actor, "import", "photo", photo.id, client.id, session_id=session.id, view=photo.view)
    return photos


def referenced_hashes(s: DbSession) -> set[str]:
    """The SHA-256 of every original a photo record refers to."""
    return set(s.scalars(select(Photo.sha256)))


def first_of_view(s: DbSession, course_id: int, view: str) -> Photo | None:
    """The course's earliest photo of a view: the baseline every later photo of it is compared with."""
    return s.scalar(select(Photo).join(Session).where(Session.course_id == course_id, Photo.view == view)
                    .order_by(Session.number, Photo.id).limit(1))


def baseline_of(s: DbSession, photo: Photo) -> Photo | None:
    """The same view's photo in the course's earliest session that has one; None if that is this photo."""
    first = first_of_view(s, photo.session.course_id, photo.view)
    return None if first is None or first.id == photo.id else first


def latest_analysis(photo: Photo) -> PhotoAnalysis | None:
    """The finished analysis by the installed version (a result or an error), not a claim in progress."""
    current = [a for a in photo.analyses if a.analysis_version == analysis.__version__
               and (a.result is not None or a.error_code is not None)]
    return current[-1] if current else None


def pending(s: DbSession, client_id: int | None = None) -> list[Photo]:
    """Photos without an analysis by the installed analysis version, oldest session first."""
    query = select(Photo).join(Session).join(Course).order_by(Course.id, Session.number, Photo.id)
    if client_id is not None:
        query = query.where(Course.client_id == client_id)
    return [p for p in s.scalars(query) if latest_analysis(p) is None]


class _Baselines:
    """Baselines decoded (and their faces found) once per run; session photos are not kept."""

    def __init__(self, store: PhotoStore):
        self.store = store
        self.kept: dict[tuple[str, bool], object] = {}

    def load(self, photo: Photo, face: bool, keep: bool):
        key = (photo.sha256, face)
        if key in self.kept:
            return self.kept[key]
        image = decode(self.store.get(photo.sha256))
        value = locate_face(image) if face else image
        if keep:
            self.kept[key] = value
        return value


def release_stale_claims(s: DbSession) -> int:
    """Drop claims older than :data:`CLAIM_TIMEOUT` (their run died); returns how many."""
    stale = s.execute(delete(PhotoAnalysis).where(PhotoAnalysis.result.is_(None), PhotoAnalysis.error_code.is_(None),
                                                  PhotoAnalysis.created_at < utcnow() - CLAIM_TIMEOUT))
    s.commit()
    return stale.rowcount


def claim(s: DbSession, photo: Photo) -> PhotoAnalysis | None:
    """Insert and commit the photo's row for this analysis version; None if another run holds it."""
    baseline = baseline_of(s, photo)
    record = PhotoAnalysis(photo=photo, reference_photo_id=baseline.id if baseline else None,
                           analysis_version=analysis.__version__)
    s.add(record)
    try:
        s.commit()
    except IntegrityError:
        s.rollback()
        return None
    return record


def _measure(photo: Photo, baseline: Photo | None, baselines: _Baselines) -> dict:
    face = photo.view in VIEWS
    reference = baselines.load(baseline, face, keep=True) if baseline else None
    if face:
        return analysis.analyse(baselines.load(photo, True, keep=False), reference)
    marked = (baseline or photo).region
    if not marked:
        raise UnsupportedImage("mark the region to measure on the baseline photo of this body area")
    return analysis.analyse(baselines.load(photo, False, keep=False), reference, region=marked)


def analyse_photo(s: DbSession, store: PhotoStore, actor: str, photo: Photo,
                  baselines: _Baselines | None = None) -> PhotoAnalysis | None:
    """Claim, analyse and record one photo; None if another run has claimed it.

    Whatever goes wrong with this photo (a typed analysis error, a damaged
    stored region, a missing original, a bug) is recorded against it as an
    error code and message; it never reaches the caller.
    """
    record = claim(s, photo)
    if record is None:
        return None
    baseline = s.get(Photo, record.reference_photo_id) if record.reference_photo_id else None
    try:
        record.result = _measure(photo, baseline, baselines or _Baselines(store))
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


def analyse_pending(s: DbSession, store: PhotoStore, actor: str, client_id: int | None = None,
                    progress: Callable[[int, int, Photo], None] | None = None) -> list[PhotoAnalysis]:
    """Analyse every pending photo, committing after each so that an interruption loses nothing done.

    Photos another run is analysing are skipped (they are not in the result).
    """
    release_stale_claims(s)
    todo = pending(s, client_id)
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


def capture_preview(s: DbSession, store: PhotoStore, course_id: int, item: Incoming) -> Preview:
    """Decode, find the face and compare with the course's baseline of the same view, without saving.

    A named body area has no face to find: it is decoded and shown, and its
    region is checked when the photo is saved and analysed.
    """
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
            found = [Check("photo readable", True, f"{image.width} x {image.height}, {image.format}"),
                     Check("region marked", bool(item.region), "yes" if item.region else
                           "mark the region to measure on the baseline photo of this area")]
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
