"""Location and device identifiers taken out of a photo's file, its pixels left byte for byte.

Phones and cameras write where a photo was taken (GPS), the camera's and lens's serial numbers, the owner's
name and a maker note (which carries serials too) into the file. None of it is needed to measure skin, and in
a health record it tells where a client lives and which device took the photo. At import, every photo's file
is rewritten without them: the compressed image data is copied unchanged, so the pixels decode exactly as
before; only the metadata segments around them change.

Kept: what the pixels need to be shown right and what the record uses, that is the orientation tag, the
capture date (``DateTimeOriginal``) and the colour profile. Everything else in the metadata goes (XMP, IPTC,
comments, thumbnails, the extra images of a multi-picture JPEG), since any of it may repeat the location.

JPEG (and multi-picture JPEG), PNG and WebP are rewritten this way. TIFF and HEIF keep metadata and pixels
in structures that cannot be rewritten without re-encoding; such a file that carries a location or a serial
is refused with the way to fix it, rather than stored with them.

References
----------
.. [1] ITU-T T.81, "Digital compression and coding of continuous-tone still images", 1992, annex B
       (marker segments).
.. [2] JEITA CP-3451C, "Exchangeable image file format for digital still cameras: Exif Version 2.32", 2019.
.. [3] W3C, "Portable Network Graphics (PNG) Specification (Third Edition)", 2025, chunk layout.
.. [4] Google, "WebP Container Specification" (RIFF chunks, VP8X flags).
"""
from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass

from PIL import Image

from .errors import BadPhoto

_ORIENTATION, _DATETIME, _EXIF_IFD, _GPS_IFD, _DATETIME_ORIGINAL = 0x0112, 0x0132, 0x8769, 0x8825, 0x9003
_KEPT_TAGS = frozenset({_ORIENTATION, _DATETIME})
#: Exif tags that identify a device or a person (Exif 2.32, 4.6.6): owner name, body and lens serial numbers,
#: the unique image id, and the maker note, in which makers put serials of their own.
_IDENTIFYING_EXIF = frozenset({0xA430, 0xA431, 0xA435, 0xA420, 0x927C})


@dataclass(frozen=True)
class Stripped:
    """A photo file with its identifying metadata removed.

    ``data`` is the file to store; ``removed`` names what was taken out, in words (empty: nothing was)."""

    data: bytes
    removed: tuple[str, ...]


