"""Back up and restore the records and photos as one archive, checked against hashes.

The archive is a zip of the records, the original photos they refer to, and
``manifest.json`` listing each member's SHA-256 and every photo the records
need. The records are, on SQLite, a consistent snapshot of the database file
``tracker.db`` (taken with SQLite's online backup API, so it is safe while the
app runs); on any other database (PostgreSQL for a clinic group) a portable
logical dump ``records.jsonl``, read in one ``REPEATABLE READ`` transaction
(one consistent snapshot while the instances keep working): a header with the
schema revision, then each table's columns and rows as JSON, in foreign-key
order, then the id sequences (so that an erased client's id is never reused
after a restore either). Photos are read through the photo store (folder or
S3), each checked against its hash. Files no record refers to (left by an
interrupted import) are not archived. The derived-image cache is left out: it
is rebuilt on demand. The archive is written beside its destination as
``.backup-*`` files and renamed into place, readable by its owner only (0600).
Each temporary file is ``flock``-ed while in use, so the next backup into the
same folder removes those a killed backup left behind, and never a running one's.

Backups are incremental over the content-addressed store: ``--previous`` names
earlier archives, and the new one holds only the photos those do not list. A
restore then needs the chain (the new archive and the earlier ones): each
photo comes from whichever archive holds it, checked against its hash and the
manifest of the archive it comes from.

Restore treats every archive as untrusted. It refuses, writing nothing, an
archive with:

* a member that is not ``manifest.json``, ``tracker.db``, ``records.jsonl`` or
  ``photos/ab/<sha256 starting ab>`` (no ``..``, no absolute path, no other
  file), or a member listed twice;
* a member whose bytes do not match the manifest, or a photo whose bytes do
  not hash to its own name;
* a database that fails ``PRAGMA integrity_check``, or records that are not at
  a schema revision this version knows, name a table or column the schema at
  that revision lacks, or refer to a photo the archives lack;
* a member over its size limit (:data:`MAX_PHOTO_BYTES`,
  :data:`MAX_DATABASE_BYTES`, :data:`.limits.MANIFEST_BYTES`), more than
  :data:`MAX_MEMBERS` members, or a total larger than the free disk space;
* a manifest not shaped like one (JSON of tiny values costs many times its
  bytes once parsed), a records line over :data:`.limits.RECORD_LINE_BYTES`,
  or a value in the archived database longer than that.

Members are streamed in chunks, never read whole, and the records are read a
bounded line at a time, so a zip bomb costs no memory. Everything is unpacked
into a temporary folder beside the target and checked there before anything
else is written; on any refusal the temporary folder is removed, and one a
killed restore left (marked and locked while its restore runs) is removed by
the next restore or ``init`` beside it. Restore writes only into an absent or
empty data folder, an empty database (no tables) and an empty photo store,
never over existing records. Rows are inserted with bound parameters into
tables of the schema the migrations build, never executed as SQL, so a crafted
dump cannot run statements on the server (why we do not restore ``pg_dump``
output from an archive). An archived ``tracker.db`` is never used as the
database either: its tables' rows are read out (read only, its schema
untrusted) and loaded the same way into a new database the migrations build,
so a trigger, view or index it carries is not restored, and rows in a table or
column the schema lacks are refused. """

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
from datetime import date, datetime, timezone

import analysis
from analysis.decoding import MAX_BYTES

from alembic import command
from sqlalchemy import MetaData, create_engine, func, inspect, select, text
from sqlalchemy import types as sqltypes
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from . import limits
from .db import Database, DataFolder, alembic_config, data_folder, known_revisions, make_engine, make_private
from .access import Viewer, allowed
from .errors import NotAllowed, RecordError
from .photostore import CHUNK, FileLocks, PhotoStore, open_store

