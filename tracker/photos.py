"""Importing session photos and analysing them against the course's baseline.

An import is all or nothing: every file is decoded and checked first (a
non-image, a duplicate or a photo without a face and without a named body
area stops the import with the file's name), then originals go to the photo
store and rows to the database in one transaction. A crash part-way leaves
no photo row; the store may hold originals no row refers to yet, which
:meth:`~tracker.photostore.PhotoStore.collect_garbage` removes.

The baseline of a photo is the same view's photo in the course's earliest
session that has one.
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

import analysis
from analysis import AnalysisError, UnsupportedImage, decode, locate_face
from analysis.visual import Check, capture_checks, ghost

from .errors import BadPhoto, DuplicatePhoto, NotAllowed, RecordError
from .models import VIEWS, Course, Photo, PhotoAnalysis, Session
from .photostore import PhotoStore, sha256_of
from .records import audit, get_session, has_consent

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".heic", ".heif", ".bmp"}


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
    return [Incoming(p.name, p.read_bytes()) for p in paths]


def _check(item: Incoming) -> tuple[analysis.DecodedImage, str]:
    """Decode a file and settle its view; raises BadPhoto with the file's name."""
    try:
        image = decode(item.data)
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


def import_photos(s: DbSession, store: PhotoStore, actor: str, session_id: int,
                  items: Iterable[Incoming]) -> list[Photo]:
    """Check, store and record a session's photos, all or nothing (see module docstring)."""
    session = get_session(s, session_id)
    client = session.course.client
    if not has_consent(client, "photography", session.held_on):
        raise NotAllowed(f"client {client.id} has no current photography consent")
    known = set(s.scalars(select(Photo.sha256).join(Session).where(Session.course_id.in_(
        select(Course.id).where(Course.client_id == client.id)))))
    checked = []
    for item in items:
        digest = sha256_of(item.data)
        if digest in known:
            raise DuplicatePhoto(f"{item.name}: this photo is already in the client's records")
        known.add(digest)
        checked.append((item, digest, *_check(item)))
    photos = []
    for item, digest, image, view in checked:
        store.put(item.data)
        photo = Photo(session=session, sha256=digest, view=view, original_name=item.name, format=image.format,
                      width=image.width, height=image.height, size_bytes=len(item.data),
                      captured_at=image.captured_at, region=item.region)
        s.add(photo)
        photos.append(photo)
    s.flush()
    for photo in photos:
        audit(s, actor, "import", "photo", photo.id, client.id, session_id=session.id, view=photo.view)
    return photos


def first_of_view(s: DbSession, course_id: int, view: str) -> Photo | None:
    """The course's earliest photo of a view: the baseline every later photo of it is compared with."""
    return s.scalar(select(Photo).join(Session).where(Session.course_id == course_id, Photo.view == view)
                    .order_by(Session.number, Photo.id).limit(1))


def baseline_of(s: DbSession, photo: Photo) -> Photo | None:
    """The same view's photo in the course's earliest session that has one; None if that is this photo."""
    first = first_of_view(s, photo.session.course_id, photo.view)
    return None if first is None or first.id == photo.id else first


def latest_analysis(photo: Photo) -> PhotoAnalysis | None:
    current = [a for a in photo.analyses if a.analysis_version == analysis.__version__]
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


def analyse_photo(s: DbSession, store: PhotoStore, actor: str, photo: Photo,
                  baselines: _Baselines | None = None) -> PhotoAnalysis:
    """Analyse one photo against its baseline and store the result, or the error that stopped it."""
    baselines = baselines or _Baselines(store)
    baseline = baseline_of(s, photo)
    record = PhotoAnalysis(photo=photo, reference_photo_id=baseline.id if baseline else None,
                           analysis_version=analysis.__version__)
    face = photo.view in VIEWS
    try:
        reference = baselines.load(baseline, face, keep=True) if baseline else None
        if face:
            result = analysis.analyse(baselines.load(photo, True, keep=False), reference)
        else:
            marked = (baseline or photo).region
            if not marked:
                raise UnsupportedImage("mark the region to measure on the baseline photo of this body area")
            result = analysis.analyse(baselines.load(photo, False, keep=False), reference, region=marked)
        record.result = result
    except AnalysisError as exc:
        record.error_code, record.error_message = exc.code, exc.message
    s.add(record)
    s.flush()
    audit(s, actor, "analyse", "photo", photo.id, photo.session.course.client_id,
          outcome=record.error_code or "ok")
    return record


def analyse_pending(s: DbSession, store: PhotoStore, actor: str, client_id: int | None = None,
                    progress: Callable[[int, int, Photo], None] | None = None) -> list[PhotoAnalysis]:
    """Analyse every pending photo, committing after each so that an interruption loses nothing done."""
    todo = pending(s, client_id)
    baselines = _Baselines(store)
    done = []
    for i, photo in enumerate(todo, start=1):
        done.append(analyse_photo(s, store, actor, photo, baselines))
        s.commit()
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
        image = decode(item.data)
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
