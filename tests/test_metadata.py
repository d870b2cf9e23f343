"""Location and device identifiers leave a photo at import, its pixels byte for byte (issue 16, minor).

Each file is built here with Pillow: a known image, the Exif a phone writes (GPS position, body serial, owner,
maker, orientation, capture date), a comment. Before the fix the store kept every byte of it.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

from tracker.errors import BadPhoto
from tracker.metadata import strip_identifying
from tracker.models import AuditEvent, Photo
from tracker.photos import Incoming, import_photos
from tracker_helpers import ACTOR, client_with_course, sample_bytes

SERIAL, OWNER, TAKEN = "SN-40417-XK", "Dr Jane Roe", "2026:01:02 10:00:00"
GPS_IFD, EXIF_IFD = 0x8825, 0x8769


def phone_exif(orientation: int = 6) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "PhoneMaker"
    gps = exif.get_ifd(GPS_IFD)
    gps[1], gps[2], gps[3], gps[4] = "N", (51.0, 30.0, 26.0), "W", (0.0, 7.0, 39.0)
    sub = exif.get_ifd(EXIF_IFD)
    sub[0xA431], sub[0xA430], sub[0x9003] = SERIAL, OWNER, TAKEN
    return exif


def pixels() -> np.ndarray:
    return (np.random.default_rng(0).random((48, 64, 3)) * 255).astype(np.uint8)


def encoded(fmt: str, exif: Image.Exif | None = None, **options) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels()).save(out, fmt, **({"exif": exif.tobytes()} if exif is not None else {}), **options)
    return out.getvalue()


def decoded(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(img.convert("RGB"))


@pytest.mark.parametrize("fmt, options", [("JPEG", {"quality": 90}), ("JPEG", {"progressive": True}),
                                          ("PNG", {}), ("WEBP", {"lossless": True}), ("WEBP", {"quality": 80})])
def test_location_and_serials_go_while_orientation_capture_date_and_pixels_stay(fmt, options):
    data = encoded(fmt, phone_exif(), **options)
    assert SERIAL.encode() in data  # the premise: the file as the phone wrote it
    kept = strip_identifying(data)
    assert kept.removed == ("its location (GPS)", "the camera's serial number or owner")
    with Image.open(io.BytesIO(kept.data)) as img:
        exif = img.getexif()
        assert dict(exif.get_ifd(GPS_IFD)) == {} and GPS_IFD not in exif and 0x010F not in exif
        assert exif[0x0112] == 6 and dict(exif.get_ifd(EXIF_IFD)) == {0x9003: TAKEN}
    assert SERIAL.encode() not in kept.data and OWNER.encode() not in kept.data
    assert np.array_equal(decoded(kept.data), decoded(data))
    assert strip_identifying(kept.data) == (kept.__class__(kept.data, ()))  # nothing more to take: unchanged


def test_a_jpegs_compressed_image_data_is_copied_byte_for_byte():
    data = encoded("JPEG", phone_exif(), progressive=True, comment=b"taken at 12 Acacia Avenue")
    kept = strip_identifying(data)
    scan = data.index(b"\xff\xda")  # the first scan (SOS) to the end of the image
    assert kept.data[kept.data.index(b"\xff\xda"):] == data[scan:]
    assert b"Acacia" not in kept.data and kept.removed[-1] == "other metadata"


def test_a_multi_picture_jpeg_keeps_its_first_image_only():
    """The further images of an MPO (a phone's depth map or preview) carry Exif of their own."""
    out = io.BytesIO()
    first, second = Image.fromarray(pixels()), Image.fromarray(pixels()[::-1].copy())
    first.save(out, "MPO", save_all=True, append_images=[second], exif=phone_exif(1).tobytes())
    data = out.getvalue()
    kept = strip_identifying(data)
    assert data.count(SERIAL.encode()) >= 1 and SERIAL.encode() not in kept.data
    with Image.open(io.BytesIO(kept.data)) as img:
        assert getattr(img, "n_frames", 1) == 1
    assert np.array_equal(decoded(kept.data), decoded(data))


def test_a_file_without_metadata_is_stored_as_it_came():
    data = encoded("JPEG")
    assert strip_identifying(data).data is data and strip_identifying(data).removed == ()


@pytest.mark.parametrize("data", [b"\xff\xd8\xff\xe0\x00\x10JFIF", b"not an image", encoded("JPEG")[:300]])
def test_a_truncated_or_foreign_file_is_left_for_the_decoder_to_refuse(data):
    assert strip_identifying(data).data == data


def test_a_tiff_with_a_location_is_refused_with_the_way_to_fix_it_and_one_without_is_kept():
    with pytest.raises(BadPhoto, match=r"scan\.tif: the file carries its location \(GPS\).*export it as JPEG"):
        strip_identifying(encoded("TIFF", phone_exif()), "scan.tif")
    plain = encoded("TIFF")
    assert strip_identifying(plain).data is plain


pillow_heif = pytest.importorskip("pillow_heif")


def test_a_heic_with_a_location_is_refused():
    pillow_heif.register_heif_opener()
    with pytest.raises(BadPhoto, match="its location"):
        strip_identifying(encoded("HEIF", phone_exif()), "IMG_0001.HEIC")


@pytest.mark.backends
def test_the_store_and_the_record_keep_no_location_and_say_what_was_removed(db):
    """A real face photo (the sample course's) given a phone's Exif, imported through the library."""
    ids = client_with_course(db, "Ada Example", sessions=2, with_photos=False)
    with Image.open(io.BytesIO(sample_bytes(1))) as img:
        out = io.BytesIO()
        img.save(out, "JPEG", quality=92, exif=phone_exif(1).tobytes())
    data = out.getvalue()
    with db.session() as s:
        (photo,) = import_photos(s, db.store, ACTOR, ids["sessions"][0], [Incoming("IMG_2041.jpg", data)])
        s.commit()
        stored = db.store.get(photo.sha256)
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "import",
                                                   AuditEvent.entity_id == photo.id)).one()
        assert s.get(Photo, photo.id).size_bytes == len(stored) < len(data)
    assert SERIAL.encode() not in stored and b"PhoneMaker" not in stored
    assert np.array_equal(decoded(stored), decoded(data))
    assert event.detail["metadata_removed"] == ["its location (GPS)", "the camera's serial number or owner"]