MANIFEST = "manifest.json"
DATABASE = "tracker.db"
RECORDS = "records.jsonl"
RECORDS_FORMAT = "tracker-records/1"
PHOTO_MEMBER = re.compile(r"photos/([0-9a-f]{2})/(\1[0-9a-f]{62})")
TEMP_PREFIX = ".backup-"
#: A stored photo is never larger than the decoder accepts.
MAX_PHOTO_BYTES = MAX_BYTES
MAX_DATABASE_BYTES = 16 * 2**30
MAX_MEMBERS = 5_000_000
#: A restore's staging folder beside its target: ``.<target>-restore-`` and mkdtemp's eight characters.
STAGING_INFIX = "-restore-"
STAGING_NAME = re.compile(r"\..+-restore-[a-z0-9_]{8}")
#: The file that marks a staging folder as a restore's, locked while that restore runs.
STAGING_MARK = ".restore-staging"
#: The largest id a restore takes (a row's or a sequence's): far past what a clinic's records reach, and far
#: below the databases' 64-bit end, so that room is left for new rows after it.
MAX_ID = 2**31 - 1


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


def _left_by_a_dead_run(path: pathlib.Path, flags: int) -> bool:
    """Whether ``path`` opens and no running backup or restore holds its lock (a dead run's leftover)."""
    try:
        fd = os.open(path, flags)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def clean_interrupted(folder: pathlib.Path) -> list[pathlib.Path]:
    """Remove ``.backup-*`` files a killed backup left in ``folder`` (those no running backup holds)."""
    removed = []
    for path in folder.glob(TEMP_PREFIX + "*"):
        if not _left_by_a_dead_run(path, os.O_RDONLY):
            continue  # a running backup's
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


def _add_bytes(zf: zipfile.ZipFile, data: bytes, name: str) -> str:
    with zf.open(name, "w", force_zip64=True) as dst:
        dst.write(data)
    return hashlib.sha256(data).hexdigest()


def _plain(value):
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    raise TypeError(f"cannot back up a {type(value).__name__} value")


def _tables(conn) -> list:
    """The schema's tables (reflected), parents before children; without Alembic's own."""
    meta = MetaData()
    meta.reflect(conn)
    return [t for t in meta.sorted_tables if t.name != "alembic_version"]


def _sequences(conn, tables) -> dict[str, int]:
    """Each table's id sequence as far as it has gone (ids already given out, even to erased rows)."""
    found = {}
    if conn.dialect.name == "postgresql":
        for table in tables:
            if "id" in table.columns:
                name = conn.execute(text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table.name}).scalar()
                if name:
                    value, called = conn.execute(text(f"SELECT last_value, is_called FROM {name}")).one()
                    found[table.name] = int(value) if called else 0
    elif conn.dialect.name == "sqlite" and _has_sqlite_sequence(conn):
        names = {table.name for table in tables}
        found = {name: seq for name, seq in conn.execute(text("SELECT name, seq FROM sqlite_sequence"))
                 if name in names}
    return found


def _has_sqlite_sequence(conn) -> bool:
    """Whether SQLite keeps ids in ``sqlite_sequence`` (from schema 0002 on); the inspector never lists it."""
    return conn.execute(text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'")
                        ).first() is not None


def dump_records(conn, out) -> set[str]:
    """Write the records of ``conn`` as a logical dump (see module docstring); returns the photos they refer to."""
    revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    tables = _tables(conn)
    referenced = set()

    def write(item) -> None:
        line = json.dumps(item, default=_plain).encode() + b"\n"
        if len(line) > limits.RECORD_LINE_BYTES:  # a restore would refuse it (see tracker.limits)
            raise RecordError(f"a row of {table.name} is {len(line):,} bytes as JSON; a backup holds rows of "
                              f"at most {limits.RECORD_LINE_BYTES:,}")
        out.write(line)

    out.write(json.dumps({"format": RECORDS_FORMAT, "revision": revision}).encode() + b"\n")
    for table in tables:
        write({"table": table.name, "columns": [c.name for c in table.columns]})
        for row in conn.execute(select(table).order_by(*table.primary_key.columns)):
            write(list(row))
            if table.name == "photos":
                referenced.add(row._mapping["sha256"])
    out.write(json.dumps({"sequences": _sequences(conn, tables)}).encode() + b"\n")
    return referenced