def strip_identifying(data: bytes, name: str = "the photo") -> Stripped:
    """``data`` without location, device identifiers or other free metadata; the pixels unchanged.

    Raises :class:`~tracker.errors.BadPhoto` for a TIFF or HEIF file that carries a location or a serial
    number (see the module docstring). Data that is not a recognised image is returned as it is: decoding
    refuses it later with its own message."""
    if data[:3] == b"\xff\xd8\xff":
        return _jpeg(data)
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return _png(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp(data)
    found = _identifying_tags(data)
    if found:
        raise BadPhoto(f"{name}: the file carries {' and '.join(found)}, which cannot be removed from this format "
                       "without changing the pixels: export it as JPEG without location (or turn the camera's "
                       "location off) and import that", "identifying_metadata")
    return Stripped(data, ())


def _identifying_tags(data: bytes) -> tuple[str, ...]:
    """What identifying Exif an image Pillow can open carries, in words."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            exif = img.getexif()
    except Exception:  # not an image: decoding says so with its own message
        return ()
    return _described(exif)


def _described(exif: Image.Exif) -> tuple[str, ...]:
    found = []
    if exif.get_ifd(_GPS_IFD) or _GPS_IFD in exif:
        found.append("its location (GPS)")
    if _IDENTIFYING_EXIF & (set(exif) | set(exif.get_ifd(_EXIF_IFD))):
        found.append("the camera's serial number or owner")
    return tuple(found)


def _kept_exif(exif: Image.Exif) -> bytes:
    """An Exif block (TIFF structure, without the ``Exif\\0\\0`` header) holding only the orientation and the
    capture dates of ``exif``; empty if it has neither."""
    kept = Image.Exif()
    for tag in _KEPT_TAGS & set(exif):
        kept[tag] = exif[tag]
    original = exif.get_ifd(_EXIF_IFD).get(_DATETIME_ORIGINAL)
    if original is not None:
        kept.get_ifd(_EXIF_IFD)[_DATETIME_ORIGINAL] = original
    return kept.tobytes().removeprefix(b"Exif\x00\x00") if len(kept) or original is not None else b""


def _more_than_kept(exif: Image.Exif) -> bool:
    """Whether ``exif`` holds anything :func:`_kept_exif` leaves out."""
    sub = exif.get_ifd(_EXIF_IFD)
    return bool(set(exif) - _KEPT_TAGS - {_EXIF_IFD} or set(sub) - {_DATETIME_ORIGINAL})


def _parsed_exif(tiff: bytes) -> Image.Exif:
    exif = Image.Exif()
    try:
        exif.load(b"Exif\x00\x00" + tiff)
    except Exception:  # a damaged block is dropped whole: nothing of it is kept
        return Image.Exif()
    return exif


def _removed(exif: Image.Exif, other: bool, changed: bool = False) -> tuple[str, ...]:
    """What leaving out all but the kept tags of ``exif`` (and, if ``other``, other metadata) removes, in words;
    ``changed``: the Exif block held more than its kept tags, somewhere the tags do not say (another IFD, bytes
    nothing refers to)."""
    words = list(_described(exif))
    if other or (changed or _more_than_kept(exif)) and not words:
        words.append("other metadata")
    return tuple(words)


# --- JPEG ------------------------------------------------------------------------------------------------

#: Segments a decoder needs before the image data: JFIF (APP0), colour profile (APP2 ``ICC_PROFILE``), Adobe's
#: colour transform (APP14), and every non-APP marker (tables, frame header, restart interval). [1]
_APP0, _APP1, _APP2, _APP14, _COM, _SOS, _EOI = 0xE0, 0xE1, 0xE2, 0xEE, 0xFE, 0xDA, 0xD9


def _jpeg(data: bytes) -> Stripped:
    out, exif, exif_at, other, pos = [b"\xff\xd8"], Image.Exif(), None, False, 2
    original_exif = b""
    while True:
        pos = _past_fill(data, pos)
        marker = _marker_at(data, pos)
        if marker is None:
            return Stripped(data, ())  # not a segment where one must be: the decoder refuses the file
        if marker == _SOS:
            break
        body = data[pos + 4:_segment_end(data, pos)]
        if marker == _APP1 and body.startswith(b"Exif\x00\x00") and exif_at is None:
            exif, exif_at, original_exif = _parsed_exif(body[6:]), len(out), body[6:]
        elif _needed(marker, body):
            out.append(data[pos:_segment_end(data, pos)])
        else:
            other = True
        pos = _segment_end(data, pos)
    scans = _image_data(data, pos)
    if scans is None:
        return Stripped(data, ())  # truncated: the decoder says so
    image, end, dropped = scans
    kept = _kept_exif(exif)
    if kept:
        app1 = b"Exif\x00\x00" + kept
        out.insert(exif_at or 1, b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1)
    # anything more than what is kept: segments between or after the scans, a multi-picture file's other images
    # after the end, or an Exif block holding more bytes than its kept tags (another IFD, unreferenced data)
    removed = _removed(exif, other or dropped or end < len(data), exif_at is not None and kept != original_exif)
    return Stripped(b"".join(out) + image, removed) if removed else Stripped(data, ())


def _past_fill(data: bytes, pos: int) -> int:
    """``pos`` past the fill bytes (0xFF) a marker may be preceded by [1]."""
    while data[pos:pos + 2] == b"\xff\xff":
        pos += 1
    return pos


def _needed(marker: int, body: bytes) -> bool:
    """Whether a segment before the image data is one a decoder needs (see :data:`_APP0`)."""
    if marker == _APP0:
        return body.startswith(b"JFIF\x00")
    if marker == _APP2:
        return body.startswith(b"ICC_PROFILE\x00")
    return marker == _APP14 or not (0xE0 <= marker <= 0xEF or marker == _COM)


def _marker_at(data: bytes, pos: int) -> int | None:
    """The marker of the segment at ``pos`` (one with a length field), or None if there is none."""
    if pos + 4 > len(data) or data[pos] != 0xFF or data[pos + 1] in (0x00, 0xFF, 0xD8, _EOI):
        return None
    return data[pos + 1]


def _segment_end(data: bytes, pos: int) -> int:
    return pos + 2 + struct.unpack(">H", data[pos + 2:pos + 4])[0]


def _image_data(data: bytes, pos: int) -> tuple[bytes, int, bool] | None:
    """The image from its first scan (SOS segment, at ``pos``) to its EOI marker, without the application and
    comment segments between or after the scans; the offset just past EOI; and whether any segment was left
    out. None if the file ends first. Between scans come table segments; inside a scan's entropy-coded data a
    0xFF is followed by a stuffed 0x00, a restart marker or a fill byte [1]."""
    out, dropped = [], False
    while True:
        pos = _past_fill(data, pos)
        marker = _marker_at(data, pos)
        if marker is None:
            if data[pos:pos + 2] != b"\xff\xd9":
                return None
            return b"".join(out) + b"\xff\xd9", pos + 2, dropped
        start, pos = pos, _segment_end(data, pos)
        if marker != _SOS:
            if not (0xE0 <= marker <= 0xEF or marker == _COM):  # tables between scans; never APPn or comments
                out.append(data[start:pos])
            else:
                dropped = True
            continue
        while True:  # the scan's entropy-coded data runs to the next marker
            pos = data.find(b"\xff", pos)
            if pos < 0 or pos + 1 >= len(data):
                return None
            if data[pos + 1] == 0xFF:
                pos += 1
            elif data[pos + 1] == 0x00 or 0xD0 <= data[pos + 1] <= 0xD7:
                pos += 2
            else:
                break
        out.append(data[start:pos])  # the SOS segment and its entropy-coded data, as they are


# --- PNG -------------------------------------------------------------------------------------------------

#: Chunks that carry pixels or how to show them; every other chunk (text, time, eXIf, private) goes. [3]
_PNG_KEPT = frozenset({b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT",
                       b"pHYs", b"cICP", b"mDCV", b"cLLI", b"acTL", b"fcTL", b"fdAT"})


def _png(data: bytes) -> Stripped:
    out, pos, exif, other, original = [data[:8]], 8, Image.Exif(), False, None
    while pos + 12 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos:pos + 12 + length]
        if kind in _PNG_KEPT:
            out.append(chunk)
        elif kind == b"eXIf" and original is None:  # the first: a second is dropped whole
            original = data[pos + 8:pos + 8 + length]
            exif = _parsed_exif(original)
        else:
            other = True
        pos += 12 + length
        if kind == b"IEND":
            break
    kept = _kept_exif(exif)
    if kept:  # after IHDR, as the specification allows
        out.insert(2, struct.pack(">I", len(kept)) + b"eXIf" + kept + struct.pack(">I", zlib.crc32(b"eXIf" + kept)))
    removed = _removed(exif, other or pos < len(data), original is not None and kept != original)
    return Stripped(b"".join(out), removed) if removed else Stripped(data, ())


# --- WebP ------------------------------------------------------------------------------------------------

_VP8X_EXIF, _VP8X_XMP = 0x08, 0x04
#: Chunks that carry the image or how to show it; every other chunk (EXIF, XMP, unknown ones) goes. [4]
_WEBP_KEPT = frozenset({b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF", b"ICCP"})


def _webp(data: bytes) -> Stripped:
    chunks, pos, exif, other, original = [], 12, Image.Exif(), False, None
    while pos + 8 <= len(data):
        kind, length = struct.unpack("<4sI", data[pos:pos + 8])
        chunk = data[pos:pos + 8 + length + (length & 1)]
        if kind == b"EXIF" and original is None:  # the first: a second is dropped whole
            body = data[pos + 8:pos + 8 + length]
            original = body[6:] if body.startswith(b"Exif\x00\x00") else body
            exif = _parsed_exif(original)
        elif kind in _WEBP_KEPT:
            chunks.append(chunk)
        else:
            other = True
        pos += 8 + length + (length & 1)
    kept = _kept_exif(exif)
    if kept:
        chunks.append(b"EXIF" + struct.pack("<I", len(kept)) + kept + b"\x00" * (len(kept) & 1))
    if chunks and chunks[0][:4] == b"VP8X":
        flags = chunks[0][8] & ~(_VP8X_EXIF | _VP8X_XMP) | (_VP8X_EXIF if kept else 0)
        chunks[0] = chunks[0][:8] + bytes([flags]) + chunks[0][9:]
    removed = _removed(exif, other, original is not None and kept != original)
    if not removed:
        return Stripped(data, ())
    body = b"WEBP" + b"".join(chunks)
    return Stripped(b"RIFF" + struct.pack("<I", len(body)) + body, removed)
