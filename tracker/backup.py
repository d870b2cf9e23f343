"""Back up and restore a whole data folder as one archive, checked against hashes.

The archive is a zip of a consistent snapshot of the SQLite database (taken
with SQLite's online backup API, so it is safe while the app runs), every
original photo the snapshot refers to, and ``manifest.json`` listing each
member's SHA-256. Files no record refers to (left by an interrupted import)
are not archived. The derived-image cache is left out: it is rebuilt on
demand. The archive is written beside its destination as ``.backup-*``
files and renamed into place, readable by its owner only (0600). Each
temporary file is ``flock``-ed while in use, so the next backup into the same
folder removes those a killed backup left behind, and never a running one's.

Restore treats the archive as untrusted. It refuses, writing nothing, an
archive with:

* a member that is not ``manifest.json``, ``tracker.db`` or
  ``photos/ab/<sha256 starting ab>`` (no ``..``, no absolute path, no other
  file), or a member listed twice;
* a member whose bytes do not match the manifest, or a photo whose bytes do
  not hash to its own name;
* a database that fails ``PRAGMA integrity_check``, is not at a schema
  revision this version knows, or refers to a photo the archive lacks;
* a member over its size limit (:data:`MAX_PHOTO_BYTES`,
  :data:`MAX_DATABASE_BYTES`), more than :data:`MAX_MEMBERS` members, or a
  total larger than the free disk space.

Members are streamed in chunks, never read whole, so a zip bomb costs no
memory. Everything is unpacked into a temporary folder beside the target and
checked there, then renamed into place; on any refusal the temporary folder
is removed. Restore writes only into an absent or empty folder, never over
existing records.

Backup covers the SQLite data folder; a clinic group on PostgreSQL backs up
its database with ``pg_dump`` and this archive for the photos.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import pathlib
import re
import shutil
import sqlite3
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from datetime import datetime, timezone

import analysis
from analysis.decoding import MAX_BYTES

from .db import DataFolder, known_revisions
from .errors import RecordError
from .photostore import CHUNK, PhotoStore

MANIFEST = "manifest.json"
DATABASE = "tracker.db"
PHOTO_MEMBER = re.compile(r"photos/([0-9a-f]{2})/(\1[0-9a-f]{62})")
TEMP_PREFIX = ".backup-"
#: A stored photo is never larger than the decoder accepts.
MAX_PHOTO_BYTES = MAX_BYTES
MAX_DATABASE_BYTES = 16 * 2**30
MAX_MANIFEST_BYTES = 256 * 2**20
MAX_MEMBERS = 5_000_000


# --- backup ------------------------------------------------------------------------

@contextlib.contextmanager
def _temporary(folder: pathlib.Path, suffix: str) -> Iterator[pathlib.Path]:
    """A ``.backup-*`` file in ``folder``, flock-ed while it exists, removed afterwards."""
    fd, name = tempfile.mkstemp(dir=folder, prefix=TEMP_PREFIX, suffix=suffix)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield pathlib.Path(name)
    finally:
        pathlib.Path(name).unlink(missing_ok=True)
        os.close(fd)


def clean_interrupted(folder: pathlib.Path) -> list[pathlib.Path]:
    """Remove ``.backup-*`` files a killed backup left in ``folder`` (those no running backup holds)."""
    removed = []
    for path in folder.glob(TEMP_PREFIX + "*"):
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # a running backup's
        finally:
            os.close(fd)
        path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def _add(zf: zipfile.ZipFile, source: pathlib.Path, name: str) -> str:
    """Copy a file into the archive in chunks; returns its SHA-256."""
    digest = hashlib.sha256()
    with open(source, "rb") as src, zf.open(name, "w", force_zip64=True) as dst:
        while chunk := src.read(CHUNK):
            digest.update(chunk)
            dst.write(chunk)
    return digest.hexdigest()


def backup(folder: DataFolder, archive: pathlib.Path) -> dict:
    """Write the archive atomically; returns its manifest."""
    if folder.database_file is None:
        raise RecordError("backup covers SQLite data folders; back up PostgreSQL with pg_dump")
    archive = archive.resolve()
    archive.parent.mkdir(parents=True, exist_ok=True)
    clean_interrupted(archive.parent)
    store = PhotoStore(folder.photos, folder.cache)
    files = {}
    # The shared lock keeps erasure and garbage collection from deleting an original the snapshot refers to.
    with store.locked(exclusive=False), _temporary(archive.parent, ".db") as snapshot, \
            _temporary(archive.parent, ".zip") as part:
        source, target = sqlite3.connect(folder.database_file), sqlite3.connect(snapshot)
        try:
            target.execute("PRAGMA journal_mode=OFF")  # no journal file beside the snapshot
            source.backup(target)
            referenced = sorted({row[0] for row in target.execute("SELECT DISTINCT sha256 FROM photos")})
        finally:
            source.close()
            target.close()
        with zipfile.ZipFile(part, "w", zipfile.ZIP_STORED) as zf:
            files[DATABASE] = _add(zf, snapshot, DATABASE)
            for digest in referenced:
                path = store.path(digest)
                if not path.exists():
                    raise RecordError(f"photo {digest} is missing from the store: run 'python -m tracker check'")
                name = path.relative_to(folder.root).as_posix()
                files[name] = _add(zf, path, name)
            manifest = {"created_at": datetime.now(timezone.utc).isoformat(),
                        "analysis_version": analysis.__version__, "files": files}
            zf.writestr(MANIFEST, json.dumps(manifest, indent=2))
        with open(part, "rb") as handle:
            os.fsync(handle.fileno())
        part.chmod(0o600)
        os.replace(part, archive)
    return manifest


# --- restore -----------------------------------------------------------------------

def _limit(name: str) -> int:
    if name == DATABASE:
        return MAX_DATABASE_BYTES
    if name == MANIFEST:
        return MAX_MANIFEST_BYTES
    if PHOTO_MEMBER.fullmatch(name):
        return MAX_PHOTO_BYTES
    raise RecordError(f"the archive holds {name!r}, which is not part of a data folder: refused")


def _members(zf: zipfile.ZipFile, target: pathlib.Path) -> dict[str, zipfile.ZipInfo]:
    """The members by name, once their names, sizes, count and total are checked; nothing is read yet."""
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise RecordError(f"the archive has {len(infos)} members; the limit is {MAX_MEMBERS}")
    members = {}
    for info in infos:
        limit = _limit(info.filename)
        if info.filename in members:
            raise RecordError(f"the archive lists {info.filename!r} twice: refused")
        if info.flag_bits & 0x1 or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise RecordError(f"{info.filename} is encrypted or compressed in an unknown way: refused")
        if info.file_size > limit:
            raise RecordError(f"{info.filename} is {info.file_size} bytes; the limit is {limit}")
        members[info.filename] = info
    if MANIFEST not in members or DATABASE not in members:
        raise RecordError("the archive has no manifest or no database: not a tracker backup")
    total = sum(i.file_size for i in infos)
    free = shutil.disk_usage(target).free
    if total > free:
        raise RecordError(f"the archive unpacks to {total} bytes; {free} bytes are free")
    return members


def _read_manifest(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> dict:
    with zf.open(info) as handle:
        raw = handle.read(MAX_MANIFEST_BYTES + 1)
    if len(raw) > MAX_MANIFEST_BYTES:
        raise RecordError("the manifest is too large")
    manifest = json.loads(raw)
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict) or not all(isinstance(v, str) and re.fullmatch(r"[0-9a-f]{64}", v)
                                              for v in files.values()):
        raise RecordError("the manifest does not list the archive's files with their SHA-256")
    return manifest


def _extract(zf: zipfile.ZipFile, info: zipfile.ZipInfo, out: pathlib.Path, mode: int) -> str:
    """Stream one member to ``out`` (never more than its declared size); returns its SHA-256."""
    digest, written = hashlib.sha256(), 0
    out.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with zf.open(info) as src, os.fdopen(os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode), "wb") as dst:
        while chunk := src.read(CHUNK):
            written += len(chunk)
            if written > info.file_size:
                raise RecordError(f"{info.filename} is larger than the archive says: refused")
            digest.update(chunk)
            dst.write(chunk)
    return digest.hexdigest()


def _check_database(path: pathlib.Path) -> set[str]:
    """Integrity and schema revision of a restored database; returns the photos it refers to."""
    try:
        conn = sqlite3.connect(path.as_uri() + "?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise RecordError(f"the archive's database cannot be opened ({exc})") from exc
    try:
        found = conn.execute("PRAGMA integrity_check").fetchall()
        if found != [("ok",)]:
            raise RecordError(f"the archive's database is damaged (integrity check: {found[0][0]})")
        versions = [row[0] for row in conn.execute("SELECT version_num FROM alembic_version")]
        if len(versions) != 1 or versions[0] not in known_revisions():
            raise RecordError(f"the archive's database is at schema revision {versions}, which this version "
                              "of the tracker does not know")
        return {row[0] for row in conn.execute("SELECT DISTINCT sha256 FROM photos")}
    except sqlite3.Error as exc:
        raise RecordError(f"the archive's database is not a tracker database ({exc})") from exc
    finally:
        conn.close()


def _unpack(zf: zipfile.ZipFile, members: dict, manifest: dict, staging: pathlib.Path) -> None:
    files = manifest["files"]
    if set(files) != set(members) - {MANIFEST}:
        raise RecordError("the archive's files do not match its manifest")
    for name, info in members.items():
        if name == MANIFEST:
            continue
        photo = PHOTO_MEMBER.fullmatch(name)
        digest = _extract(zf, info, staging.joinpath(*name.split("/")), 0o400 if photo else 0o600)
        if digest != files[name]:
            raise RecordError(f"{name} in the archive is damaged (hash mismatch)")
        if photo and digest != photo.group(2):
            raise RecordError(f"{name} in the archive does not hash to its own name: refused")
    referenced = _check_database(staging / DATABASE)
    missing = {d for d in referenced if f"photos/{d[:2]}/{d}" not in members}
    if missing:
        raise RecordError(f"the archive lacks {len(missing)} photos its database refers to")
    (staging / "photos").mkdir(exist_ok=True, mode=0o700)
    (staging / "cache").mkdir(exist_ok=True, mode=0o700)


def restore(archive: pathlib.Path, target: pathlib.Path) -> dict:
    """Restore an archive into an absent or empty data folder; returns the manifest (see module docstring)."""
    target = target.resolve()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise RecordError(f"{target} is not empty; restore into a new folder")
    created = [p for p in reversed(target.parents) if not p.exists()]
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(archive) as zf:
            members = _members(zf, target.parent)
            manifest = _read_manifest(zf, members[MANIFEST])
            staging = pathlib.Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-restore-"))
            try:
                _unpack(zf, members, manifest, staging)
                if target.exists():
                    target.rmdir()
                os.replace(staging, target)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
    except BaseException as exc:
        for folder in reversed(created):
            with contextlib.suppress(OSError):
                folder.rmdir()
        if isinstance(exc, RecordError):
            raise
        if isinstance(exc, (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError, ValueError,
                            NotImplementedError, RuntimeError, KeyError)):
            raise RecordError(f"{archive} is not a readable tracker backup ({type(exc).__name__}: {exc})") from exc
        raise
    return manifest
