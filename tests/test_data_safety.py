"""Security and data-safety regressions (issue 8, data side): each test fails on the code before the fix.

Restore of untrusted archives, garbage collection racing imports, killed
imports and backups, erasure that a crash interrupts, user text used as a
path, reused ids, one bad photo stopping the analysis, degenerate images and
regions, permissions, concurrent runs. Races run real processes
(``tests/paused.py`` pauses one at a chosen point); each wait is bounded.

The module is in the backend matrix (see conftest): the races, crashes and
erasures run on SQLite and the photo folder and on a clinic group's
PostgreSQL and S3 store, where the store's lock is an advisory lock.
Subprocesses inherit the test's backend through ``os.environ``. Tests of
what no backend touches (restore's parsing of archives, image decoding,
names) run on the defaults only.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pathlib
import signal
import sqlite3
import stat
import struct
import subprocess
import sys
import time
import zipfile
import zlib
from datetime import date

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import create_engine, event, inspect, select, text, update
from sqlalchemy.exc import IntegrityError

from analysis import UnsupportedImage, analyse, decode
from analysis.errors import ImageTooLarge, NoFace
from analysis.polygon import validate_polygon
from analysis.simulate import Recapture
from conftest import encode
from tracker import access, backup, clientdata, gallery, limits, photos
from tracker.cli import main as tracker_main
from tracker.db import _sqlite_pragmas, alembic_config, head_revision, open_data_folder
from tracker.errors import RecordError
from tracker.models import AuditEvent, Client, PendingDeletion, Photo, PhotoAnalysis
from tracker.photostore import PhotoStore, StoreBusy
from tracker_helpers import ACTOR, client_with_course, new_db, sample_bytes

pytestmark = pytest.mark.backends

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAUSED = ROOT / "tests" / "paused.py"
WAIT_S = 90  # the longest any process in these tests may take (the machine is shared)


def env() -> dict:
    """A subprocess's environment: this test's, with its backend's variables (set by conftest's fixture)."""
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def interrupted_writes(store) -> set[str]:
    """The folder store's half-written ``.incoming-*`` files (an S3 PUT is atomic: an S3 store has none)."""
    return {p.name for p in store.tmp.glob(".incoming-*")} if hasattr(store, "tmp") else set()


def assert_nowhere_in_the_records(db, personal: str) -> None:
    """``personal`` is in no row of the database: on SQLite not even in the file's bytes (freed pages included),
    on PostgreSQL in no row of any table, each row read as text."""
    if db.folder.database_file is not None:
        assert personal.encode() not in db.folder.database_file.read_bytes()
        return
    with db.engine.connect() as conn:
        quote = conn.dialect.identifier_preparer.quote
        tables = inspect(conn).get_table_names()
        found = {t: conn.execute(text(f"SELECT count(*) FROM {quote(t)} AS r WHERE r::text LIKE :p"),
                                 {"p": f"%{personal}%"}).scalar() for t in tables}
    assert "clients" in tables and not any(found.values()), found


def cli(capsys, data: pathlib.Path, *argv) -> tuple[int, str, str]:
    """``python -m tracker`` in this process: (exit status, stdout, stderr)."""
    capsys.readouterr()
    code = tracker_main(["--data", str(data), *map(str, argv)])
    out = capsys.readouterr()
    return code, out.out, out.err


def start_paused(markers: pathlib.Path, data: pathlib.Path, *argv) -> subprocess.Popen:
    markers.mkdir(exist_ok=True)
    return subprocess.Popen([sys.executable, str(PAUSED), str(markers), str(data), *map(str, argv)], env=env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(path: pathlib.Path, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + WAIT_S
    while not path.exists():
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the process ended before {path.name}: {process.communicate()}")
        assert time.monotonic() < deadline, f"{path.name} never came"
        time.sleep(0.02)


def scene() -> np.ndarray:
    """Cheek and jaw of the sample portrait, 600 x 600: a body-area photo (no face is found in it)."""
    rgb = decode(sample_bytes(1)).rgb
    return np.ascontiguousarray(rgb[650:1250, 500:1100])


REGION = [[200.0, 200.0], [400.0, 210.0], [390.0, 400.0], [210.0, 390.0]]


def body_photos(folder: pathlib.Path, count: int) -> list[pathlib.Path]:
    """``count`` re-captures of :func:`scene` as JPEG files (different bytes, alignable to each other)."""
    folder.mkdir(parents=True, exist_ok=True)
    base, paths = scene(), []
    for i in range(count):
        rgb = base if i == 0 else Recapture(rotation_deg=0.5 * i).apply(base)
        paths.append(folder / f"area-{i}.jpg")
        paths[-1].write_bytes(encode(rgb, "JPEG", quality=90))
    return paths


# --- Critical 1: restore ---------------------------------------------------------------

def make_archive(path: pathlib.Path, members: dict[str, bytes], manifest_files: dict | None = None) -> pathlib.Path:
    """A zip with the given members and a manifest listing their true SHA-256 (unless given)."""
    files = manifest_files if manifest_files is not None else {
        name: hashlib.sha256(data).hexdigest() for name, data in members.items()}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        zf.writestr(backup.MANIFEST, json.dumps({"files": files}))
    return path


@pytest.fixture(scope="module")
def archived(tmp_path_factory) -> tuple[pathlib.Path, dict[str, bytes]]:
    """A real backup of a data folder with one client and photo, and its members by name."""
    folder = tmp_path_factory.mktemp("archived")
    db = new_db(folder / "data")
    client_with_course(db, sessions=1)
    archive = folder / "good.zip"
    backup.backup(db.folder, archive, actor=ACTOR)
    db.close()
    with zipfile.ZipFile(archive) as zf:
        return archive, {name: zf.read(name) for name in zf.namelist() if name != backup.MANIFEST}


def assert_nothing_written(tmp_path: pathlib.Path, target: pathlib.Path, before: set) -> None:
    assert not target.exists()
    assert {p for p in tmp_path.rglob("*")} == before, "restore left files behind"


@pytest.mark.only_default_backend  # restore's checks of an archive come before any backend
@pytest.mark.parametrize("evil", ["../../evil.txt", "/tmp/evil-absolute.txt", "photos/../../evil.txt",
                                  "photos/ab/../../../evil.txt", "evil.txt", "cache/ab/x", "photos/ab/short"])
def test_restore_refuses_a_member_outside_the_data_layout(archived, tmp_path, evil):
    members = {**archived[1], evil: b"pwned"}
    archive = make_archive(tmp_path / "evil.zip", members)
    target = tmp_path / "deep" / "restored"
    before = {p for p in tmp_path.rglob("*")}
    with pytest.raises(RecordError, match="not part of a data folder"):
        backup.restore(archive, target, actor=ACTOR)
    assert_nothing_written(tmp_path, target, before)
    assert not pathlib.Path("/tmp/evil-absolute.txt").exists() and not (tmp_path.parent / "evil.txt").exists()


@pytest.mark.only_default_backend  # restore's checks of an archive come before any backend
def test_restore_refuses_a_photo_that_does_not_hash_to_its_name(archived, tmp_path):
    members = dict(archived[1])
    name = next(n for n in members if n.startswith("photos/"))
    members[name] = b"someone else's face"  # the manifest lists these bytes' true hash
    archive = make_archive(tmp_path / "swapped.zip", members)
    before = {p for p in tmp_path.rglob("*")}
    with pytest.raises(RecordError, match="does not hash to its own name"):
        backup.restore(archive, tmp_path / "restored", actor=ACTOR)
    assert_nothing_written(tmp_path, tmp_path / "restored", before)


def _damaged_database(data: bytes) -> bytes:
    page = 4096
    broken = bytearray(data)
    broken[2 * page:3 * page] = bytes(range(256)) * (page // 256)  # overwrite a table's page with garbage
    return bytes(broken)


def _database_at_revision(data: bytes, tmp_path: pathlib.Path, revision: str) -> bytes:
    path = tmp_path / "rev.db"
    path.write_bytes(data)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = ?", (revision,))
    conn.close()
    return path.read_bytes()


@pytest.mark.only_default_backend  # a SQLite file inside an archive, checked before any backend
@pytest.mark.parametrize("kind,message", [("damaged", "damaged|not a tracker database"),
                                          ("not_sqlite", "not a tracker database|cannot be opened"),
                                          ("unknown_revision", "schema revision")])
def test_restore_refuses_a_bad_database(archived, tmp_path, kind, message):
    members = dict(archived[1])
    original = members[backup.DATABASE]
    members[backup.DATABASE] = {"damaged": lambda: _damaged_database(original),
                                "not_sqlite": lambda: b"\x00" * 8192,
                                "unknown_revision": lambda: _database_at_revision(original, tmp_path, "9999")}[kind]()
    archive = make_archive(tmp_path / f"{kind}.zip", members)
    before = {p for p in tmp_path.rglob("*")}
    with pytest.raises(RecordError, match=message):
        backup.restore(archive, tmp_path / "restored", actor=ACTOR)
    assert_nothing_written(tmp_path, tmp_path / "restored", before)


def _crafted_database(tmp_path: pathlib.Path, *statements: str) -> pathlib.Path:
    """A real single-clinic backup (a client and an admin) whose ``tracker.db`` also runs ``statements``."""
    source = new_db(tmp_path / "source")
    client_with_course(source, "Ada Example", sessions=1)
    with source.session() as s:
        access.create_first_admin(s, "admin", "a long enough secret")
        s.commit()
    backup.backup(source.folder, tmp_path / "real.zip", actor=ACTOR)
    source.close()
    with zipfile.ZipFile(tmp_path / "real.zip") as zf:
        members = {name: zf.read(name) for name in zf.namelist() if name != backup.MANIFEST}
    path = tmp_path / "crafted.db"
    path.write_bytes(members[backup.DATABASE])
    conn = sqlite3.connect(path)
    conn.executescript(";\n".join(statements))
    conn.close()
    members[backup.DATABASE] = path.read_bytes()
    return make_archive(tmp_path / "crafted.zip", members)


def _schema(database: pathlib.Path) -> list[tuple]:
    """Every table, index, view and trigger, with each table's columns (migrations that rebuild a table may
    write its constraints in another order, so the SQL text is not compared)."""
    with sqlite3.connect(database) as conn:
        found = [(kind, name, table, [c[1:] for c in conn.execute(f"PRAGMA table_info('{name}')")])
                 for kind, name, table in conn.execute("SELECT type, name, tbl_name FROM sqlite_master "
                                                       "ORDER BY type, name")]
    conn.close()
    return found


KEEP_ERASED = ("CREATE TABLE kept (name TEXT, date_of_birth TEXT)",
               "CREATE TRIGGER keep_erased BEFORE DELETE ON clients BEGIN "
               "INSERT INTO kept VALUES (OLD.name, OLD.date_of_birth); END",
               "CREATE TRIGGER keep_password AFTER UPDATE OF password_hash ON users BEGIN "
               "UPDATE users SET password_hash = OLD.password_hash WHERE id = NEW.id; END",
               "CREATE VIEW everyone AS SELECT name, date_of_birth FROM clients",
               "CREATE INDEX clients_by_contact ON clients (contact)")


@pytest.mark.only_default_backend  # a SQLite file inside an archive (onto a server it was always loaded as rows)
def test_restore_installs_no_trigger_view_or_index_from_the_archive(tmp_path):
    """The archive's database carries a trigger that keeps erased clients and one that undoes password resets
    (issue 16.2): only its rows are restored, into the schema the migrations build, so erasure and a password
    reset work, and the restored database has exactly a new one's tables, indexes and nothing else."""
    backup.restore(_crafted_database(tmp_path, *KEEP_ERASED), tmp_path / "restored", actor=ACTOR)
    restored = open_data_folder(tmp_path / "restored")
    with restored.session() as s:
        client_id = s.scalar(select(Client.id).where(Client.name == "Ada Example"))
        access.reset_password(s, ACTOR, "admin", "another long secret")
        s.commit()
    with restored.session() as s:
        assert access.authenticate(s, "admin", "another long secret") is not None
    clientdata.erase_client(restored, restored.store, ACTOR, client_id)
    assert_nowhere_in_the_records(restored, "Ada Example")
    restored.close()
    fresh = new_db(tmp_path / "fresh")
    fresh.close()
    assert _schema(tmp_path / "restored" / "tracker.db") == _schema(tmp_path / "fresh" / "tracker.db")


@pytest.mark.only_default_backend  # a SQLite file inside an archive, checked before any backend
@pytest.mark.parametrize("statements", [
    ("CREATE TABLE kept (name TEXT)", "INSERT INTO kept SELECT name FROM clients"),
    ("ALTER TABLE clients ADD COLUMN shadow TEXT", "UPDATE clients SET shadow = name")],
    ids=["table", "column"])
def test_restore_refuses_rows_in_a_table_or_column_of_the_archive_s_own(tmp_path, statements):
    archive = _crafted_database(tmp_path, *statements)
    before = {p for p in tmp_path.rglob("*")}
    with pytest.raises(RecordError, match="table or column the schema lacks"):
        backup.restore(archive, tmp_path / "restored", actor=ACTOR)
    assert_nothing_written(tmp_path, tmp_path / "restored", before)


@pytest.mark.only_default_backend  # restore's checks of an archive come before any backend
def test_restore_refuses_members_over_the_size_limit(archived, tmp_path, monkeypatch):
    archive = archived[0]
    monkeypatch.setattr(backup, "MAX_PHOTO_BYTES", 1000)
    with pytest.raises(RecordError, match="the limit is 1000"):
        backup.restore(archive, tmp_path / "restored", actor=ACTOR)
    assert not (tmp_path / "restored").exists()


@pytest.mark.only_default_backend  # restore's checks of an archive come before any backend
def test_restore_refuses_an_archive_larger_than_the_free_disk(archived, tmp_path, monkeypatch):
    archive = archived[0]
    monkeypatch.setattr(backup.shutil, "disk_usage", lambda _: type("Usage", (), {"free": 10})())
    with pytest.raises(RecordError, match="bytes are free"):
        backup.restore(archive, tmp_path / "restored", actor=ACTOR)
    assert not (tmp_path / "restored").exists()


BOMB_SCRIPT = """
import pathlib, resource, sys
from tracker import access, backup
from tracker.errors import RecordError
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    backup.restore(pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), actor=access.owner("dr.test"))
except RecordError as exc:
    print("refused:", exc.message)
print("peak_growth_mb", (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
"""


@pytest.mark.only_default_backend  # restore's checks of an archive come before any backend
def test_restore_streams_a_zip_bomb_in_bounded_memory(tmp_path):
    """128 MB of zeros in a 0.2 MB archive, as its 'database': streamed, refused, in a few MB of memory."""
    archive, size = tmp_path / "bomb.zip", 128 * 2**20
    digest = hashlib.sha256()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        with zf.open(backup.DATABASE, "w", force_zip64=True) as member:
            block = bytes(2**20)
            for _ in range(size // len(block)):
                member.write(block)
                digest.update(block)
        zf.writestr(backup.MANIFEST, json.dumps({"files": {backup.DATABASE: digest.hexdigest()}}))
    assert archive.stat().st_size < 4 * 2**20
    done = subprocess.run([sys.executable, "-c", BOMB_SCRIPT, str(archive), str(tmp_path / "restored")],
                          env=env(), capture_output=True, text=True, timeout=WAIT_S)
    assert "refused: the archive's database" in done.stdout, done.stdout + done.stderr
    growth = float(done.stdout.split("peak_growth_mb")[1])
    assert growth < 48, f"restore took {growth:.0f} MB for a 128 MB member"
    assert not (tmp_path / "restored").exists() and [p.name for p in tmp_path.iterdir()] == ["bomb.zip"]


def _bomb_of(archive: pathlib.Path, name: str, parts) -> pathlib.Path:
    """A small archive whose member ``name`` unpacks to the concatenated ``parts`` (written as they come),
    listed in the manifest with its true hash; a manifest bomb comes with a small records member."""
    digest = hashlib.sha256()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open(name, "w", force_zip64=True) as member:
            for part in parts:
                member.write(part)
                digest.update(part)
        if name == backup.MANIFEST:
            zf.writestr(backup.RECORDS, json.dumps({"format": backup.RECORDS_FORMAT}))
        else:
            zf.writestr(backup.MANIFEST, json.dumps({"files": {name: digest.hexdigest()}}))
    return archive


def _restore_measured(archive: pathlib.Path, target: pathlib.Path) -> tuple[str, float]:
    """Restore in a process of its own: (what it printed, its peak memory growth in MB)."""
    done = subprocess.run([sys.executable, "-c", BOMB_SCRIPT, str(archive), str(target)],
                          env=env(), capture_output=True, text=True, timeout=WAIT_S)
    return done.stdout + done.stderr, float(done.stdout.split("peak_growth_mb")[1])


@pytest.mark.only_default_backend  # restore's checks of an archive come before any backend
def test_restore_parses_no_manifest_bomb(tmp_path):
    """16 MiB of '{},' as the manifest, in a small archive: refused unparsed (parsed, it takes ~400 MB)."""
    block = b"{}," * 2**16
    archive = _bomb_of(tmp_path / "bomb.zip", backup.MANIFEST,
                       [b'{"files": {}, "photos": [', *[block] * (16 * 2**20 // len(block)), b"{}]}"])
    assert archive.stat().st_size < 2**20
    out, growth = _restore_measured(archive, tmp_path / "restored")
    assert "refused: the archive's manifest is not shaped like a tracker manifest" in out, out
    assert growth < 48, f"restore took {growth:.0f} MB for a 16 MiB manifest"
    assert not (tmp_path / "restored").exists() and [p.name for p in tmp_path.iterdir()] == ["bomb.zip"]


@pytest.mark.only_default_backend  # restore's checks of an archive come before any backend
def test_restore_refuses_a_manifest_over_its_limit(archived, tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MANIFEST_BYTES", 100)  # the limit is the registry's (tracker.limits)
    with pytest.raises(RecordError, match="manifest.json is .* bytes; the limit is 100"):
        backup.restore(archived[0], tmp_path / "restored", actor=ACTOR)
    assert not (tmp_path / "restored").exists()


@pytest.mark.only_default_backend  # restore's checks of an archive come before any backend
def test_restore_reads_no_records_line_past_its_limit(tmp_path):
    """One row of 192 MiB in the records, in a small archive: refused after 4 MiB, never held whole (held, it
    takes ~500 MB)."""
    header = json.dumps({"format": backup.RECORDS_FORMAT, "revision": head_revision()}).encode()
    archive = _bomb_of(tmp_path / "bomb.zip", backup.RECORDS,
                       [header, b'\n{"table": "clinics", "columns": ["name"]}\n["', *[b"x" * 2**20] * 192, b'"]\n'])
    assert archive.stat().st_size < 2**20
    out, growth = _restore_measured(archive, tmp_path / "restored")
    assert f"refused: the archive's records have a line over {limits.RECORD_LINE_BYTES:,} bytes" in out, out
    assert growth < 48, f"restore took {growth:.0f} MB for a 192 MiB line"
    assert not (tmp_path / "restored").exists() and [p.name for p in tmp_path.iterdir()] == ["bomb.zip"]


@pytest.mark.only_default_backend  # the limits, before any backend
def test_a_backup_restore_would_refuse_is_not_written(db, tmp_path, monkeypatch):
    client_with_course(db, sessions=1)
    monkeypatch.setattr(limits, "MANIFEST_BYTES", 100)
    with pytest.raises(RecordError, match="manifest would be .* over the 100 a restore accepts"):
        backup.backup(db.folder, tmp_path / "backups" / "clinic.zip", actor=ACTOR)
    assert list((tmp_path / "backups").iterdir()) == []
    monkeypatch.setattr(limits, "RECORD_LINE_BYTES", 100)
    with db.engine.connect() as conn, pytest.raises(RecordError, match="a row of .* at most 100"):
        backup.dump_records(conn, io.BytesIO())


@pytest.mark.only_default_backend  # a SQLite file inside an archive, checked before any backend
def test_restore_refuses_a_database_value_longer_than_a_row(tmp_path):
    """A client's notes of 6 MB in the archive's tracker.db (compressed to almost nothing): refused as read."""
    archive = _crafted_database(tmp_path, "UPDATE clients SET notes = hex(zeroblob(3 * 1024 * 1024))")
    before = {p for p in tmp_path.rglob("*")}
    with pytest.raises(RecordError, match="not a tracker database .*too big"):
        backup.restore(archive, tmp_path / "restored", actor=ACTOR)
    assert_nothing_written(tmp_path, tmp_path / "restored", before)


@pytest.mark.only_default_backend  # restore's checks of an archive come before any backend
def test_restore_prints_no_traceback(archived, tmp_path, capsys):
    evil = make_archive(tmp_path / "evil.zip", {**archived[1], "../../evil.txt": b"x"})
    not_zip = tmp_path / "notes.zip"
    not_zip.write_bytes(b"just some text")
    for archive in (evil, not_zip, tmp_path / "absent.zip"):
        code, out, err = cli(capsys, tmp_path / f"restored-{archive.stem}", "restore", archive)
        assert code == 2 and err.startswith("error: ") and err.count("\n") == 1, (code, out, err)
        assert "Traceback" not in err + out


# --- Major 3: garbage collection during an import; killed imports ------------------------

def test_garbage_collection_waits_for_a_running_import(db, tmp_path):
    """Two real processes: an import paused before its commit, and 'check --collect-garbage'."""
    ids = client_with_course(db, sessions=1, with_photos=False)
    files = body_photos(tmp_path / "incoming", 3)
    markers = tmp_path / "markers"
    importer = start_paused(markers, db.folder.root, "import", ids["sessions"][0], "neck", "commit", *files)
    wait_for(markers / "commit", importer)  # originals stored, rows not yet committed
    collector = subprocess.Popen([sys.executable, "-m", "tracker", "--data", str(db.folder.root), "check",
                                  "--collect-garbage"], env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True)
    deadline = time.monotonic() + WAIT_S
    waiting = ""
    while collector.poll() is None and "waiting" not in waiting and time.monotonic() < deadline:
        waiting += collector.stderr.readline() if collector.stderr else ""
    (markers / "go").touch()  # the collector waits for the import (or, before the fix, has already deleted)
    assert importer.wait(WAIT_S) == 0, importer.communicate()
    out, err = collector.communicate(timeout=WAIT_S)
    assert collector.returncode == 0, out + err
    with db.session() as s:
        stored = set(s.scalars(select(Photo.sha256)))
    assert len(stored) == 3 and db.store.verify(stored) == []
    assert "removed 0 unreferenced files" in out


def test_the_store_lock_is_the_store_s_however_its_location_is_written(db):
    """Instances naming one store differently (``s3://bucket/prefix/`` or without the slash) share its lock, so
    a collector still waits for an import (on PostgreSQL the advisory lock's key is the store's location)."""
    written = (db.folder.photo_store or str(db.folder.photos)) + "/"
    other = open_data_folder(db.folder.root, db.folder.database_url, written)
    try:
        with db.store.locked(exclusive=False), pytest.raises(StoreBusy):  # an import's hold
            other.store.acquire(exclusive=True, timeout=0)
    finally:
        other.close()


@pytest.mark.parametrize("point", ["first_original", "commit"])
def test_a_killed_import_leaves_only_what_check_reports_and_repairs(db, tmp_path, capsys, point):
    _kill_an_import_then_check_and_repair(db, tmp_path, capsys, point)


@pytest.mark.only_default_backend  # a half-written temporary file exists only in the folder store
def test_an_import_killed_mid_write_leaves_only_what_check_reports_and_repairs(db, tmp_path, capsys):
    _kill_an_import_then_check_and_repair(db, tmp_path, capsys, "mid_write")


def _kill_an_import_then_check_and_repair(db, tmp_path, capsys, point: str) -> None:
    """Kill a real import at ``point``: what it left (stored originals no row refers to, on S3 objects in the
    bucket; half-written files) is reported by ``check``, kept out of backups and removed by garbage collection;
    its locks (flock, or PostgreSQL's advisory lock and row lock) die with it."""
    ids = client_with_course(db, sessions=1, with_photos=False)
    files = body_photos(tmp_path / "incoming", 2)
    markers = tmp_path / "markers"
    importer = start_paused(markers, db.folder.root, "import", ids["sessions"][0], "neck", point, *files)
    wait_for(markers / point, importer)
    importer.send_signal(signal.SIGKILL)
    importer.wait(WAIT_S)
    leftovers = db.store.all_hashes() | interrupted_writes(db.store)
    assert leftovers, "the kill left nothing to find: the test did not kill mid-import"
    code, out, err = cli(capsys, db.folder.root, "check")
    assert code == 2 and "check --collect-garbage" in err
    assert all(name in out for name in leftovers)
    archive = tmp_path / "backup.zip"
    assert cli(capsys, db.folder.root, "backup", archive)[0] == 0
    with zipfile.ZipFile(archive) as zf:
        assert [n for n in zf.namelist() if n.startswith("photos/")] == []  # orphans are not archived
    code, _, err = cli(capsys, db.folder.root, "check", "--collect-garbage")
    assert code == 0, err
    assert db.store.all_hashes() == set() and interrupted_writes(db.store) == set()
    assert cli(capsys, db.folder.root, "check")[0] == 0
    with db.session() as s:
        assert s.scalar(select(Photo)) is None


# --- Major 4: erasure -----------------------------------------------------------------------

def test_erasure_removes_the_orphans_of_a_killed_import(db):
    gone = client_with_course(db, "Zelda Erasable", sessions=1)
    orphan = db.store.put(sample_bytes(3))  # stored by an import killed before its commit
    clientdata.erase_client(db, db.store, ACTOR, gone["client"])
    assert not db.store.exists(orphan) and db.store.all_hashes() == set()


def test_an_erasure_interrupted_after_its_commit_is_finished_by_the_next_run(db, monkeypatch):
    gone = client_with_course(db, "Zelda Erasable", sessions=2)
    with db.session() as s:
        hashes = set(s.scalars(select(Photo.sha256).where(Photo.id.in_(gone["photos"]))))

    def power_cut(*_, **__):
        raise KeyboardInterrupt("power cut after the commit")

    with monkeypatch.context() as patched, pytest.raises(KeyboardInterrupt):  # not undo(): it unsets the backend
        patched.setattr(PhotoStore, "collect_garbage", power_cut)
        clientdata.erase_client(db, db.store, ACTOR, gone["client"])
    assert all(db.store.exists(h) for h in hashes)  # the crash left the files ...
    with db.session() as s:
        assert s.get(Client, gone["client"]) is None
        assert set(s.scalars(select(PendingDeletion.sha256))) == hashes  # ... and a record of them
    again = open_data_folder(db.folder.root)  # the next run finishes the erasure
    again.close()
    assert not any(db.store.exists(h) for h in hashes)
    with db.session() as s:
        assert s.scalar(select(PendingDeletion)) is None
    assert_nowhere_in_the_records(db, "Zelda Erasable")


def test_erasure_keeps_an_audit_record_without_personal_data(db):
    gone = client_with_course(db, "Zelda Erasable", sessions=1)
    clientdata.erase_client(db, db.store, ACTOR, gone["client"])
    with db.session() as s:
        events = list(s.scalars(select(AuditEvent).where(AuditEvent.action == "delete")))
    assert [(e.entity, e.entity_id, e.client_id, e.actor) for e in events] == [
        ("client", gone["client"], None, ACTOR.name)]
    assert events[0].detail == {"erased": True, "photo_files": 1}
    assert "Zelda" not in json.dumps(events[0].detail)


# --- Major 5: user text as a path -----------------------------------------------------------

@pytest.mark.only_default_backend  # exports are local files on every backend; the store names objects by hash
def test_a_view_name_is_never_a_path(db, tmp_path):
    ids = client_with_course(db, sessions=2, with_photos=False)
    evil = "x/../../../ESCAPED"
    with db.session() as s:
        with pytest.raises(RecordError, match="view"):
            photos.import_photos(s, db.store, ACTOR, ids["sessions"][0],
                                 [photos.Incoming("a.jpg", sample_bytes(1), evil)])
        s.rollback()
        for number, ses in enumerate(ids["sessions"], start=1):
            photos.import_photos(s, db.store, ACTOR, ses, [photos.Incoming(f"{number}.jpg", sample_bytes(number))])
        s.commit()
        photos.analyse_pending(s, db.store, ACTOR)  # a gallery pair needs a comparable analysis
        s.execute(update(Photo).values(view=evil, original_name="../../x.j/pg"))  # a record from before the check
        s.commit()
        out = tmp_path / "a" / "b" / "c"
        written = gallery.export_gallery(s, db.store, ACTOR, out / "gallery", date(2026, 5, 1))
        clientdata.export_client(s, db.store, ACTOR, ids["client"], out / "export")
    assert len(written) == 1
    everything = [p for p in tmp_path.rglob("*") if p.is_file() and db.folder.root not in p.parents]
    assert everything and all(out in p.parents for p in everything), everything
    assert not [p for p in tmp_path.parent.rglob("*ESCAPED*") if tmp_path not in p.parents]


@pytest.mark.only_default_backend  # name validation, before any backend
@pytest.mark.parametrize("view", ["x/../y", "..", ".hidden", "a\\b", "ne\nck", "<img src=x>", "a" * 61, ""])
def test_view_names_are_checked_in_the_records_layer(view):
    with pytest.raises(RecordError):
        photos.check_view(view)


@pytest.mark.only_default_backend  # name validation, before any backend
def test_body_area_names_in_the_clinic_s_words_are_accepted():
    assert [photos.check_view(v) for v in ("neck", "left hand", "décolleté", "upper-arm_2", "front")] == [
        "neck", "left hand", "décolleté", "upper-arm_2", "front"]


# --- Major 6: ids never reused ------------------------------------------------------------

def test_an_erased_client_s_id_is_never_given_to_the_next_client(db):
    gone = client_with_course(db, "Zelda Erasable", sessions=1)
    with db.session() as s:
        last_photo = max(s.scalars(select(Photo.id)))
    clientdata.erase_client(db, db.store, ACTOR, gone["client"])
    after = client_with_course(db, "Ned Next", sessions=1)
    assert after["client"] > gone["client"] and after["course"] > gone["course"]
    assert min(after["photos"]) > last_photo and min(after["sessions"]) > max(gone["sessions"])


@pytest.mark.only_default_backend  # upgrades a SQLite database of revision 0001
def test_migration_0002_upgrades_a_0001_database_without_losing_rows(tmp_path):
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from tracker.models import Base

    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    event.listen(engine, "connect", _sqlite_pragmas)
    command.upgrade(alembic_config(engine), "0001")
    with engine.begin() as conn:
        for name in ("Ada", "Ben", "Cy"):
            conn.execute(text("INSERT INTO clients (name, contact, notes, created_at) "
                              "VALUES (:n, '', '', '2026-01-01')"), {"n": name})
        conn.execute(text("INSERT INTO consents (client_id, kind, given_on, signatory) "
                          "VALUES (2, 'treatment', '2026-01-01', 'Ben')"))
        conn.execute(text("DELETE FROM clients WHERE id = 3"))  # erased before the upgrade ...
        conn.execute(text("INSERT INTO audit_events (at, actor, action, entity, entity_id) "
                          "VALUES ('2026-01-02', 'dr', 'delete', 'client', 3)"))  # ... as the audit log recalls
    command.upgrade(alembic_config(engine), "head")
    with engine.begin() as conn:
        assert [r[0] for r in conn.execute(text("SELECT name FROM clients ORDER BY id"))] == ["Ada", "Ben"]
        assert conn.execute(text("SELECT count(*) FROM consents WHERE client_id = 2")).scalar() == 1
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA foreign_key_check")).fetchall() == []
        schema = dict(conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'table'")).fetchall())
        for name, table in Base.metadata.tables.items():
            if "id" in table.c and table.c.id.primary_key:  # every surrogate id, in every migration
                assert "AUTOINCREMENT" in schema[name], name
        assert "ON DELETE CASCADE" in schema["consents"]
        conn.execute(text("INSERT INTO clients (name, contact, notes, created_at, clinic_id) "
                          "VALUES ('Di', '', '', '2026-02-01', 1)"))
        assert conn.execute(text("SELECT id FROM clients WHERE name = 'Di'")).scalar() == 4
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_one_analysis_per_photo_and_version_is_enforced_by_the_database(db):
    ids = client_with_course(db, sessions=1)
    with db.session() as s:
        photos.analyse_pending(s, db.store, ACTOR)
        s.add(PhotoAnalysis(photo_id=ids["photos"][0], analysis_version=photos.analysis.__version__))
        with pytest.raises(IntegrityError, match="UNIQUE constraint failed|violates unique constraint"):
            s.commit()


# --- Major 7: one bad photo never stops all analysis ----------------------------------------

def test_one_bad_photo_never_stops_the_analysis(db, tmp_path, monkeypatch):
    ids = client_with_course(db, sessions=2, with_photos=False)
    files = body_photos(tmp_path / "incoming", 3)
    with db.session() as s:
        first = photos.import_photos(s, db.store, ACTOR, ids["sessions"][0],
                                     [photos.Incoming(files[0].name, files[0].read_bytes(), "neck", REGION)])
        later = photos.import_photos(s, db.store, ACTOR, ids["sessions"][1], [
            photos.Incoming(f.name, f.read_bytes(), view, region) for f, view, region in
            ((files[1], "neck", None), (files[2], "hand", REGION))])
        s.commit()
        # A record from before regions were checked: a NaN region made analyse fail for every photo.
        # PostgreSQL's JSON cannot hold a NaN: there the unchecked region is an outline that crosses itself.
        bad, reason = (([[0, 0], [float("nan"), 5], [9, 9]], "not a finite number") if db.folder.database_file
                       else ([[0, 0], [90, 90], [90, 0], [0, 90]], "edges cross"))
        s.execute(update(Photo).where(Photo.id == later[1].id).values(region=bad))
        s.commit()
        real = photos.analysis.analyse

        def analyse_with_a_bug(image, reference=None, **kw):
            if reference is None and kw.get("region") == REGION:  # the first neck photo only
                raise RuntimeError("a bug in one photo's analysis")
            return real(image, reference, **kw)

        monkeypatch.setattr(photos.analysis, "analyse", analyse_with_a_bug)
        done = photos.analyse_pending(s, db.store, ACTOR)
        outcome = {a.photo_id: (a.error_code, a.result is not None) for a in done}
    assert outcome[first[0].id] == ("failed", False)  # recorded against that photo ...
    assert outcome[later[1].id][0] == "unsupported"
    assert later[0].id in outcome  # ... and the others went on
    with db.session() as s:
        record = photos.latest_analysis(s.get(Photo, later[1].id))
        assert reason in record.error_message and photos.pending(s, ACTOR) == []


@pytest.mark.only_default_backend  # image decoding, before any backend
def test_a_10000_by_1_image_gives_a_typed_error(tmp_path, capsys, db):
    from analysis.cli import main as analysis_main

    thin = tmp_path / "thin.png"
    thin.write_bytes(encode(np.full((1, 10000, 3), 128, np.uint8), "PNG"))
    assert analysis_main(["measure", str(thin), "--json"]) == 1
    out = capsys.readouterr()
    assert json.loads(out.out)["error"]["code"] == "no_face" and "Traceback" not in out.err
    with pytest.raises(NoFace, match="10000 x 1"):
        photos.locate_face(decode(thin.read_bytes()))
    ids = client_with_course(db, sessions=1, with_photos=False)
    with db.session() as s:
        preview = photos.capture_preview(s, db.store, ACTOR, ids["course"],
                                         photos.Incoming("thin.png", thin.read_bytes()))
    assert preview.error and "too small or too narrow" in preview.error


@pytest.mark.only_default_backend  # pure geometry
@pytest.mark.parametrize("points,reason", [
    ([[10, 10], [float("nan"), 20], [30, 90]], "finite"),
    ([[10, 10], [float("inf"), 20], [30, 90]], "finite"),
    ([[10, 10], [150, 20], [30, 90]], "outside the photo"),
    ([[-5, 10], [50, 20], [30, 90]], "outside the photo"),
    ([[10, 10], [90, 90], [90, 10], [10, 90]], "cross"),  # a bow tie
    ([[10, 10], [20, 20], [30, 30]], "too small"),  # no area
    ([[10, 10], [20, 20]], "polygon of 3"),
    ("not points", "polygon of 3|list"),
])
def test_bad_regions_are_refused_with_a_reason(points, reason):
    with pytest.raises(UnsupportedImage, match=reason):
        validate_polygon(points, 100, 100)


@pytest.mark.only_default_backend  # pure analysis
def test_the_body_analysis_refuses_a_bad_region_with_a_typed_error():
    rgb = scene()
    with pytest.raises(UnsupportedImage, match="finite"):
        analyse(rgb, region=[[10, 10], [float("nan"), 20], [30, 90]])
    with pytest.raises(UnsupportedImage, match="cross"):
        analyse(rgb, region=[[100, 100], [500, 500], [500, 100], [100, 500]])
    assert analyse(rgb, region=REGION)["metrics"]["redness_a_star"] is not None


def test_an_import_refuses_a_region_outside_its_photo(db):
    ids = client_with_course(db, sessions=1, with_photos=False)
    with db.session() as s, pytest.raises(RecordError, match="outside the photo"):
        photos.import_photos(s, db.store, ACTOR, ids["sessions"][0],
                             [photos.Incoming("a.jpg", sample_bytes(1), "neck", [[0, 0], [5000, 0], [0, 900]])])
    assert db.store.all_hashes() == set()


# --- Minor items ---------------------------------------------------------------------------

@pytest.mark.only_default_backend  # output escaping, the same on every backend
def test_cli_output_escapes_control_characters_in_user_text(tmp_path, capsys):
    data = tmp_path / "data"
    assert tracker_main(["--data", str(data), "init"]) == 0
    forged = "Eve\x1b[2J\nFAKE  99  Admin\u202e"
    assert tracker_main(["--data", str(data), "client", "add", "--name", forged, "--contact", "a\rb"]) == 0
    capsys.readouterr()
    assert tracker_main(["--data", str(data), "client", "list"]) == 0
    listed = capsys.readouterr().out
    assert listed.count("\n") == 1 and "\x1b" not in listed and "\u202e" not in listed and "\\x1b" in listed
    assert tracker_main(["--data", str(data), "client", "show", "1"]) == 0
    shown = capsys.readouterr().out
    assert "\x1b" not in shown and "\r" not in shown and "FAKE" in shown and shown.count("\n") == 6


@pytest.mark.only_default_backend  # POSIX modes of the SQLite file and the photo folder
def test_data_folder_database_photos_and_backups_are_private(db, tmp_path):
    client_with_course(db, sessions=1)
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)  # noqa: E731
    assert mode(db.folder.root) == 0o700 and mode(db.folder.database_file) == 0o600
    wal = db.folder.database_file.with_name("tracker.db-wal")
    assert not wal.exists() or mode(wal) == 0o600
    assert all(mode(db.store.path(h)) == 0o400 for h in db.store.all_hashes())
    archive = tmp_path / "backups" / "clinic.zip"
    backup.backup(db.folder, archive, actor=ACTOR)
    assert mode(archive) == 0o600
    backup.restore(archive, tmp_path / "restored", actor=ACTOR)
    restored = tmp_path / "restored"
    assert mode(restored) == 0o700 and mode(restored / "tracker.db") == 0o600


def test_a_killed_backup_leaves_nothing_after_the_next_run(db, tmp_path):
    client_with_course(db, sessions=1)
    folder = tmp_path / "backups"
    folder.mkdir()
    markers = tmp_path / "markers"
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    markers.mkdir()
    killed = subprocess.Popen([sys.executable, str(PAUSED), str(markers), str(db.folder.root), "backup",
                               str(folder / "clinic.zip")], env={**env(), "TMPDIR": str(scratch)},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(markers / "archive", killed)
    killed.send_signal(signal.SIGKILL)
    killed.wait(WAIT_S)
    assert list(scratch.iterdir()) == []  # no copy of the database outside the backup folder
    assert backup.backup(db.folder, folder / "clinic.zip", actor=ACTOR)["files"]
    assert [p.name for p in folder.iterdir()] == ["clinic.zip"] and list(scratch.iterdir()) == []


KILLED_RESTORE = """
import pathlib, sys, time
from tracker import access, backup
def staged(*args):  # everything unpacked and checked beside the target, nothing installed yet
    pathlib.Path(sys.argv[3]).touch()
    time.sleep(60)
backup._install = staged
backup.restore(pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), actor=access.owner("dr.test"))
"""


def killed_restore(archive: pathlib.Path, target: pathlib.Path, tmp_path: pathlib.Path) -> pathlib.Path:
    """A restore killed once it has staged the archive; returns the staging folder it leaves."""
    marker = tmp_path / "staged"
    marker.unlink(missing_ok=True)
    process = subprocess.Popen([sys.executable, "-c", KILLED_RESTORE, str(archive), str(target), str(marker)],
                               env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(marker, process)
    process.send_signal(signal.SIGKILL)
    process.wait(WAIT_S)
    [staging] = target.parent.glob(f".{target.name}-restore-*")
    assert (staging / backup.RECORDS).exists() and list(staging.glob("photos/??/*"))  # a full copy
    return staging


@pytest.mark.only_default_backend  # files beside the target, whatever the backend
def test_a_killed_restore_leaves_nothing_after_the_next_restore_or_init(archived, tmp_path):
    """The staging folder of a restore killed with SIGKILL (the records and photos, unpacked) is removed by
    the next restore or init in the same folder (issue 16.10); a running restore's and a folder that merely
    looks like one are kept."""
    backups = tmp_path / "clinics"
    backups.mkdir()
    look_alike = backups / ".notes-restore-abcdefgh"
    look_alike.mkdir()
    stale = killed_restore(archived[0], backups / "restored", tmp_path)
    with backup._staging(backups / "other") as running:
        backup.restore(archived[0], backups / "restored", actor=ACTOR)
        assert not stale.exists() and running.exists() and look_alike.exists()
    stale = killed_restore(archived[0], backups / "again", tmp_path)
    new_db(backups / "new").close()  # also removes the one left by the restore held above, now ended
    assert not stale.exists() and not running.exists()
    assert sorted(p.name for p in backups.iterdir()) == [".notes-restore-abcdefgh", "new", "restored"]


def test_two_analyse_runs_never_analyse_a_photo_twice(db, tmp_path):
    """Two real ``analyse`` processes over the same pending photos."""
    ids = client_with_course(db, sessions=1, with_photos=False)
    files = body_photos(tmp_path / "incoming", 4)
    with db.session() as s:
        photos.import_photos(s, db.store, ACTOR, ids["sessions"][0],
                             [photos.Incoming(f.name, f.read_bytes(), "neck", REGION) for f in files])
        s.commit()
    runs = [subprocess.Popen([sys.executable, "-m", "tracker", "--data", str(db.folder.root), "analyse"], env=env(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [r.communicate(timeout=WAIT_S) for r in runs]
    assert [r.returncode for r in runs] == [0, 0], outputs
    with db.session() as s:
        per_photo = [len(p.analyses) for p in s.scalars(select(Photo))]
        events = s.scalars(select(AuditEvent).where(AuditEvent.action == "analyse")).all()
    assert per_photo == [1] * 4 and len(events) == 4


def test_concurrent_imports_respect_the_duplicate_photo_rule(db, tmp_path):
    """Two real processes import the same photo for one client into two sessions at once: one wins."""
    ids = client_with_course(db, sessions=2, with_photos=False)
    [photo] = body_photos(tmp_path / "incoming", 1)
    first = start_paused(tmp_path / "m1", db.folder.root, "import", ids["sessions"][0], "neck", "commit", photo)
    wait_for(tmp_path / "m1" / "commit", first)  # stored and flushed, not committed
    second = start_paused(tmp_path / "m2", db.folder.root, "import", ids["sessions"][1], "neck", "enter", photo)
    wait_for(tmp_path / "m2" / "enter", second)
    try:
        second.wait(2)  # before the fix it finishes here, adding the photo twice
    except subprocess.TimeoutExpired:
        pass  # after it, it waits for the first import's transaction
    (tmp_path / "m1" / "go").touch()
    assert first.wait(WAIT_S) == 0, first.communicate()
    _, err = second.communicate(timeout=WAIT_S)
    assert second.returncode != 0 and "already in the client's records" in err
    with db.session() as s:
        assert len(s.scalars(select(Photo)).all()) == 1


def _png_16bit_blank(width: int, height: int) -> bytes:
    """A valid 16-bit greyscale PNG of zeros, compressed row by row (never held decoded)."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    packer, row, idat = zlib.compressobj(9), b"\x00" * (1 + 2 * width), []
    for _ in range(height):
        idat.append(packer.compress(row))
    idat.append(packer.flush())
    ihdr = struct.pack(">IIBBBBB", width, height, 16, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"".join(idat)) + chunk(b"IEND", b"")


@pytest.mark.only_default_backend  # image decoding, before any backend
def test_a_decompression_bomb_is_refused_before_decoding():
    bomb = _png_16bit_blank(4200, 4200)  # 34 MB of samples in a 34 KB file
    assert len(bomb) < 100_000 and Image.open(io.BytesIO(bomb)).mode.startswith("I")
    with pytest.raises(ImageTooLarge, match="decompression bomb"):
        decode(bomb)
    assert decode(sample_bytes(1)).width == 1572  # a photograph is not one


@pytest.mark.only_default_backend  # image decoding, before any backend
def test_decoding_refuses_an_image_over_the_memory_budget(monkeypatch):
    from analysis import decoding

    monkeypatch.setattr(decoding, "MAX_DECODE_BYTES", 20 * 2**20)  # 1572 x 1572 RGB needs about 37 MB
    with pytest.raises(ImageTooLarge, match="would take about"):
        decode(sample_bytes(1))


@pytest.mark.only_default_backend  # file-name cleaning, before any backend
def test_a_non_utf8_file_name_is_imported_cleanly_and_leaves_no_orphan(db, tmp_path, capsys):
    ids = client_with_course(db, sessions=1, with_photos=False)
    folder = tmp_path / "incoming"
    folder.mkdir()
    raw = os.fsencode(folder) + b"/caf\xe9-\xff\n.jpg"
    with open(raw, "wb") as handle:
        handle.write(sample_bytes(1))
    code, out, err = cli(capsys, db.folder.root, "photos", "import", ids["sessions"][0], folder, "--view", "front")
    assert code == 0, err
    assert out.count("\n") == 1 and "as front" in out
    with db.session() as s:
        [photo] = s.scalars(select(Photo)).all()
        assert photo.original_name == "caf\ufffd-\ufffd\ufffd.jpg"
        assert db.store.all_hashes() == photos.referenced_hashes(s)
    assert cli(capsys, db.folder.root, "check")[0] == 0


@pytest.mark.only_default_backend  # a single-clinic archive
def test_restore_refuses_a_role_outside_the_known_roles(tmp_path):
    """Issue 16: a restored ``users.role`` outside the known roles was accepted; the schema now checks it too."""
    archive = _crafted_database(tmp_path, "PRAGMA ignore_check_constraints = ON",
                                "UPDATE users SET role = 'superuser'")
    before = {p for p in tmp_path.rglob("*")}
    with pytest.raises(RecordError, match="do not fit the schema"):
        backup.restore(archive, tmp_path / "restored", actor=ACTOR)
    assert_nothing_written(tmp_path, tmp_path / "restored", before)


@pytest.mark.parametrize("statement", [
    "UPDATE users SET role = 'superuser'", "UPDATE courses SET status = 'deleted'",
    "UPDATE consents SET kind = 'everything'", "UPDATE photos SET removed_reason = 'bored'"])
def test_the_schema_refuses_a_value_outside_its_enumeration(db, statement):
    client_with_course(db, sessions=1)
    with db.session() as s:
        access.create_first_admin(s, "admin", "a long enough secret")
        s.commit()
        with pytest.raises(IntegrityError):
            s.execute(text(statement))
            s.flush()
