"""Decoding: every format and pixel layout a clinic brings, and every bad input."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from analysis import ImageTooLarge, NotAnImage, UnreadableImage, UnsupportedImage, decode
from analysis import decoding as decode_module
from conftest import encode, png_header_only


@pytest.fixture(scope="module")
def small(astronaut):
    return np.ascontiguousarray(astronaut[100:228, 150:310])  # 128 x 160, not square


@pytest.mark.parametrize("fmt,params,tolerance", [
    ("PNG", {}, 0), ("TIFF", {}, 0), ("WEBP", {"lossless": True}, 0), ("JPEG", {"quality": 95}, 12),
    ("HEIF", {"quality": 95}, 16), ("BMP", {}, 0),
])
def test_formats_decode_to_8bit_rgb(small, fmt, params, tolerance):
    out = decode(encode(small, fmt, **params))
    assert out.rgb.dtype == np.uint8 and out.rgb.shape == small.shape
    assert np.abs(out.rgb.astype(int) - small).mean() <= tolerance
    assert out.format == ("HEIF" if fmt == "HEIF" else fmt)


def test_exif_orientation_is_applied(small):
    # Store the picture rotated, with the tag that tells viewers to rotate it back.
    stored = np.ascontiguousarray(np.rot90(small, k=1))  # 90 deg counter-clockwise
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to view"
    out = decode(encode(stored, "JPEG", quality=95, exif=exif.tobytes()))
    assert out.rgb.shape == small.shape
    assert np.abs(out.rgb.astype(int) - small).mean() < 12
    assert "EXIF orientation applied" in out.conversions


def test_capture_time_from_exif(small):
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = "2026:03:14 09:26:53"
    out = decode(encode(small, "JPEG", exif=exif.tobytes()))
    assert out.captured_at.isoformat() == "2026-03-14T09:26:53"


def test_greyscale_becomes_three_equal_channels(small):
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    out = decode(encode(grey, "PNG"))
    assert out.rgb.shape == small.shape
    assert np.array_equal(out.rgb[..., 0], grey) and np.array_equal(out.rgb[..., 2], grey)


def test_cmyk_jpeg(small):
    buf = io.BytesIO()
    Image.fromarray(small).convert("CMYK").save(buf, format="JPEG", quality=95)
    out = decode(buf.getvalue())
    assert out.source_mode == "CMYK" and out.rgb.shape == small.shape
    assert np.abs(out.rgb.astype(int) - small).mean() < 15


def test_transparency_is_flattened_on_white(small):
    rgba = np.dstack([small, np.full(small.shape[:2], 255, np.uint8)])
    rgba[:10, :10, 3] = 0
    out = decode(encode(rgba, "PNG"))
    assert (out.rgb[:10, :10] == 255).all()
    assert np.array_equal(out.rgb[20:, 20:], small[20:, 20:])


def test_16_bit_grey_and_rgb(small):
    grey16 = (cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.uint16) * 257)
    out = decode(cv2.imencode(".png", grey16)[1].tobytes())
    assert out.source_mode.startswith("I") and np.array_equal(out.rgb[..., 1], grey16 // 257)
    rgb16 = small[:, :, ::-1].astype(np.uint16) * 257
    out = decode(cv2.imencode(".png", rgb16)[1].tobytes())
    assert np.abs(out.rgb.astype(int) - small).max() <= 1
    out = decode(cv2.imencode(".tiff", rgb16)[1].tobytes())
    assert np.abs(out.rgb.astype(int) - small).max() <= 1


def test_palette_image(small):
    out = decode(_save(Image.fromarray(small).convert("P"), "PNG"))
    assert out.rgb.shape == small.shape


def _save(img: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def test_empty_file():
    with pytest.raises(UnreadableImage, match="empty"):
        decode(b"")


def test_truncated_jpeg(small):
    data = encode(small, "JPEG", quality=95)
    with pytest.raises(UnreadableImage):
        decode(data[: len(data) // 2])


def test_corrupt_png_header(small):
    data = bytearray(encode(small, "PNG"))
    data[20:40] = b"\x00" * 20
    with pytest.raises(UnreadableImage):
        decode(bytes(data))


def test_text_and_pdf_are_not_images():
    with pytest.raises(NotAnImage):
        decode(b"name,date\nAda,2026-01-01\n")
    with pytest.raises(NotAnImage):
        decode(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n")


def test_gif_is_unsupported(small):
    with pytest.raises(UnsupportedImage, match="GIF"):
        decode(_save(Image.fromarray(small), "GIF"))


@pytest.mark.parametrize("side", [12_000, 40_000])  # 144 MP (our limit) and 1.6 GP (Pillow's own guard)
def test_decompression_bomb_is_refused_before_decoding(side):
    with pytest.raises(ImageTooLarge):
        decode(png_header_only(side, side))


def test_oversized_file_is_refused(monkeypatch, small):
    monkeypatch.setattr(decode_module, "MAX_BYTES", 1000)
    with pytest.raises(ImageTooLarge, match="MiB"):
        decode(encode(small, "PNG"))


def test_errors_carry_codes():
    try:
        decode(b"")
    except UnreadableImage as exc:
        assert exc.to_dict() == {"code": "unreadable", "message": "the file is empty (0 bytes)"}
