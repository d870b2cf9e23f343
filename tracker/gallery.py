"""Before/after galleries: which photos a clinic may show, and exporting them.

A photo may appear in a gallery only while its client's marketing consent
*and* photography consent are current on the day of the export. Withdrawing
marketing consent keeps every photo of that client out of every export from
that day on. Exported images are re-encoded from pixels, so they carry no
EXIF block at all (no location, no camera serial, no capture time).

De-identification, where the clinic asks for it, either masks the eyes with a
solid band (from the face's landmarks, with a margin) or crops each photo to
the lower face, below the eyes; a watermark can be added to every image.
"""

from __future__ import annotations

import io
import pathlib
from dataclasses import dataclass
from datetime import date

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from analysis import AnalysisError, decode, locate_face
from analysis.facemesh import FACE_OVAL, LEFT_BROW, LEFT_EYE, RIGHT_BROW, RIGHT_EYE

from .models import Client, Photo, Session
from .photos import first_of_view
from .photostore import PhotoStore, atomic_write
from .records import audit, has_consent


@dataclass(frozen=True)
class GalleryPair:
    client_id: int
    course_id: int
    view: str
    before: Photo
    after: Photo


def eligible_pairs(s: DbSession, day: date | None = None) -> list[GalleryPair]:
    """Baseline and latest photo of each course and view, for clients whose marketing consent is current."""
    day = day or date.today()
    pairs = []
    for client in s.scalars(select(Client).order_by(Client.id)):
        if not (has_consent(client, "marketing", day) and has_consent(client, "photography", day)):
            continue
        for course in client.courses:
            photos = list(s.scalars(select(Photo).join(Session).where(Session.course_id == course.id,
                                                                      Photo.removed_at.is_(None))
                                    .order_by(Session.number, Photo.id)))
            for view in dict.fromkeys(p.view for p in photos):
                of_view = [p for p in photos if p.view == view]
                if len(of_view) >= 2:
                    baseline = first_of_view(s, course.id, view)
                    latest = of_view[-1] if of_view[-1].id != baseline.id else of_view[-2]
                    pairs.append(GalleryPair(client.id, course.id, view, baseline, latest))
    return pairs


DEIDENTIFY = ("none", "mask_eyes", "crop_lower_face")


def deidentify(rgb: np.ndarray, mode: str) -> np.ndarray:
    """Mask the eyes or crop to the lower face (see module docstring); ``none`` returns the photo."""
    if mode == "none":
        return rgb
    if mode not in DEIDENTIFY:
        raise ValueError(f"de-identification is one of {', '.join(DEIDENTIFY)}")
    try:
        face = locate_face(rgb).face
    except AnalysisError:
        return np.zeros_like(rgb)  # no landmarks to de-identify with: show nothing rather than a face
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


def _font(size: int):
    return ImageFont.load_default(size=size)


def watermark(rgb: np.ndarray, text: str) -> np.ndarray:
    """``text`` in translucent white at the bottom right."""
    if not text:
        return rgb
    img = Image.fromarray(rgb).convert("RGBA")
    layer = Image.new("RGBA", img.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    font = _font(max(12, img.height // 25))
    box = draw.textbbox((0, 0), text, font=font)
    x, y = img.width - (box[2] - box[0]) - img.height // 40, img.height - (box[3] - box[1]) - img.height // 30
    draw.text((x, y), text, font=font, fill=(255, 255, 255, 150), stroke_width=1, stroke_fill=(0, 0, 0, 90))
    return np.asarray(Image.alpha_composite(img, layer).convert("RGB"))


def side_by_side(before: np.ndarray, after: np.ndarray, height: int = 800,
                 labels: tuple[str, str] = ("", "")) -> np.ndarray:
    """Two photos scaled to one height, next to each other, each captioned."""
    def fit(rgb):
        img = Image.fromarray(rgb)
        return img.resize((round(img.width * height / img.height), height), Image.LANCZOS)

    left, right = fit(before), fit(after)
    caption = 0 if not any(labels) else height // 14
    canvas = Image.new("RGB", (left.width + right.width + 16, height + caption), "white")
    canvas.paste(left, (0, 0))
    canvas.paste(right, (left.width + 16, 0))
    draw, font = ImageDraw.Draw(canvas), _font(max(12, caption // 2))
    for x, label in ((0, labels[0]), (left.width + 16, labels[1])):
        draw.text((x + 8, height + caption // 5), label, font=font, fill="black")
    return np.asarray(canvas)


def pair_labels(pair: GalleryPair) -> tuple[str, str]:
    return tuple(f"Session {p.session.number}, {p.session.held_on.isoformat()}" for p in (pair.before, pair.after))


def compose_pair(before: np.ndarray, after: np.ndarray, labels: tuple[str, str], mode: str = "none",
                 mark: str = "") -> np.ndarray:
    """Two photos de-identified and watermarked as asked, side by side, captioned."""
    return side_by_side(*(watermark(deidentify(rgb, mode), mark) for rgb in (before, after)), labels=labels)


def pair_image(store: PhotoStore, pair: GalleryPair, mode: str = "none", mark: str = "") -> np.ndarray:
    """The before/after image of a pair, de-identified and watermarked as asked, captioned with dates."""
    before, after = (decode(store.get(p.sha256)).rgb for p in (pair.before, pair.after))
    return compose_pair(before, after, pair_labels(pair), mode, mark)


def png_bytes(rgb: np.ndarray) -> bytes:
    """PNG from pixels only: no EXIF, no text chunks."""
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


def export_pairs(s: DbSession, store: PhotoStore, actor: str, out_dir: pathlib.Path, pairs: list[GalleryPair],
                 mode: str = "none", mark: str = "") -> list[pathlib.Path]:
    """Write each pair as a PNG with no metadata; returns the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for pair in pairs:
        sessions = f"s{pair.before.session.number}-s{pair.after.session.number}"
        path = out_dir / f"course{pair.course_id}-{pair.view}-{sessions}.png"
        atomic_write(path, png_bytes(pair_image(store, pair, mode, mark)))
        written.append(path)
        audit(s, actor, "export", "gallery", pair.course_id, pair.client_id, view=pair.view)
    return written


def export_gallery(s: DbSession, store: PhotoStore, actor: str, out_dir: pathlib.Path,
                   day: date | None = None, mode: str = "none", mark: str = "") -> list[pathlib.Path]:
    return export_pairs(s, store, actor, out_dir, eligible_pairs(s, day), mode, mark)

