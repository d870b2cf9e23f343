"""Before/after galleries: which photos a clinic may show, and exporting them.

A photo may appear in a gallery only while its client's marketing consent
*and* photography consent are current on the day of the export. Withdrawing
marketing consent keeps every photo of that client out of every export from
that day on. Exported images are re-encoded from pixels, so they carry no
EXIF block at all (no location, no camera serial, no capture time).
"""

from __future__ import annotations

import io
import pathlib
from dataclasses import dataclass
from datetime import date

import numpy as np
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from analysis import decode

from .models import Client, Photo, Session
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
            photos = list(s.scalars(select(Photo).join(Session).where(Session.course_id == course.id)
                                    .order_by(Session.number, Photo.id)))
            for view in dict.fromkeys(p.view for p in photos):
                of_view = [p for p in photos if p.view == view]
                if len(of_view) >= 2:
                    pairs.append(GalleryPair(client.id, course.id, view, of_view[0], of_view[-1]))
    return pairs


def side_by_side(before: np.ndarray, after: np.ndarray, height: int = 800) -> np.ndarray:
    """Two photos scaled to one height and placed next to each other."""
    def fit(rgb):
        img = Image.fromarray(rgb)
        return np.asarray(img.resize((round(img.width * height / img.height), height), Image.LANCZOS))

    left, right = fit(before), fit(after)
    gap = np.full((height, 16, 3), 255, np.uint8)
    return np.hstack([left, gap, right])


def export_pairs(s: DbSession, store: PhotoStore, actor: str, out_dir: pathlib.Path,
                 pairs: list[GalleryPair]) -> list[pathlib.Path]:
    """Write each pair as a PNG with no metadata; returns the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for pair in pairs:
        image = side_by_side(decode(store.get(pair.before.sha256)).rgb, decode(store.get(pair.after.sha256)).rgb)
        buf = io.BytesIO()
        Image.fromarray(image).save(buf, format="PNG")
        sessions = f"s{pair.before.session.number}-s{pair.after.session.number}"
        path = out_dir / f"course{pair.course_id}-{pair.view}-{sessions}.png"
        atomic_write(path, buf.getvalue())
        written.append(path)
        audit(s, actor, "export", "gallery", pair.course_id, pair.client_id, view=pair.view)
    return written


def export_gallery(s: DbSession, store: PhotoStore, actor: str, out_dir: pathlib.Path,
                   day: date | None = None) -> list[pathlib.Path]:
    return export_pairs(s, store, actor, out_dir, eligible_pairs(s, day))

