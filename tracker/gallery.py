"""Before/after galleries: which photos a clinic may show, and exporting them.

A gallery is per clinic: it offers the clients the viewer sees, of one
clinic when one is chosen (a group admin may choose any, or all). A photo may
appear in a gallery only while its client's marketing consent
*and* photography consent are current on the day of the export. Withdrawing
marketing consent keeps every photo of that client out of every export from
that day on. A pair is offered only when its analysis judged it comparable:
the "after" photo is the latest of its view that is comparable with the
baseline, and a view with none is left out. Exported images are re-encoded
from pixels, so they carry no EXIF block at all (no location, no camera
serial, no capture time).

Images are built once and kept in the data folder's ``cache/``, beside each
photo (:meth:`~tracker.photostore.PhotoStore.cache_dir`): a downscaled copy
of the photo, its de-identified and watermarked variant, and the captioned
pair, each keyed by what it is made of (photo hash, size, options, analysis
version for the landmarks), written atomically. The cache is disposable and
erased with the photo.

De-identification, where the clinic asks for it, either masks the eyes with a
solid band (from the face's landmarks, with a margin) or crops each photo to
the lower face, below the eyes; a watermark can be added to every image. A
body area or scalp photo has no face to go by: either mode crops it to the
region the practitioner marked on the baseline (mapped into each later photo
by its feature alignment), with a small margin, and a face the crop still
shows (a neck region reaching the chin) is then hidden as the mode says. A
later photo the region cannot be carried into (not analysed, or a degenerate
alignment), and a photo with neither landmarks nor a region (nor a face found
again), is shown black rather than whole.
"""

from __future__ import annotations

import hashlib
import io
import os
import pathlib
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession, object_session

import analysis
from analysis import AnalysisError, decode, locate_face
from analysis.align import apply
from analysis.facemesh import FACE_OVAL, LEFT_BROW, LEFT_EYE, RIGHT_BROW, RIGHT_EYE, Face

from .models import Client, Photo, Session
from .photos import first_of_view, latest_analysis
from .photostore import PhotoStore, atomic_write, safe_name
from .access import check, visible_clients
from .errors import NotAllowed
from .records import Actor, audit, get_course, has_consent


@dataclass(frozen=True)
class GalleryPair:
    client_id: int
    course_id: int
    view: str
    before: Photo
    after: Photo


def pair_key(pair: GalleryPair) -> tuple:
    """What makes a pair this pair: its course, view and both photos."""
    return pair.course_id, pair.view, pair.before.id, pair.after.id


def check_offered(s: DbSession, actor: Actor, pairs: list[GalleryPair], day: date | None = None) -> None:
    """NotAllowed unless every pair is one :func:`eligible_pairs` offers ``actor`` on ``day``: a caller's own
    pair must not bypass the consents and the comparability verdict."""
    offered = {pair_key(p) for p in eligible_pairs(s, actor, day)}
    refused = [p for p in pairs if pair_key(p) not in offered]
    if refused:
        raise NotAllowed(f"course {refused[0].course_id}, view {refused[0].view}: not a pair the gallery offers "
                         "(consent, or a comparable later photo, is missing)")


def comparable_with_baseline(photo: Photo) -> bool:
    """True when the photo's current analysis compared it with its baseline and judged the pair comparable."""
    found = latest_analysis(photo)
    return bool(found and found.result and "change" in found.result and found.result["alignment"]["comparable"])


def eligible_pairs(s: DbSession, viewer: Actor, day: date | None = None,
                   clinic_id: int | None = None) -> list[GalleryPair]:
    """For each course and view of a client ``viewer`` sees (of ``clinic_id``, when given) whose marketing
    consent is current: the baseline and the latest photo comparable with it (a view with none is left out)."""
    check(s, viewer, "gallery")
    day = day or date.today()
    pairs = []
    query = select(Client).where(visible_clients(viewer)).order_by(Client.id)
    if clinic_id is not None:
        query = query.where(Client.clinic_id == clinic_id)
    for client in s.scalars(query):
        if not (has_consent(client, "marketing", day) and has_consent(client, "photography", day)):
            continue
        for course in client.courses:
            photos = list(s.scalars(select(Photo).join(Session).where(Session.course_id == course.id,
                                                                      Photo.removed_at.is_(None))
                                    .order_by(Session.number, Photo.id)))
            for view in dict.fromkeys(p.view for p in photos):
                of_view = [p for p in photos if p.view == view]
                baseline = first_of_view(s, course.id, view)
                after = next((p for p in reversed(of_view) if p.id != baseline.id and comparable_with_baseline(p)),
                             None)
                if after is not None:
                    pairs.append(GalleryPair(client.id, course.id, view, baseline, after))
    return pairs


