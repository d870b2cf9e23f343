"""Shared fixtures: real photographs, generated once per test session."""

from __future__ import annotations

import io
import secrets
import struct
import zlib

import numpy as np
import pytest
from PIL import Image
from skimage import data

from analysis import locate_face
from analysis.simulate import clinic_portrait
from tracker_helpers import new_db


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


@pytest.fixture
def db(tmp_path):
    """A new data folder with its database open (of the test's backend, in a ``backends`` module); a module
    that needs another kind defines its own ``db``."""
    database = new_db(tmp_path / "data")
    yield database
    database.close()


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


# --- the backend matrix -------------------------------------------------------------------------------
#
# Modules marked ``pytestmark = pytest.mark.backends`` run every test twice: on the embedded defaults
# (SQLite and the photo folder) and on a clinic group's servers (PostgreSQL and S3-compatible object
# storage, started by the fixtures above). A test gets the backend through the environment the tracker
# reads (TRACKER_DATABASE_URL, TRACKER_PHOTO_STORE, ...), each test with a new database and bucket of
# its own, so ``init_data_folder``, the app and the command line (in-process or a subprocess) all honour
# it. A test that only makes sense on one backend carries ``pytest.mark.only_default_backend``.

DEFAULT_BACKEND, GROUP_BACKEND = "sqlite+folder", "postgres+s3"
BACKEND_VARIABLES = ("TRACKER_DATABASE_URL", "TRACKER_PHOTO_STORE", "TRACKER_S3_ENDPOINT_URL", "TRACKER_S3_SSE",
                     "TRACKER_S3_SSE_KMS_KEY_ID", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION",
                     "AWS_PROFILE")


class Backend:
    """One configuration of records and photo store; :meth:`environment` gives a fresh, empty one."""

    def __init__(self, name: str, postgres=None, s3=None):
        self.name, self.postgres, self.s3 = name, postgres, s3
        # One bucket, a new prefix per test: SeaweedFS gives each bucket volumes of its own, and a bucket
        # per test would exhaust the test server's volumes.
        self.bucket = s3.new_bucket() if s3 else None

    def environment(self) -> dict[str, str | None]:
        """Every variable the tracker reads for its backend: None to unset (the defaults)."""
        settings = dict.fromkeys(BACKEND_VARIABLES)
        if self.name == GROUP_BACKEND:
            settings |= {"TRACKER_DATABASE_URL": self.postgres.new_database(),
                         "TRACKER_PHOTO_STORE": f"s3://{self.bucket}/{secrets.token_hex(6)}/photos",
                         "TRACKER_S3_ENDPOINT_URL": self.s3.endpoint, "TRACKER_S3_SSE": "AES256",
                         "AWS_ACCESS_KEY_ID": self.s3.access_key, "AWS_SECRET_ACCESS_KEY": self.s3.secret_key,
                         "AWS_DEFAULT_REGION": self.s3.region}
        return settings


def apply_environment(monkeypatch, settings: dict[str, str | None]) -> None:
    for name, value in settings.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)


def pytest_configure(config):
    config.addinivalue_line("markers", "backends: run the module's tests on SQLite+folder and PostgreSQL+S3")
    config.addinivalue_line("markers", "only_default_backend: in a backends module, run on SQLite+folder only")
    config._backend_counts = {}


def pytest_generate_tests(metafunc):
    marked = metafunc.definition.get_closest_marker("backends")
    if marked and not metafunc.definition.get_closest_marker("only_default_backend"):
        if "backend" not in metafunc.fixturenames:
            metafunc.fixturenames.append("backend")
        metafunc.parametrize("backend", [DEFAULT_BACKEND, GROUP_BACKEND], indirect=True, scope="module")


@pytest.fixture(scope="module")
def backend(request) -> Backend:
    """The backend of a ``backends`` module's test (SQLite+folder for a test marked only_default_backend)."""
    name = getattr(request, "param", DEFAULT_BACKEND)
    if name == GROUP_BACKEND:  # a missing server is an error here, never a skip
        return Backend(name, request.getfixturevalue("postgres_server"), request.getfixturevalue("s3_server"))
    return Backend(name)


@pytest.fixture(autouse=True)
def _backend_environment(request, monkeypatch):
    """Each test of a ``backends`` module starts with a new, empty database and photo store of its backend."""
    # Carried with the test's reports to the process that counts them (pytest-xdist runs tests in workers).
    request.node.user_properties.append(("backend", _backend_of(request.node)))
    if request.node.get_closest_marker("backends"):
        apply_environment(monkeypatch, request.getfixturevalue("backend").environment())
    yield


def _backend_of(item) -> str:
    """The backend a test runs on: its ``backend`` parameter, else the servers it uses, else the defaults."""
    callspec = getattr(item, "callspec", None)
    if callspec and "backend" in callspec.params:
        return callspec.params["backend"]
    uses = getattr(item, "fixturenames", ())
    return GROUP_BACKEND if "postgres_server" in uses or "s3_server" in uses else DEFAULT_BACKEND


def pytest_runtest_logreport(report):
    config = _CONFIG[0] if _CONFIG else None
    if config is None:
        return
    name = dict(report.user_properties).get("backend", DEFAULT_BACKEND)
    counts = config._backend_counts.setdefault(name, {"passed": 0, "failed": 0, "skipped": 0})
    if report.failed:
        counts["failed"] += 1
    elif report.skipped:
        counts["skipped"] += 1
    elif report.when == "call":
        counts["passed"] += 1


_CONFIG: list = []


def pytest_sessionstart(session):
    _CONFIG[:] = [session.config]


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Per backend, the passed, failed and skipped counts (a test failing in setup and teardown counts twice)."""
    counts = getattr(config, "_backend_counts", {})
    if not counts:
        return
    terminalreporter.section("tests per backend")
    terminalreporter.write_line(f"{'backend':<16}{'passed':>8}{'failed':>8}{'skipped':>8}")
    for name in (DEFAULT_BACKEND, GROUP_BACKEND):
        c = counts.get(name, {"passed": 0, "failed": 0, "skipped": 0})
        terminalreporter.write_line(f"{name:<16}{c['passed']:>8}{c['failed']:>8}{c['skipped']:>8}")
