"""Attacker probes of the metadata stripping (issue 16 minor: location and serials gone at import).

Each probe hides a GPS position (the marker string LAT below, or the GPS IFD) somewhere a phone, an editor or an
attacker could put it, and asks whether any byte of it is left in what import_photos would store.
A probe that found a hole is marked xfail(strict=True) with where it is: it turns into a failure (XPASS) once
the hole is fixed, so the marker is then removed and the probe kept as a regression test.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image

from analysis import decode
from tracker.metadata import strip_identifying

LAT = "N51d30m26s-PROBE-GPS"  # an ASCII marker standing for a location
GPS_IFD = 0x8825


def pixels() -> np.ndarray:
    return (np.random.default_rng(1).random((48, 64, 3)) * 255).astype(np.uint8)


def gps_exif() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 1
    gps = exif.get_ifd(GPS_IFD)
    gps[1], gps[2] = "N", (51.0, 30.0, 26.0)
    gps[0x1B] = LAT  # GPSProcessingMethod-like text: the marker
    return exif.tobytes()  # starts with Exif\0\0


def jpeg(**kw) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels()).save(out, "JPEG", quality=90, **kw)
    return out.getvalue()


def app1(body: bytes) -> bytes:
    return b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body


def left(data: bytes) -> bool:
    """Whether the stored file still carries the location."""
    kept = strip_identifying(data).data
    return LAT.encode() in kept


def decodes(data: bytes) -> None:
    decode(data)  # the import would accept it (raises otherwise)


def test_premise_plain_exif_gps_is_removed():
    data = jpeg(exif=gps_exif())
    assert LAT.encode() in data
    assert not left(data)


def test_second_exif_app1_segment():
    data = jpeg()
    data = data[:2] + app1(b"Exif\x00\x00" + Image.Exif().tobytes()[6:]) + app1(gps_exif()) + data[2:]
    decodes(data)
    assert not left(data)


def test_xmp_app1_with_gps():
    xmp = b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta><exif:GPSLatitude>" + LAT.encode() + b"</exif:GPSLatitude>"
    data = jpeg()
    data = data[:2] + app1(xmp) + data[2:]
    decodes(data)
    assert not left(data)


def test_exif_app1_after_the_tables():
    """The Exif segment placed after DQT/DHT/SOF, just before SOS (legal: APPn may come anywhere in the header)."""
    data = jpeg()
    sos = data.index(b"\xff\xda")
    data = data[:sos] + app1(gps_exif()) + data[sos:]
    decodes(data)
    assert not left(data)


def test_fill_byte_before_a_marker():
    """T.81 B.1.1.2: any marker may be preceded by fill bytes 0xFF; decoders accept them."""
    data = jpeg(exif=gps_exif())
    dqt = data.index(b"\xff\xdb")
    data = data[:dqt] + b"\xff" + data[dqt:]
    decodes(data)
    assert not left(data), "a single 0xFF fill byte before DQT leaves the file unchanged, GPS and all"


def test_exif_segment_after_the_scan_before_eoi():
    """An APP1 with the location after the entropy-coded data, before EOI (decoders skip APPn there)."""
    data = jpeg()
    assert data.endswith(b"\xff\xd9")
    data = data[:-2] + app1(gps_exif()) + b"\xff\xd9"
    decodes(data)
    assert not left(data), "an APP1 after the scan is copied with the image data"


def test_gps_in_ifd1_thumbnail_directory():
    """IFD0 holds only the kept Orientation; IFD0's next-IFD (IFD1, the thumbnail's) carries GPSInfo."""
    # Little-endian TIFF: header, IFD0 (1 entry: orientation), IFD1 (1 entry: GPSInfo), GPS IFD (1 entry), text
    marker = LAT.encode() + b"\x00"
    ifd0 = 8
    ifd1 = ifd0 + 2 + 12 + 4
    gps = ifd1 + 2 + 12 + 4
    text = gps + 2 + 12 + 4
    tiff = b"II*\x00" + struct.pack("<I", ifd0)
    tiff += struct.pack("<H", 1) + struct.pack("<HHIHH", 0x0112, 3, 1, 1, 0) + struct.pack("<I", ifd1)
    tiff += struct.pack("<H", 1) + struct.pack("<HHII", GPS_IFD, 4, 1, gps) + struct.pack("<I", 0)
    tiff += struct.pack("<H", 1) + struct.pack("<HHII", 0x1B, 7, len(marker), text) + struct.pack("<I", 0)
    tiff += marker
    data = jpeg()
    data = data[:2] + app1(b"Exif\x00\x00" + tiff) + data[2:]
    decodes(data)
    assert not left(data), "GPS reached through IFD1 is not seen, so the original file is kept"


def test_slack_bytes_inside_the_exif_segment():
    """Bytes inside the Exif APP1 that no IFD points to (an editor's leftover of an old GPS IFD)."""
    exif = Image.Exif()
    exif[0x0112] = 1
    data = jpeg()
    data = data[:2] + app1(exif.tobytes() + LAT.encode()) + data[2:]
    decodes(data)
    assert not left(data), "unreferenced bytes in a kept-looking Exif block stay"


def test_mpo_second_image_with_gps():
    first, second = jpeg(), jpeg(exif=gps_exif())
    data = first + second
    decodes(data)
    assert not left(data)


# --- PNG -------------------------------------------------------------------------------------------------

def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png() -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels()).save(out, "PNG")
    return out.getvalue()


