"""Where the records live: the data folder, the database engine and its migrations.

One data folder holds everything: ``tracker.db`` (SQLite, in WAL mode, so a
reader never blocks a writer and a crash loses no committed record), the
photo store ``photos/`` and the derived-image cache ``cache/``. Its path comes
from ``--data``, else ``TRACKER_DATA_DIR``, else ``./data``. A clinic group
points the records and the photos elsewhere: the database URL with
``--database-url`` or ``TRACKER_DATABASE_URL`` (PostgreSQL), the photo store
with ``--photo-store`` or ``TRACKER_PHOTO_STORE`` (``s3://bucket/prefix``, see
:mod:`tracker.photostore`). The data folder then keeps only the local cache
(and, with SQLite, the store's lock file).

The schema is created and upgraded by Alembic migrations only, never by
``create_all``, so that every upgrade of a clinic's database is the same
tested path.

The records are health data: the data folder is made private to its owner
(mode 0700) and the database file readable by its owner only (0600; SQLite
gives its WAL and shared-memory files the same mode).
"""

from __future__ import annotations

import os
import pathlib
from dataclasses import dataclass

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event, inspect
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from . import limits
from .photostore import AdvisoryLocks, FileLocks, PhotoStore, open_store

MIGRATIONS = pathlib.Path(__file__).resolve().parent / "migrations"
DEFAULT_DATA_DIR = "data"


@dataclass(frozen=True)
class DataFolder:
    root: pathlib.Path
    database_url: str
    #: Where the originals are: ``s3://bucket/prefix``, or None for the folder ``photos/`` in ``root``.
    photo_store: str | None = None

    @property
    def photos(self) -> pathlib.Path:
        return self.root / "photos"

    @property
    def cache(self) -> pathlib.Path:
        return self.root / "cache"

    @property
    def database_file(self) -> pathlib.Path | None:
        prefix = "sqlite:///"
        return pathlib.Path(self.database_url[len(prefix):]) if self.database_url.startswith(prefix) else None


def data_folder(path: str | os.PathLike | None = None, database_url: str | None = None,
                photo_store: str | None = None) -> DataFolder:
    """Resolve the data folder, database URL and photo store from arguments, then environment, then defaults."""
    root = pathlib.Path(path or os.environ.get("TRACKER_DATA_DIR") or DEFAULT_DATA_DIR).resolve()
    url = database_url or os.environ.get("TRACKER_DATABASE_URL") or f"sqlite:///{root / 'tracker.db'}"
    return DataFolder(root, url, photo_store or os.environ.get("TRACKER_PHOTO_STORE") or None)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable in WAL mode at every checkpoint
    cursor.close()


#: How long a SQLite writer waits for another (an import, an analysis claim) before giving up, in seconds.
BUSY_TIMEOUT_S = 60


def make_engine(folder: DataFolder) -> Engine:
    sqlite = folder.database_url.startswith("sqlite")
    # A server's connections can die under the pool (a restart, a fail-over): each is tested as it is taken.
    engine = create_engine(folder.database_url, connect_args={"timeout": BUSY_TIMEOUT_S} if sqlite else {},
                           pool_pre_ping=not sqlite)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def known_revisions() -> set[str]:
    """Every schema revision this version of the tracker can open (and upgrade)."""
    return {script.revision for script in ScriptDirectory.from_config(alembic_config(None)).walk_revisions()}


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config(None)).get_current_head()


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (creating it in an empty database)."""
    command.upgrade(alembic_config(engine), "head")


class Database:
    """An open data folder: engine, sessions and photo store."""

    def __init__(self, folder: DataFolder):
        self.folder = folder
        self.engine = make_engine(folder)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        event.listen(self.sessions, "before_flush", limits.check_lengths)  # free text bounded, however written
        self.store = self._open_store()  # its settings (S3 endpoint, encryption) are read now, once

    def session(self) -> Session:
        return self.sessions()

    def _open_store(self) -> PhotoStore:
        """The photo store (see :mod:`tracker.photostore`), its lock chosen by the database: on PostgreSQL
        an advisory lock every instance sharing the database sees, on SQLite ``flock`` on ``photos/.lock``."""
        location = self.folder.photo_store or str(self.folder.photos)
        if self.engine.dialect.name != "postgresql":
            return open_store(location, self.folder.cache, FileLocks(self.folder.photos / ".lock"))
        self._lock_engine = create_engine(self.folder.database_url, poolclass=NullPool)
        store = open_store(location, self.folder.cache, None)
        # Keyed on the store's location as the store spells it, not as configured: instances that write one
        # store differently (a trailing slash) must share its lock. Without the final slash, the usual spelling
        # keeps the key it had, so instances of an earlier version still share the lock during an upgrade.
        store.locks = AdvisoryLocks(self._lock_engine, store.location.rstrip("/"))
        return store

    def close(self) -> None:
        self.engine.dispose()
        if "_lock_engine" in vars(self):
            self._lock_engine.dispose()


def make_private(folder: DataFolder) -> None:
    """The data folder, photo store and cache 0700; the database file 0600, created with that mode."""
    for sub in (folder.root, folder.photos, folder.cache):
        sub.mkdir(parents=True, exist_ok=True, mode=0o700)
        sub.chmod(0o700)
    database = folder.database_file
    if database is not None:
        os.close(os.open(database, os.O_CREAT | os.O_WRONLY, 0o600))
        database.chmod(0o600)


def init_data_folder(path=None, database_url=None, photo_store=None) -> Database:
    """Create (or upgrade) a data folder and its database; safe to run again."""
    from .backup import clean_interrupted_restores  # backup builds on this module

    folder = data_folder(path, database_url, photo_store)
    clean_interrupted_restores(folder.root.parent)  # a killed restore's copy of the records and photos
    make_private(folder)
    db = Database(folder)
    migrate(db.engine)
    _finish_interrupted_work(db)
    return db


def open_data_folder(path=None, database_url=None, photo_store=None) -> Database:
    """Open an initialised data folder, upgrading its schema if this version is newer."""
    folder = data_folder(path, database_url, photo_store)
    if folder.database_file is not None and not folder.database_file.exists():
        raise FileNotFoundError(f"no data folder at {folder.root}: run 'python -m tracker init' first")
    db = Database(folder)
    if folder.database_file is None and "alembic_version" not in inspect(db.engine).get_table_names():
        db.close()
        where = db.engine.url.render_as_string(hide_password=True)
        raise FileNotFoundError(f"no tracker database at {where}: run 'python -m tracker init' first")
    migrate(db.engine)
    _finish_interrupted_work(db)
    return db


def _finish_interrupted_work(db: Database) -> None:
    """Finish an erasure a crash interrupted (its originals still on disk); see :mod:`tracker.clientdata`."""
    from .clientdata import finish_erasures  # clientdata builds on this module

    finish_erasures(db, wait=False)