def _previous_photos(previous) -> set[str]:
    """Every photo the earlier archives of the chain list (they, or archives before them, hold it)."""
    found = set()
    for path in previous:
        try:
            with zipfile.ZipFile(path) as zf:
                manifest = _read_manifest(zf, zf.getinfo(MANIFEST))
        except (OSError, KeyError, zipfile.BadZipFile, ValueError) as exc:
            raise RecordError(f"{path} is not a readable tracker backup ({type(exc).__name__}: {exc})") from exc
        found |= photos_of(manifest)
    return found


def photos_of(manifest: dict) -> set[str]:
    listed = manifest.get("photos")
    if listed is None:  # an archive from before incremental backups holds every photo it needs
        listed = [m.group(2) for name in manifest["files"] if (m := PHOTO_MEMBER.fullmatch(name))]
    if not isinstance(listed, list) or not all(isinstance(d, str) and re.fullmatch(r"[0-9a-f]{64}", d)
                                               for d in listed):
        raise RecordError("the manifest's photo list is not a list of SHA-256 hashes")
    return set(listed)


def backup(source: Database | DataFolder, archive: pathlib.Path, previous=(), *, actor: Viewer) -> dict:
    """Write the archive atomically, without the photos the ``previous`` archives list; returns its manifest.
    Only the server's owner may (``actor``: :func:`tracker.access.owner`): an archive holds every clinic."""
    _owner_only(actor, "backup")
    db = source if isinstance(source, Database) else Database(source)
    try:
        return _backup(db, archive.resolve(), [pathlib.Path(p) for p in previous])
    finally:
        if db is not source:
            db.close()


def _backup(db: Database, archive: pathlib.Path, previous: list[pathlib.Path]) -> dict:
    archive.parent.mkdir(parents=True, exist_ok=True)
    clean_interrupted(archive.parent)
    already = _previous_photos(previous)
    store, files = db.store, {}
    sqlite_file = db.folder.database_file
    # The shared lock keeps erasure and garbage collection from deleting an original the snapshot refers to.
    with store.locked(exclusive=False), _temporary(archive.parent, ".records") as snapshot, \
            _temporary(archive.parent, ".zip") as part:
        if sqlite_file is not None:
            records = DATABASE
            source, target = sqlite3.connect(sqlite_file), sqlite3.connect(snapshot)
            try:
                target.execute("PRAGMA journal_mode=OFF")  # no journal file beside the snapshot
                source.backup(target)
                referenced = {row[0] for row in target.execute("SELECT DISTINCT sha256 FROM photos")}
            finally:
                source.close()
                target.close()
        else:
            records = RECORDS
            with db.engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, \
                    conn.begin(), open(snapshot, "wb") as out:
                referenced = dump_records(conn, out)
        with zipfile.ZipFile(part, "w", zipfile.ZIP_STORED) as zf:
            files[records] = _add(zf, snapshot, records)
            for digest in sorted(referenced - already):
                files[f"photos/{digest[:2]}/{digest}"] = _add_bytes(zf, store.get(digest),
                                                                    f"photos/{digest[:2]}/{digest}")
            manifest = {"created_at": datetime.now(timezone.utc).isoformat(),
                        "analysis_version": analysis.__version__, "files": files, "photos": sorted(referenced),
                        "previous": [p.name for p in previous]}
            text_of_manifest = json.dumps(manifest, indent=2)
            if len(text_of_manifest) > limits.MANIFEST_BYTES:  # a restore would refuse it (see tracker.limits)
                raise RecordError(f"the backup's manifest would be {len(text_of_manifest):,} bytes, over the "
                                  f"{limits.MANIFEST_BYTES:,} a restore accepts: too many photos for one archive")
            zf.writestr(MANIFEST, text_of_manifest)
        with open(part, "rb") as handle:
            os.fsync(handle.fileno())
        part.chmod(0o600)
        os.replace(part, archive)
    return manifest


# --- restore -----------------------------------------------------------------------

def _owner_only(actor: Viewer, action: str) -> None:
    if not allowed(actor, action):
        raise NotAllowed(f"{action}: this needs the server's owner (the command line), not a {actor.role}'s")