def after_ihdr(data: bytes, *chunks: bytes) -> bytes:
    at = 8 + 25
    return data[:at] + b"".join(chunks) + data[at:]


def test_png_exif_and_text_chunks():
    data = after_ihdr(png(), png_chunk(b"eXIf", gps_exif()[6:]), png_chunk(b"tEXt", b"GPS\x00" + LAT.encode()),
                      png_chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + LAT.encode()))
    decodes(data)
    assert not left(data)


def test_png_two_exif_chunks_the_last_one_clean():
    clean = Image.Exif()
    clean[0x0112] = 1
    data = after_ihdr(png(), png_chunk(b"eXIf", gps_exif()[6:]), png_chunk(b"eXIf", clean.tobytes()[6:]))
    decodes(data)
    assert not left(data), "only the last eXIf is judged; the first, with GPS, is kept in the original"


def test_png_private_chunk_after_iend():
    data = png() + png_chunk(b"gpSi", LAT.encode())
    decodes(data)
    assert not left(data)


# --- WebP ------------------------------------------------------------------------------------------------

def webp_with(*extra: bytes) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels()).save(out, "WEBP", lossless=True, exif=Image.Exif().tobytes())
    data = out.getvalue()
    body = data[12:] + b"".join(extra)
    return b"RIFF" + struct.pack("<I", len(body) + 4) + b"WEBP" + body


def riff(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("<I", len(body)) + body + b"\x00" * (len(body) & 1)


def test_webp_exif_chunk():
    out = io.BytesIO()
    Image.fromarray(pixels()).save(out, "WEBP", lossless=True, exif=gps_exif())
    data = out.getvalue()
    assert LAT.encode() in data
    assert not left(data)


def test_webp_two_exif_chunks_the_last_one_clean():
    clean = Image.Exif()
    clean[0x0112] = 1
    data = webp_with(riff(b"EXIF", gps_exif()), riff(b"EXIF", clean.tobytes()))
    decodes(data)
    assert not left(data), "only the last EXIF chunk is judged; the first, with GPS, is kept in the original"


def test_webp_unknown_chunk():
    data = webp_with(riff(b"GPSx", LAT.encode()))
    decodes(data)
    assert not left(data), "unknown RIFF chunks are kept"


def test_end_to_end_a_fill_byte_keeps_the_location_in_the_store(db):
    from tracker.models import Photo
    from tracker.photos import Incoming, import_photos
    from tracker_helpers import ACTOR, client_with_course, sample_bytes
    ada = client_with_course(db, sessions=1, with_photos=False)
    data = sample_bytes(1)
    data = data[:2] + app1(gps_exif()) + data[2:]
    dqt = data.index(b"\xff\xdb")
    data = data[:dqt] + b"\xff" + data[dqt:]
    with db.session() as s:
        photo, = import_photos(s, db.store, ACTOR, ada["sessions"][0], [Incoming("phone.jpg", data)])
        s.commit()
        stored = db.store.get(s.get(Photo, photo.id).sha256)
    assert LAT.encode() not in stored
