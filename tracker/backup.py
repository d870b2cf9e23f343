"""Back up and restore a whole data folder as one archive, checked against hashes.

The archive is a zip of a consistent snapshot of the SQLite database (taken
with SQLite's online backup API, so it is safe while the app runs), every
original photo, and ``manifest.json`` listing each member's SHA-256. The
derived-image cache is left out: it is rebuilt on demand.

Restore checks every member against the manifest *before* writing anything,
unpacks into a temporary folder beside the target and renames it into place,
so a damaged archive or an interrupted restore never leaves a half data folder.
It restores only into an absent or empty folder, never over existing records.

Backup covers the SQLite data folder; a clinic group on PostgreSQL backs up
its database with ``pg_dump`` and this archive for the photos.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import sqlite3
import tempfile
import zipfile
from datetime import datetime, timezone

import analysis

from .db import DataFolder
from .errors import RecordError
from .photostore import sha256_of

MANIFEST = "manifest.json"
DATABASE = "tracker.db"


def backup(folder: DataFolder, archive: pathlib.Path) -> dict:
    """Write the archive atomically; returns its manifest."""
    if folder.database_file is None:
        raise RecordError("backup covers SQLite data folders; back up PostgreSQL with pg_dump")
    archive.parent.mkdir(parents=True, exist_ok=True)
    files = {}
    fd, tmp = tempfile.mkstemp(dir=archive.parent, prefix=".backup-")
    os.close(fd)
    try:
        with tempfile.TemporaryDirectory() as scratch:
            snapshot = pathlib.Path(scratch) / DATABASE
            source = sqlite3.connect(folder.database_file)
            target = sqlite3.connect(snapshot)
            with target:
                source.backup(target)
            source.close()
            target.close()
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as zf:
                data = snapshot.read_bytes()
                zf.writestr(DATABASE, data)
                files[DATABASE] = sha256_of(data)
                for path in sorted(folder.photos.glob("??/*")):
                    name = path.relative_to(folder.root).as_posix()
                    data = path.read_bytes()
                    zf.writestr(name, data)
                    files[name] = sha256_of(data)
                manifest = {"created_at": datetime.now(timezone.utc).isoformat(),
                            "analysis_version": analysis.__version__, "files": files}
                zf.writestr(MANIFEST, json.dumps(manifest, indent=2))
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, archive)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise
    return manifest


def verify(archive: pathlib.Path) -> dict:
    """Check every member of an archive against its manifest; returns the manifest."""
    try:
        with zipfile.ZipFile(archive) as zf:
            manifest = json.loads(zf.read(MANIFEST))
            names = set(zf.namelist()) - {MANIFEST}
            if names != set(manifest["files"]):
                raise RecordError("the archive's files do not match its manifest")
            for name, digest in manifest["files"].items():
                if sha256_of(zf.read(name)) != digest:
                    raise RecordError(f"{name} in the archive is damaged (hash mismatch)")
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, OSError) as exc:
        raise RecordError(f"{archive} is not a readable tracker backup ({exc})") from exc
    return manifest


def restore(archive: pathlib.Path, target: pathlib.Path) -> dict:
    """Restore an archive into an absent or empty data folder; returns the manifest."""
    manifest = verify(archive)
    target = target.resolve()
    if target.exists() and any(target.iterdir()):
        raise RecordError(f"{target} is not empty; restore into a new folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = pathlib.Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-restore-"))
    try:
        with zipfile.ZipFile(archive) as zf:
            for name in manifest["files"]:
                out = staging / name
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(zf.read(name))
        (staging / "cache").mkdir(exist_ok=True)
        if target.exists():
            target.rmdir()
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest
