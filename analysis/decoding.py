"""Decode a clinic photo into an 8-bit sRGB array.

Clinics bring photos from phones, cameras and old archives: JPEG, PNG, TIFF,
WebP and HEIC (iPhones), sometimes greyscale, CMYK, with an alpha channel, in
16 bits per channel, or tagged with a wide-gamut colour profile (Display P3).
Everything downstream works on one representation: an ``H x W x 3`` ``uint8``
array in sRGB, upright as the camera's EXIF orientation tag says.

The decoder works on bytes, not paths, so that the records layer can hash,
store and decode exactly the same bytes. It refuses anything it cannot turn
into that representation with a typed :mod:`analysis.errors` error.

References
----------
.. [1] JEITA CP-3451C, "Exchangeable image file format for digital still
       cameras: Exif Version 2.32", 2019. Orientation tag 0x0112,
       DateTimeOriginal tag 0x9003.
.. [2] IEC 61966-2-1:1999, "Default RGB colour space - sRGB".
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from .errors import ImageTooLarge, NotAnImage, UnreadableImage, UnsupportedImage

try:  # HEIC/HEIF from iPhones; registering adds the format to Pillow.
    import pillow_heif

    pillow_heif.register_heif_opener()
except ImportError:  # pragma: no cover - pillow-heif is a declared dependency
    pillow_heif = None

#: Largest image accepted, in pixels. The largest common camera sensors are
#: around 100 MP; anything bigger is a decompression bomb or not a photo.
MAX_PIXELS = 120_000_000
#: Largest file accepted, in bytes.
MAX_BYTES = 256 * 2**20
#: Most memory one decode may take, in bytes, estimated before decoding from
#: the pixel count and :data:`WORKING_BYTES_PER_PIXEL`: a 120 MP 8-bit RGB
#: photo fits (1.8 GB).
MAX_DECODE_BYTES = 2 * 2**30
#: Peak memory of :func:`decode` per pixel, by Pillow mode: ``ru_maxrss``
#: growth over decoding 12 MP random images in a fresh process, rounded up
#: (RGB JPEG and PNG 14.1, CMYK 14.1, L and P 11.1, I;16 10.1, F 17.3,
#: RGBA and LA 23.1). Other modes take the largest.
WORKING_BYTES_PER_PIXEL = {"1": 12, "L": 12, "P": 12, "I;16": 11, "I;16L": 11, "I;16B": 11, "I;16N": 11,
                           "I": 14, "RGB": 15, "YCbCr": 15, "CMYK": 15, "LAB": 15, "HSV": 15, "F": 18}
DEFAULT_WORKING_BYTES = 24
#: A photograph's raster is at most a few hundred times its compressed file
#: (camera JPEGs are 10-20 times, PNGs of photos 2-3 times); a large raster
#: expanding further is a decompression bomb (a 233 KB PNG of a 119 MP
#: 16-bit blank frame is 1000 times).
MAX_EXPANSION = 250
BOMB_MIN_RASTER = 32 * 2**20

SUPPORTED_FORMATS = {"JPEG", "MPO", "PNG", "TIFF", "WEBP", "HEIF", "BMP"}

# Leading bytes of the formats we read: a file that starts like an image but
# does not decode is a damaged image, not "not an image".
_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"II*\x00", b"MM\x00*", b"BM")

_EXIF_IFD = 0x8769
_DATETIME_ORIGINAL = 0x9003
_DATETIME = 0x0132


@dataclass(frozen=True)
class DecodedImage:
    """A photo decoded to 8-bit sRGB, upright.

    Attributes
    ----------
    rgb : ndarray of uint8, shape (H, W, 3)
        Pixel values in sRGB, after EXIF orientation.
    format : str
        The container format Pillow identified (``"JPEG"``, ``"HEIF"``, ...).
    source_mode : str
        Pillow's pixel mode of the file (``"RGB"``, ``"CMYK"``, ``"I;16"``, ...).
    captured_at : datetime or None
        EXIF DateTimeOriginal (or DateTime), camera local time, if present.
    conversions : tuple of str
        What was done to reach 8-bit sRGB, in plain words.
    """

    rgb: np.ndarray
    format: str
    source_mode: str
    captured_at: datetime | None
    conversions: tuple[str, ...] = ()

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])


def _looks_like_image(data: bytes) -> bool:
    if data.startswith(_SIGNATURES):
        return True
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return True
    return data[4:8] == b"ftyp"  # ISO base media: HEIC, HEIF, AVIF


def _open(data: bytes) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge(f"the image has too many pixels to be a photo ({exc})") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        if _looks_like_image(data):
            raise UnreadableImage("the file looks like an image but is damaged and cannot be decoded") from exc
        raise NotAnImage("the file is not an image (expected JPEG, PNG, TIFF, WebP or HEIC)") from exc
    if img.format not in SUPPORTED_FORMATS:
        raise UnsupportedImage(
            f"{img.format} images are not supported; save the photo as JPEG, PNG, TIFF, WebP or HEIC"
        )
    width, height = img.size
    if width * height > MAX_PIXELS:
        raise ImageTooLarge(
            f"the image is {width} x {height} pixels ({width * height / 1e6:.0f} MP); "
            f"the limit is {MAX_PIXELS / 1e6:.0f} MP"
        )
    if width == 0 or height == 0:
        raise UnreadableImage("the image has no pixels")
    _check_memory(img, len(data))
    return img


def _check_memory(img: Image.Image, file_bytes: int) -> None:
    """Refuse, before decoding, an image whose decode would take too much memory or that is a bomb."""
    pixels = img.size[0] * img.size[1]
    needed = pixels * WORKING_BYTES_PER_PIXEL.get(img.mode, DEFAULT_WORKING_BYTES)
    if needed > MAX_DECODE_BYTES:
        raise ImageTooLarge(f"decoding this {img.size[0]} x {img.size[1]} {img.mode} image would take about "
                            f"{needed / 2**30:.1f} GiB; the limit is {MAX_DECODE_BYTES / 2**30:.1f} GiB")
    sample = 2 if img.mode.startswith("I;16") else 4 if img.mode in ("I", "F") else 1
    raster = pixels * len(img.getbands()) * sample
    if raster > BOMB_MIN_RASTER and raster > MAX_EXPANSION * file_bytes:
        raise ImageTooLarge(f"the file is {file_bytes / 1024:.0f} KB but would decode to "
                            f"{raster / 2**20:.0f} MB: a decompression bomb, not a photograph")


def _captured_at(img: Image.Image) -> datetime | None:
    try:
        exif = img.getexif()
        raw = exif.get_ifd(_EXIF_IFD).get(_DATETIME_ORIGINAL) or exif.get(_DATETIME)
    except Exception:  # a damaged EXIF block must not lose the photo
        return None
    if not isinstance(raw, str):
        return None
    try:
        return datetime.strptime(raw.strip("\x00 "), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None


def _to_srgb(img: Image.Image, conversions: list[str]) -> Image.Image:
    """Convert an embedded colour profile to sRGB, where there is one."""
    icc = img.info.get("icc_profile")
    if not icc or img.mode not in ("RGB", "RGBA", "CMYK", "L"):
        return img
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        description = ImageCms.getProfileDescription(source).strip()
        if "srgb" in description.lower():
            return img
        out_mode = "RGBA" if img.mode == "RGBA" else "RGB"
        converted = ImageCms.profileToProfile(img, source, ImageCms.createProfile("sRGB"), outputMode=out_mode)
    except (ImageCms.PyCMSError, OSError, ValueError):
        conversions.append("embedded colour profile unreadable: values taken as sRGB")
        return img
    conversions.append(f"colour profile '{description}' converted to sRGB")
    return converted


def _high_bit_depth_to_uint8(img: Image.Image, conversions: list[str]) -> np.ndarray:
    arr = np.asarray(img)
    if img.mode == "F":
        scale = 1.0 if float(np.nanmax(arr)) <= 1.0 else 1.0 / 255.0
        conversions.append("32-bit float reduced to 8 bits")
        grey = np.clip(np.nan_to_num(arr) * scale * 255.0 + 0.5, 0, 255)
        grey = grey.astype(np.uint8)
    else:  # "I;16*" or "I": 16-bit integer samples, rounded to x / 257 in integers (4 bytes a pixel, not 8)
        conversions.append("16-bit reduced to 8 bits")
        wide = np.clip(arr, 0, 65535).astype(np.uint32)
        wide *= 255
        wide += 32767
        wide //= 65535
        grey = wide.astype(np.uint8)
        del wide
    return np.repeat(grey[:, :, None], 3, axis=2)


def _to_rgb_array(img: Image.Image, conversions: list[str]) -> np.ndarray:
    mode = img.mode
    if mode.startswith("I") or mode == "F":
        return _high_bit_depth_to_uint8(img, conversions)
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in img.info):
        conversions.append("transparency flattened onto white")
        rgba = img.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(canvas, rgba).convert("RGB"))
    if mode != "RGB":
        conversions.append(f"{mode} converted to RGB")
    return np.asarray(img.convert("RGB"))


def decode(data: bytes) -> DecodedImage:
    """Decode image file bytes into an upright 8-bit sRGB array.

    Parameters
    ----------
    data : bytes
        The whole file, as stored.

    Returns
    -------
    DecodedImage

    Raises
    ------
    UnreadableImage
        Empty, truncated or corrupt image data.
    NotAnImage
        Data that is not an image.
    ImageTooLarge
        More than :data:`MAX_PIXELS` pixels or :data:`MAX_BYTES` bytes.
    UnsupportedImage
        An image format outside :data:`SUPPORTED_FORMATS`.
    """
    if len(data) == 0:
        raise UnreadableImage("the file is empty (0 bytes)")
    if len(data) > MAX_BYTES:
        raise ImageTooLarge(f"the file is {len(data) / 2**20:.0f} MiB; the limit is {MAX_BYTES / 2**20:.0f} MiB")
    img = _open(data)
    source_format, source_mode = img.format, img.mode
    captured_at = _captured_at(img)
    conversions: list[str] = []
    try:
        img.load()
        if img.getexif().get(0x0112, 1) not in (0, 1):
            conversions.append("EXIF orientation applied")
        img = ImageOps.exif_transpose(img)
        img = _to_srgb(img, conversions)
        rgb = _to_rgb_array(img, conversions)
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise UnreadableImage(f"the {source_format} file is truncated or corrupt ({exc})") from exc
    except MemoryError as exc:
        raise ImageTooLarge("the image does not fit in memory") from exc
    return DecodedImage(
        rgb=np.ascontiguousarray(rgb, dtype=np.uint8),
        format=source_format,
        source_mode=source_mode,
        captured_at=captured_at,
        conversions=tuple(conversions),
    )
