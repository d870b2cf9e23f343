"""Where the records live: the data folder, the database engine and its migrations.

One data folder holds everything: ``tracker.db`` (SQLite, in WAL mode, so a
reader never blocks a writer and a crash loses no committed record), the
photo store ``photos/`` and the derived-image cache ``cache/``. Its path comes
from ``--data``, else ``TRACKER_DATA_DIR``, else ``./data``. The database URL
can point elsewhere (``--database-url`` or ``TRACKER_DATABASE_URL``, e.g.
PostgreSQL for a clinic group); the photos stay in the data folder.

The schema is created and upgraded by Alembic migrations only, never by
``create_all``, so that every upgrade of a clinic's database is the same
tested path.
"""

from __future__ import annotations

import os
import pathlib
from dataclasses import dataclass

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from .photostore import PhotoStore

MIGRATIONS = pathlib.Path(__file__).resolve().parent / "migrations"
DEFAULT_DATA_DIR = "data"


@dataclass(frozen=True)
class DataFolder:
    root: pathlib.Path
    database_url: str

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


def data_folder(path: str | os.PathLike | None = None, database_url: str | None = None) -> DataFolder:
    """Resolve the data folder and database URL from arguments, then environment, then defaults."""
    root = pathlib.Path(path or os.environ.get("TRACKER_DATA_DIR") or DEFAULT_DATA_DIR).resolve()
    url = database_url or os.environ.get("TRACKER_DATABASE_URL") or f"sqlite:///{root / 'tracker.db'}"
    return DataFolder(root, url)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable in WAL mode at every checkpoint
    cursor.close()


def make_engine(folder: DataFolder) -> Engine:
    engine = create_engine(folder.database_url)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (creating it in an empty database)."""
    command.upgrade(alembic_config(engine), "head")


class Database:
    """An open data folder: engine, sessions and photo store paths."""

    def __init__(self, folder: DataFolder):
        self.folder = folder
        self.engine = make_engine(folder)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    def session(self) -> Session:
        return self.sessions()

    @property
    def store(self) -> PhotoStore:
        return PhotoStore(self.folder.photos, self.folder.cache)

    def close(self) -> None:
        self.engine.dispose()


def init_data_folder(path=None, database_url=None) -> Database:
    """Create (or upgrade) a data folder and its database; safe to run again."""
    folder = data_folder(path, database_url)
    for sub in (folder.root, folder.photos, folder.cache):
        sub.mkdir(parents=True, exist_ok=True)
    db = Database(folder)
    migrate(db.engine)
    return db


def open_data_folder(path=None, database_url=None) -> Database:
    """Open an initialised data folder, upgrading its schema if this version is newer."""
    folder = data_folder(path, database_url)
    if folder.database_file is not None and not folder.database_file.exists():
        raise FileNotFoundError(f"no data folder at {folder.root}: run 'python -m tracker init' first")
    db = Database(folder)
    migrate(db.engine)
    return db