def _limit(name: str) -> int:
    if name in (DATABASE, RECORDS):
        return MAX_DATABASE_BYTES
    if name == MANIFEST:
        return limits.MANIFEST_BYTES
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
    if MANIFEST not in members or (DATABASE in members) == (RECORDS in members):
        raise RecordError("the archive has no manifest or not exactly one set of records: not a tracker backup")
    records = members[DATABASE if DATABASE in members else RECORDS].file_size
    total = sum(i.file_size for i in infos) + records  # the records are read into a new database beside them
    free = shutil.disk_usage(target).free
    if total > free:
        raise RecordError(f"the archive unpacks to {total} bytes; {free} bytes are free")
    return members


def _read_manifest(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> dict:
    """The archive's manifest, read up to its limit whatever the zip says of its size (see :mod:`.limits`)."""
    with zf.open(info) as handle:
        raw = handle.read(limits.MANIFEST_BYTES + 1)
    if len(raw) > limits.MANIFEST_BYTES:
        raise RecordError(f"the archive's manifest is over {limits.MANIFEST_BYTES:,} bytes: refused")
    manifest = _parse_manifest(raw)
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict) or not all(isinstance(v, str) and re.fullmatch(r"[0-9a-f]{64}", v)
                                              for v in files.values()):
        raise RecordError("the manifest does not list the archive's files with their SHA-256")
    return manifest


#: The most objects, arrays and numbers a manifest may hold: a few, and the brackets in earlier archives' names.
MANIFEST_ITEMS = 1000


def _parse_manifest(raw: bytes):
    """Parse the manifest if it is shaped like one: at most :data:`MANIFEST_ITEMS` objects, arrays and numbers,
    and strings of 32 bytes on average (member names and hashes are longer; a few short ones are allowed).

    Tiny values cost up to 25 times their bytes once parsed; these bounds keep the parsed manifest within
    about three times its bytes.
    """
    items = raw.count(b"{") + raw.count(b"[")  # brackets in strings count too: never too few
    if items > MANIFEST_ITEMS or raw.count(b'"') // 2 > len(raw) // 32 + MANIFEST_ITEMS:
        raise RecordError("the archive's manifest is not shaped like a tracker manifest: refused")

    def counted(parse):
        def number(text):
            nonlocal items
            items += 1
            if items > MANIFEST_ITEMS:
                raise RecordError("the archive's manifest is not shaped like a tracker manifest: refused")
            return parse(text)
        return number

    return json.loads(raw, parse_int=counted(int), parse_float=counted(float), parse_constant=counted(float))


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


def _check_revision(revision) -> str:
    if not isinstance(revision, str) or revision not in known_revisions():
        raise RecordError(f"the archive's records are at schema revision {revision!r}, which this version "
                          "of the tracker does not know")
    return revision


def _open_archived(path: pathlib.Path) -> sqlite3.Connection:
    """The archive's SQLite database, read only, running no function its schema names, holding no value
    longer than a dump's line (a zip bomb's one text of hundreds of megabytes is refused as it is read)."""
    conn = sqlite3.connect(path.as_uri() + "?mode=ro", uri=True)
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, limits.RECORD_LINE_BYTES)
    conn.execute("PRAGMA trusted_schema=OFF")
    conn.execute("PRAGMA query_only=ON")
    return conn


def _check_database(path: pathlib.Path) -> None:
    """Integrity and schema revision of the archive's SQLite database."""
    try:
        conn = _open_archived(path)
    except sqlite3.Error as exc:
        raise RecordError(f"the archive's database cannot be opened ({exc})") from exc
    try:
        found = conn.execute("PRAGMA integrity_check").fetchall()
        if found != [("ok",)]:
            raise RecordError(f"the archive's database is damaged (integrity check: {found[0][0]})")
        versions = [row[0] for row in conn.execute("SELECT version_num FROM alembic_version")]
        if len(versions) != 1:
            raise RecordError(f"the archive's database is at schema revisions {versions}: not a tracker database")
        _check_revision(versions[0])
    except sqlite3.Error as exc:
        raise RecordError(f"the archive's database is not a tracker database ({exc})") from exc
    finally:
        conn.close()