DEIDENTIFY = ("none", "mask_eyes", "crop_lower_face")


#: Margin around a marked region's bounding box when a body photo is cropped to it, as a fraction of its size.
REGION_MARGIN = 0.05


def deidentify(rgb: np.ndarray, mode: str, landmarks: np.ndarray | None = None,
               region: np.ndarray | None = None) -> np.ndarray:
    """Mask the eyes or crop to the lower face (see module docstring); ``none`` returns the photo.

    ``landmarks`` (478 x 2, in this image's pixels) saves finding the face again. ``region`` (N x 2, in this
    image's pixels), the marked region of a body area, is what a photo without landmarks is cropped to; a face
    the crop still shows (a neck region reaching up to the chin and eyes) is then hidden as ``mode`` says.
    """
    if mode == "none":
        return rgb
    if mode not in DEIDENTIFY:
        raise ValueError(f"de-identification is one of {', '.join(DEIDENTIFY)}")
    if landmarks is None and region is not None:
        crop = crop_to_region(rgb, region)
        face = _find_face(crop)
        return crop if face is None else _hide_face(crop, mode, face)
    face = _find_face(rgb) if landmarks is None else Face(np.column_stack([landmarks, np.zeros(len(landmarks))]))
    if face is None:
        return np.zeros_like(rgb)  # no landmarks to de-identify with: show nothing rather than a face
    return _hide_face(rgb, mode, face)


def _find_face(rgb: np.ndarray) -> Face | None:
    try:
        return locate_face(rgb).face
    except AnalysisError:
        return None


def _hide_face(rgb: np.ndarray, mode: str, face: Face) -> np.ndarray:
    """Mask the eyes and brows with a margin, or crop to the face below them."""
    iod = face.inter_ocular_px
    eyes = face.xy[list(LEFT_EYE + RIGHT_EYE + LEFT_BROW + RIGHT_BROW)]
    if mode == "mask_eyes":
        out = rgb.copy()
        top, bottom = int(eyes[:, 1].min() - 0.15 * iod), int(eyes[:, 1].max() + 0.2 * iod)
        left, right = int(eyes[:, 0].min() - 0.3 * iod), int(eyes[:, 0].max() + 0.3 * iod)
        out[max(top, 0):bottom, max(left, 0):right] = 0
        return out
    top = int(eyes[:, 1].max() + 0.35 * iod)
    oval = face.xy[list(FACE_OVAL)]
    left, right = int(max(oval[:, 0].min() - 0.1 * iod, 0)), int(oval[:, 0].max() + 0.1 * iod)
    bottom = int(oval[:, 1].max() + 0.1 * iod)
    return np.ascontiguousarray(rgb[max(top, 0):bottom, left:right])


def crop_to_region(rgb: np.ndarray, region: np.ndarray) -> np.ndarray:
    """The bounding box of ``region`` (N x 2 pixels), widened by :data:`REGION_MARGIN`, clipped to the image;
    black when the region lies outside it or is not finite (a degenerate alignment mapped it to infinity): a
    body photo is never shown whole when it was to be cropped."""
    if not np.isfinite(region).all():
        return np.zeros_like(rgb)
    low, high = region.min(axis=0), region.max(axis=0)
    margin = REGION_MARGIN * (high - low)
    left, top = np.floor(np.maximum(low - margin, 0)).astype(int)
    right, bottom = np.ceil(np.minimum(high + margin, (rgb.shape[1], rgb.shape[0]))).astype(int)
    if right - left < 2 or bottom - top < 2:
        return np.zeros_like(rgb)
    return np.ascontiguousarray(rgb[top:bottom, left:right])


