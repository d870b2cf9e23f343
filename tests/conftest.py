"""Shared fixtures: real photographs, generated once per test session."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image
from skimage import data

from analysis import locate_face
from analysis.simulate import clinic_portrait


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """scikit-image's public-domain portrait, 512 x 512 RGB."""
    return data.astronaut()


@pytest.fixture(scope="session")
def astronaut_face(astronaut):
    return locate_face(astronaut)


@pytest.fixture(scope="session")
def clinic() -> np.ndarray:
    """The astronaut at clinic resolution with synthetic skin micro-texture (eyes ~250 px apart)."""
    astronaut = data.astronaut()
    return clinic_portrait(astronaut, locate_face(astronaut).face)


@pytest.fixture(scope="session")
def clinic_face(clinic):
    return locate_face(clinic)


def encode(rgb: np.ndarray, fmt: str, **params) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format=fmt, **params)
    return buf.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims a size but holds almost nothing: a decompression bomb's shape."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = lambda kind, body: struct.pack(">I", len(body)) + kind + body + struct.pack(  # noqa: E731
        ">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 16))
            + chunk(b"IEND", b""))


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL server for the whole test run (see tests/servers.py)."""
    from servers import start_postgres

    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3_server():
    """A real S3-compatible server (SeaweedFS) for the whole test run (see tests/servers.py)."""
    from servers import start_seaweedfs

    server = start_seaweedfs()
    yield server
    server.stop()