def _dump_database(staging: pathlib.Path) -> None:
    """Read the archive's SQLite database out as a logical dump, then remove it.

    The file is never used as the restored database: its rows are loaded as data into the schema the
    migrations build (see :func:`_load_database`), so nothing else it holds reaches the restored records: no
    trigger (one could copy an erased client elsewhere, or undo a password reset), view, index, or table or
    column of its own (rows in those are refused when loaded). It is read only, its schema untrusted (no
    function a view or trigger names runs), and only its tables' rows are read.
    """
    archived = staging / DATABASE
    _check_database(archived)
    engine = create_engine("sqlite://", creator=lambda: _open_archived(archived), poolclass=NullPool)
    try:
        with engine.connect() as conn, open(staging / RECORDS, "wb") as out:
            dump_records(conn, out)
    except (SQLAlchemyError, sqlite3.Error, TypeError, ValueError, OverflowError) as exc:  # columns or values
        raise RecordError(f"the archive's database is not a tracker database ({type(exc).__name__}: "
                          f"{str(exc)[:200]})") from exc
    finally:
        engine.dispose()
    for leftover in (DATABASE, DATABASE + "-wal", DATABASE + "-shm"):
        (staging / leftover).unlink(missing_ok=True)


def _read_dump(path: pathlib.Path):
    """The header, then (table, columns, row) for every row, then the sequences, of a logical dump;
    anything not shaped like one is refused."""
    with open(path, "rb") as handle:
        lines = _bounded_lines(handle)
        try:
            header = json.loads(next(lines, b""))
            if not isinstance(header, dict) or header.get("format") != RECORDS_FORMAT:
                raise RecordError("the archive's records are not a tracker records dump")
            yield "header", header
            table = columns = None
            for line in lines:
                item = json.loads(line)
                if isinstance(item, list) and table is not None and len(item) == len(columns):
                    yield "row", (table, columns, item)
                elif isinstance(item, dict) and isinstance(item.get("table"), str) and isinstance(
                        item.get("columns"), list) and all(isinstance(c, str) for c in item["columns"]):
                    table, columns = item["table"], item["columns"]
                elif isinstance(item, dict) and isinstance(item.get("sequences"), dict):
                    yield "sequences", item["sequences"]
                else:
                    raise RecordError("the archive's records dump has a malformed line: refused")
        except (ValueError, UnicodeDecodeError) as exc:
            raise RecordError(f"the archive's records dump is not valid JSON ({exc})") from exc


def _bounded_lines(handle) -> Iterator[bytes]:
    """The lines of a dump, each read in bounded chunks: one longer than :data:`.limits.RECORD_LINE_BYTES`
    (a zip bomb's single line of hundreds of megabytes) is refused before it is held whole."""
    limit = limits.RECORD_LINE_BYTES
    while line := handle.readline(limit + 1):
        if len(line) > limit:
            raise RecordError(f"the archive's records have a line over {limit:,} bytes: refused")
        if line.count(b"[") + line.count(b"{") > limits.RECORD_CONTAINERS:  # each costs ~60 bytes parsed
            raise RecordError(f"the archive's records have a line of over {limits.RECORD_CONTAINERS:,} lists or "
                              "objects: refused")
        yield line


def _check_dump(path: pathlib.Path) -> tuple[set[str], str]:
    """A logical dump's revision and the photos its rows refer to (its tables are checked as it is loaded)."""
    referenced, revision = set(), None
    for kind, item in _read_dump(path):
        if kind == "header":
            revision = _check_revision(item.get("revision"))
        elif kind == "row" and item[0] == "photos" and "sha256" in item[1]:
            digest = item[2][item[1].index("sha256")]
            if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest):
                raise RecordError("the archive's records name a photo by something other than its SHA-256")
            referenced.add(digest)
    return referenced, revision