def _font(size: int):
    return ImageFont.load_default(size=size)


def watermark(rgb: np.ndarray, text: str) -> np.ndarray:
    """``text`` in translucent white at the bottom right."""
    if not text:
        return rgb
    img = Image.fromarray(rgb)
    font = _font(max(12, img.height // 25))
    box = ImageDraw.Draw(img).textbbox((0, 0), text, font=font, stroke_width=1)
    width, height = box[2] - box[0], box[3] - box[1]
    x, y = img.width - width - img.height // 40, img.height - height - img.height // 30
    # Blend only the text's box: the rest of the photo is left as it is.
    layer = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    ImageDraw.Draw(layer).text((-box[0], -box[1]), text, font=font, fill=(255, 255, 255, 150), stroke_width=1,
                               stroke_fill=(0, 0, 0, 90))
    area = (x, y, x + width, y + height)
    img.paste(Image.alpha_composite(img.crop(area).convert("RGBA"), layer).convert("RGB"), area[:2])
    return np.asarray(img)


def side_by_side(before: np.ndarray, after: np.ndarray, height: int = 800,
                 labels: tuple[str, str] = ("", "")) -> np.ndarray:
    """Two photos scaled to one height, next to each other, each captioned."""
    def fit(rgb):
        img = Image.fromarray(rgb)
        if img.height == height:
            return img
        return img.resize((round(img.width * height / img.height), height), Image.LANCZOS, reducing_gap=2.0)

    left, right = fit(before), fit(after)
    caption = 0 if not any(labels) else height // 14
    canvas = Image.new("RGB", (left.width + right.width + 16, height + caption), "white")
    canvas.paste(left, (0, 0))
    canvas.paste(right, (left.width + 16, 0))
    draw, font = ImageDraw.Draw(canvas), _font(max(12, caption // 2))
    for x, label in ((0, labels[0]), (left.width + 16, labels[1])):
        draw.text((x + 8, height + caption // 5), label, font=font, fill="black")
    return np.asarray(canvas)


def month_after(day: date, baseline: date) -> int:
    """Whole months (of 30.44 days, rounded) from the baseline session to ``day``."""
    return round((day - baseline).days / 30.44)


def pair_labels(pair: GalleryPair, mode: str = "none") -> tuple[str, str]:
    """Each photo's caption: its session and date, or, de-identified, the months since the baseline."""
    if mode == "none":
        return tuple(f"Session {p.session.number}, {p.session.held_on.isoformat()}" for p in (pair.before, pair.after))
    start = pair.before.session.held_on
    return tuple(f"Session {p.session.number}, month {month_after(p.session.held_on, start)}"
                 for p in (pair.before, pair.after))


#: Height in pixels of each photo in a gallery pair: a pair 180 mm wide on paper is then about 180 dpi.
PAIR_HEIGHT = 640
#: On screen a pair is at most about 900 px wide: half the pixels, a third of the work.
SCREEN_HEIGHT = 440
JPEG_QUALITY = 88
_JPEG_END = b"\xff\xd9"


def jpeg_bytes(rgb: np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
    """JPEG from pixels only: no EXIF, no comment, no ICC profile."""
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def png_bytes(rgb: np.ndarray) -> bytes:
    """PNG from pixels only: no EXIF, no text chunks."""
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


def pixels(data: bytes) -> np.ndarray:
    """The RGB pixels of a JPEG or PNG made here."""
    img = Image.open(io.BytesIO(data))
    return np.asarray(img if img.mode == "RGB" else img.convert("RGB"))


def _cached(path: pathlib.Path, make) -> bytes:
    """The JPEG at ``path``, made the first time it is asked for.

    Written to a temporary file and renamed into place, so a reader sees a
    whole file or none. Not flushed to disk (the cache is disposable): a file
    a crash left incomplete lacks the JPEG end marker and is made again.
    """
    try:
        data = path.read_bytes()
        if data.endswith(_JPEG_END):
            return data
    except FileNotFoundError:
        pass
    data = jpeg_bytes(make())
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise
    return data


def _key(*parts) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:24]


def _landmarks(photo: Photo) -> np.ndarray | None:
    """The face's landmarks in the photo's pixels, from its current analysis (None for a body area)."""
    found = latest_analysis(photo)
    face = (found.result or {}).get("face") if found else None
    return np.asarray(face["landmarks"], dtype=float) if face and face.get("landmarks") else None


def _marked_region(photo: Photo, baseline: Photo) -> np.ndarray | None:
    """A body area's marked region in ``photo``'s pixels: as marked, on the baseline; carried into a later photo
    by the inverse of its feature alignment (photo -> baseline). None when it cannot be carried: no alignment
    (not analysed, or failed), a singular one, or one that maps part of the region behind the horizon."""
    if photo.region:
        return np.asarray(photo.region, dtype=float)
    found = latest_analysis(photo)
    alignment = ((found.result or {}).get("alignment") or {}) if found else {}
    if alignment.get("method") != "features":
        return None
    try:
        inverse = np.linalg.inv(np.asarray(alignment["matrix"], dtype=float))
    except np.linalg.LinAlgError:
        return None
    marked = np.asarray(baseline.region, dtype=float)
    if (np.column_stack([marked, np.ones(len(marked))]) @ inverse[2] <= 0).any():
        return None  # a point at or beyond infinity: its "region" would be most of the photo
    return apply(inverse, marked)


def _baseline_of(photo: Photo) -> Photo:
    """The baseline of the photo's view in its course (the photo itself when it is the baseline)."""
    return first_of_view(object_session(photo), photo.session.course_id, photo.view) or photo


@dataclass(frozen=True)
class _Shot:
    """What a gallery image needs of a photo, read from the database beforehand (threads never touch it)."""

    sha256: str
    height: int
    landmarks: np.ndarray | None
    region: np.ndarray | None = None
    hidden: bool = False  # a body area whose marked region could not be found in this photo: shown black

    @classmethod
    def of(cls, photo: Photo, mode: str, baseline: Photo | None = None) -> _Shot:
        """``baseline``: the photo the region was marked on (looked up when omitted)."""
        if mode == "none":
            return cls(photo.sha256, photo.height, None)
        landmarks = _landmarks(photo)
        if landmarks is not None:
            return cls(photo.sha256, photo.height, landmarks)
        baseline = baseline or _baseline_of(photo)
        if not baseline.region:
            return cls(photo.sha256, photo.height, None)  # a face photo analysed without landmarks: found again
        region = _marked_region(photo, baseline)
        return cls(photo.sha256, photo.height, None, region, hidden=region is None)


def _thumbnail(store: PhotoStore, shot: _Shot, height: int) -> np.ndarray:
    """The photo scaled to ``height`` pixels, cached (as JPEG) by photo hash and height."""
    def make():
        rgb = decode(store.get(shot.sha256)).rgb
        size = (max(1, round(rgb.shape[1] * height / rgb.shape[0])), height)
        return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    return pixels(_cached(store.cache_dir(shot.sha256) / f"thumb-{height}.jpg", make))


def _gallery_pixels(store: PhotoStore, shot: _Shot, mode: str, mark: str, height: int) -> np.ndarray:
    small = _thumbnail(store, shot, height)
    if shot.hidden:
        return watermark(np.zeros_like(small), mark)
    scale = small.shape[0] / shot.height
    landmarks = None if shot.landmarks is None else shot.landmarks * scale
    region = None if shot.region is None else shot.region * scale
    return watermark(deidentify(small, mode, landmarks, region), mark)


def gallery_pixels(store: PhotoStore, photo: Photo, mode: str = "none", mark: str = "",
                   height: int = PAIR_HEIGHT, baseline: Photo | None = None) -> np.ndarray:
    """A photo's thumbnail de-identified (with its stored landmarks, or the region marked on ``baseline``) and
    watermarked as asked."""
    return _gallery_pixels(store, _Shot.of(photo, mode, baseline), mode, mark, height)


@dataclass(frozen=True)
class PairPicture:
    """What drawing a pair's image needs, read from the database beforehand: building it needs no session,
    so it can run in a worker thread or when a download is clicked."""

    path: pathlib.Path  # in the cache: keyed by photos, options, captions, size and analysis version
    labels: tuple[str, str]
    before: _Shot
    after: _Shot
    mode: str
    mark: str
    height: int

    def jpeg(self, store: PhotoStore) -> bytes:
        """The captioned before/after image as JPEG, built the first time and then read from the cache."""
        return _cached(self.path, lambda: side_by_side(
            *(_gallery_pixels(store, shot, self.mode, self.mark, self.height) for shot in (self.before, self.after)),
            self.height, self.labels))


def pair_picture(store: PhotoStore, pair: GalleryPair, mode: str = "none", mark: str = "",
                 height: int = PAIR_HEIGHT) -> PairPicture:
    labels = pair_labels(pair, mode)
    before, after = _Shot.of(pair.before, mode, pair.before), _Shot.of(pair.after, mode, pair.before)
    regions = tuple("hidden" if s.hidden else None if s.region is None else np.round(s.region, 1).tolist()
                    for s in (before, after))
    key = _key(pair.before.sha256, labels, mode, mark, height, analysis.__version__, regions)
    return PairPicture(store.cache_dir(pair.after.sha256) / f"pair-{key}.jpg", labels, before, after, mode, mark,
                       height)


def pair_jpegs(store: PhotoStore, pairs: list[GalleryPair], mode: str = "none", mark: str = "",
               height: int = PAIR_HEIGHT) -> list[bytes]:
    """The captioned before/after image of each pair as JPEG; those not cached yet are built in parallel,
    one thread per core (the landmarks that place a mask come from the analysis, read beforehand)."""
    pictures = [pair_picture(store, pair, mode, mark, height) for pair in pairs]
    refind = mode != "none" and any(s.landmarks is None for p in pictures for s in (p.before, p.after))
    if len(pictures) < 2 or refind:  # finding a face again uses the face model: one thread
        return [p.jpeg(store) for p in pictures]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        return list(pool.map(lambda p: p.jpeg(store), pictures))


def pair_jpeg(store: PhotoStore, pair: GalleryPair, mode: str = "none", mark: str = "",
              height: int = PAIR_HEIGHT) -> bytes:
    """The captioned before/after image of one pair as JPEG (see :func:`pair_jpegs`)."""
    return pair_picture(store, pair, mode, mark, height).jpeg(store)


def pair_image(store: PhotoStore, pair: GalleryPair, mode: str = "none", mark: str = "") -> np.ndarray:
    """The before/after image of a pair, de-identified and watermarked as asked, captioned with dates."""
    return pixels(pair_jpeg(store, pair, mode, mark))


def export_pairs(s: DbSession, store: PhotoStore, actor: Actor, out_dir: pathlib.Path, pairs: list[GalleryPair],
                 mode: str = "none", mark: str = "", day: date | None = None) -> list[pathlib.Path]:
    """Write each pair as a PNG with no metadata; returns the files written: only pairs the gallery offers on
    ``day`` (default today, :func:`check_offered`). A pair of a client ``actor``
    may not see is "not found"."""
    check(s, actor, "gallery")
    for pair in pairs:
        get_course(s, actor, pair.course_id, "gallery")
    check_offered(s, actor, pairs, day)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for number, pair in enumerate(pairs, start=1):
        sessions = f"s{pair.before.session.number}-s{pair.after.session.number}"
        # de-identified: a number, never the course id or the typed view; named: both (a view is user text)
        named = f"course{pair.course_id}-{safe_name(pair.view)}-{sessions}.png"
        name = f"pair-{number}.png" if mode != "none" else named
        path = out_dir / name
        atomic_write(path, png_bytes(pair_image(store, pair, mode, mark)))
        written.append(path)
        audit(s, actor, "export", "gallery", pair.course_id, pair.client_id, view=pair.view)
    return written


def export_gallery(s: DbSession, store: PhotoStore, actor: Actor, out_dir: pathlib.Path,
                   day: date | None = None, mode: str = "none", mark: str = "",
                   clinic_id: int | None = None) -> list[pathlib.Path]:
    """Export every pair :func:`eligible_pairs` offers ``actor`` (of one clinic, when given)."""
    return export_pairs(s, store, actor, out_dir, eligible_pairs(s, actor, day, clinic_id), mode, mark, day)