def _unpack(zf: zipfile.ZipFile, members: dict, manifest: dict, staging: pathlib.Path, only=None) -> None:
    """Extract the archive's members (with ``only``, just those photos) into ``staging``, checking every hash."""
    files = manifest["files"]
    if set(files) != set(members) - {MANIFEST}:
        raise RecordError("the archive's files do not match its manifest")
    for name, info in members.items():
        photo = PHOTO_MEMBER.fullmatch(name)
        if name == MANIFEST or (only is not None and not (photo and photo.group(2) in only)):
            continue
        digest = _extract(zf, info, staging.joinpath(*name.split("/")), 0o400 if photo else 0o600)
        if digest != files[name]:
            raise RecordError(f"{name} in the archive is damaged (hash mismatch)")
        if photo and digest != photo.group(2):
            raise RecordError(f"{name} in the archive does not hash to its own name: refused")


def _staged_photos(staging: pathlib.Path) -> set[str]:
    return {p.name for p in (staging / "photos").glob("??/*")}


def _convert(column, value):
    """A dumped JSON value as the column's Python value (dates and times were written as ISO text)."""
    if isinstance(value, str) and isinstance(column.type, sqltypes.DateTime):
        return datetime.fromisoformat(value)
    if isinstance(value, str) and isinstance(column.type, sqltypes.Date):
        return date.fromisoformat(value)
    return value


def _load(conn, rows, sequences: dict) -> None:
    """Insert dumped rows into the (migrated, new) schema of ``conn`` with bound parameters, then the sequences.

    The rows a migration seeds (the default clinic) are removed first: the archive holds them as they were.
    """
    ordered = _tables(conn)
    for table in reversed(ordered):
        conn.execute(table.delete())
    tables = {t.name: t for t in ordered}
    batch, current = [], None

    def flush():
        if batch:
            conn.execute(current.insert(), batch)
            batch.clear()

    for name, columns, row in rows:
        table = tables.get(name)
        if table is None or not set(columns) <= set(table.columns.keys()):
            raise RecordError(f"the archive's records hold a table or column the schema lacks ({name!r}): refused")
        if name in NOT_RESTORED:
            continue
        if table is not current:
            flush()
            current = table
        values = {c: _convert(table.columns[c], v) for c, v in zip(columns, row)}
        _check_row(table, values)
        batch.append(values)
        # a JSON value may cost many times its line once parsed: such rows go in one at a time
        if len(batch) >= 1000 or any(isinstance(v, (list, dict)) for v in values.values()):
            flush()
    flush()
    _set_sequences(conn, tables, sequences)


#: Tables whose rows a restore never takes from an archive: a setup token its maker knows would let them make
#: the restored folder's first admin.
NOT_RESTORED = {"setup_tokens"}


def _check_row(table, values: dict) -> None:
    """Refuse what the library never writes: text past its bound (:mod:`tracker.limits`), an id past
    :data:`MAX_ID`."""
    for column, value in values.items():
        bound = limits.text_bound(table.columns[column])
        if isinstance(value, str) and bound is not None and len(value) > bound:
            raise RecordError(f"the archive's {table.name}.{column} holds {len(value):,} characters, over the "
                              f"{bound:,} the records allow: refused")
        if column == "id" and isinstance(value, int) and not 0 < value <= MAX_ID:
            raise RecordError(f"the archive's {table.name} has an id of {value}, past {MAX_ID}: refused")


def _set_sequences(conn, tables: dict, sequences: dict) -> None:
    """Every id sequence past the dump's value and the highest id loaded, whichever is greater.

    Rows are inserted with their ids, which PostgreSQL's sequences do not see, and a dump from SQLite before
    schema 0002 (or from a database an earlier restore filled) may give no value or a lower one: the highest
    id loaded is the least a sequence may say, so no new row takes a restored row's id. A value that is not
    an id (a string, a negative number, or past the databases' 64-bit integers) is refused.
    """
    for name, value in sequences.items():
        if name not in tables or "id" not in tables[name].columns:
            raise RecordError(f"the archive's records hold a sequence the schema lacks ({name!r}): refused")
        if type(value) is not int or not 0 <= value <= MAX_ID:
            raise RecordError(f"the archive's records give the {name} id sequence as {str(value)[:40]!r}, "
                              f"which is not an id (0 to {MAX_ID}): refused")
    sqlite_sequence = conn.dialect.name == "sqlite" and _has_sqlite_sequence(conn)
    for name, table in tables.items():
        if "id" not in table.columns:
            continue
        top = max(sequences.get(name, 0), conn.execute(select(func.max(table.c.id))).scalar() or 0)
        if top == 0:
            continue
        if conn.dialect.name == "postgresql":
            sequence = conn.execute(text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": name}).scalar()
            if sequence:
                conn.execute(text("SELECT setval(:s, :v)"), {"s": sequence, "v": top})
        elif sqlite_sequence:  # schema 0001 has none: migration 0002 starts each sequence above the ids
            conn.execute(text("DELETE FROM sqlite_sequence WHERE name = :t"), {"t": name})
            conn.execute(text("INSERT INTO sqlite_sequence (name, seq) VALUES (:t, :v)"), {"t": name, "v": top})

def _rows_of(staging: pathlib.Path):
    """The staged records as (rows, sequences), read from the staged logical dump."""
    sequences = {}

    def rows():
        for kind, item in _read_dump(staging / RECORDS):
            if kind == "row":
                yield item
            elif kind == "sequences":  # the last line: filled in once the rows are consumed
                sequences.update(item)
    return rows(), sequences


def _is_empty(url: str) -> bool:
    engine = create_engine(url)
    try:
        return inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


def _load_database(url: str, staging: pathlib.Path, revision: str) -> None:
    """Build the schema at ``revision`` in the empty database at ``url``, load the staged records, then upgrade."""
    engine = make_engine(DataFolder(staging, url))
    try:
        command.upgrade(alembic_config(engine), revision)
        rows, sequences = _rows_of(staging)
        try:
            with engine.begin() as conn:
                _load(conn, rows, sequences)
        except (SQLAlchemyError, TypeError, ValueError) as exc:  # rows that do not fit their columns or keys
            raise RecordError(f"the archive's records do not fit the schema ({type(exc).__name__}): refused") \
                from exc
        command.upgrade(alembic_config(engine), "head")
    except BaseException:
        meta = MetaData()
        meta.reflect(engine)
        meta.drop_all(engine)  # leave the database as empty as it was found
        raise
    finally:
        engine.dispose()


def _upload(store: PhotoStore, staging: pathlib.Path) -> None:
    """Copy the staged photos into an empty object store; on any failure remove what was copied."""
    stored = []
    try:
        for path in sorted((staging / "photos").glob("??/*")):
            stored.append(store.put(path.read_bytes()))
    except BaseException:
        for digest in stored:
            store.delete(digest)
        raise
    shutil.rmtree(staging / "photos")
    (staging / "photos").mkdir(mode=0o700)


def restore(archive: pathlib.Path, target: pathlib.Path | DataFolder, previous=(), *, actor: Viewer) -> dict:
    """Restore an archive (and the earlier archives of its chain) into an absent or empty data folder,
    database and photo store; returns the manifest (see module docstring). Only the server's owner may.

    ``target`` is the data folder, or its path (with the database and store the environment names).
    """
    _owner_only(actor, "restore")
    folder = target if isinstance(target, DataFolder) else data_folder(target)
    root = folder.root.resolve()
    clean_interrupted_restores(root.parent)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise RecordError(f"{root} is not empty; restore into a new folder")
    in_folder = folder.database_file == root / DATABASE
    if not in_folder and not _is_empty(folder.database_url):
        raise RecordError("the target database already holds tables; restore into an empty database")
    store = None
    if folder.photo_store:
        store = open_store(folder.photo_store, folder.cache, FileLocks(folder.photos / ".lock"))
        if store.unreferenced(set()):
            raise RecordError(f"the photo store {folder.photo_store} is not empty; restore into an empty one")
    created = [p for p in reversed(root.parents) if not p.exists()]
    try:
        root.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.ExitStack() as stack:
            zf = stack.enter_context(zipfile.ZipFile(archive))
            members = _members(zf, root.parent)
            manifest = _read_manifest(zf, members[MANIFEST])
            earlier = []
            for path in previous:
                old = stack.enter_context(zipfile.ZipFile(path))
                old_members = _members(old, root.parent)
                earlier.append((old, old_members, _read_manifest(old, old_members[MANIFEST])))
            staging = stack.enter_context(_staging(root))
            try:
                _unpack(zf, members, manifest, staging)
                if DATABASE in members:
                    _dump_database(staging)
                referenced, revision = _check_dump(staging / RECORDS)
                for old, old_members, old_manifest in earlier:
                    _unpack(old, old_members, old_manifest, staging, only=referenced - _staged_photos(staging))
                missing = referenced - _staged_photos(staging)
                if missing:
                    raise RecordError(f"the archive lacks {len(missing)} photos its records refer to"
                                      + (": pass the earlier backups it builds on with --previous"
                                         if manifest.get("previous") else ""))
                (staging / "photos").mkdir(exist_ok=True, mode=0o700)
                (staging / "cache").mkdir(exist_ok=True, mode=0o700)
                _install(folder, staging, revision, in_folder, store)
                if root.exists():
                    root.rmdir()
                (staging / STAGING_MARK).unlink()  # the data folder is no restore's staging
                os.replace(staging, root)
                make_private(folder)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
    except BaseException as exc:
        for made in reversed(created):
            with contextlib.suppress(OSError):
                made.rmdir()
        if isinstance(exc, RecordError):
            raise
        if isinstance(exc, (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError, ValueError,
                            NotImplementedError, RuntimeError, KeyError)):
            raise RecordError(f"{archive} is not a readable tracker backup ({type(exc).__name__}: {exc})") from exc
        raise
    return manifest


@contextlib.contextmanager
def _staging(root: pathlib.Path) -> Iterator[pathlib.Path]:
    """A new staging folder ``.<root's name>-restore-XXXXXXXX`` beside ``root``, marked as a restore's by the
    file :data:`STAGING_MARK`, which is ``flock``-ed while the restore runs: a killed restore's is found and
    removed by :func:`clean_interrupted_restores`, a running one's never. The mark is locked before it
    gets its name, so no folder carries an unlocked mark while its restore runs."""
    staging = pathlib.Path(tempfile.mkdtemp(dir=root.parent, prefix=f".{root.name}{STAGING_INFIX}"))
    fd = os.open(staging / f"{STAGING_MARK}.part", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.rename(staging / f"{STAGING_MARK}.part", staging / STAGING_MARK)
        yield staging
    finally:
        os.close(fd)


def clean_interrupted_restores(folder: pathlib.Path) -> list[pathlib.Path]:
    """Remove the staging folders killed restores left in ``folder`` (each a full copy of an archive's records
    and photos): those named and marked as a restore's (see :func:`_staging`) that no running restore holds."""
    removed = []
    for path in folder.glob(f".*{STAGING_INFIX}*"):
        if not STAGING_NAME.fullmatch(path.name) or path.is_symlink() or not path.is_dir():
            continue
        # no mark: not a restore's staging folder (or one whose restore is just beginning); a locked one: running
        if not _left_by_a_dead_run(path / STAGING_MARK, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK):
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def _install(folder: DataFolder, staging: pathlib.Path, revision: str, in_folder: bool, store) -> None:
    """Put the checked records and photos where ``folder`` keeps them; the staging folder becomes the data folder."""
    if in_folder:
        _load_database(f"sqlite:///{staging / DATABASE}", staging, revision)
        (staging / DATABASE).chmod(0o600)
    else:
        _load_database(folder.database_url, staging, revision)
    (staging / RECORDS).unlink()
    if store is not None:
        try:
            _upload(store, staging)
        except BaseException:
            if not in_folder:
                engine = create_engine(folder.database_url)
                meta = MetaData()
                meta.reflect(engine)
                meta.drop_all(engine)
                engine.dispose()
            raise
