"""The photo store: original files, byte for byte, content-addressed and immutable.

A photo's bytes are stored once under their SHA-256, as ``ab/abcdef...``
(the first two hex digits fan them out), in one of two places behind one
interface (:class:`PhotoStore`):

* :class:`FolderStore`, the default: ``photos/`` in the data folder. A file is
  written to ``photos/tmp/`` first, flushed to disk, then renamed into place:
  a rename is atomic, so a crash leaves either the whole file or none, never
  a half. Stored files are made read-only (owner only).
* :class:`S3Store`, for a clinic group: a bucket (and key prefix) on any
  S3-compatible service, chosen by ``TRACKER_PHOTO_STORE=s3://bucket/prefix``
  (see :func:`open_store`). An object appears whole or not at all (a PUT is
  atomic), is written with a conditional PUT (``If-None-Match: *``) after a
  HEAD so that it is never overwritten (unless it is corrupt: see
  :meth:`PhotoStore.put`), and with server-side encryption when
  ``TRACKER_S3_SSE`` asks for it (``AES256``, or ``aws:kms`` with
  ``TRACKER_S3_SSE_KMS_KEY_ID``).

Every read is checked: :meth:`PhotoStore.get` hashes the bytes and raises
:class:`PhotoUnreadable` (problem ``missing`` or ``corrupt``) rather than
return bytes that are not the photo. Derived images (aligned copies,
thumbnails) go to a local per-process cache folder, keyed by the same hash;
it is only a cache and can be deleted at any time.

Deleting originals and adding them never overlap. An import holds the store's
*shared* lock from before it writes its first original until its database
transaction ends; garbage collection and erasure delete only under the
*exclusive* lock, and decide what is unreferenced only once they hold it. So
a collector can never see an original whose row is about to commit: it
waits for the import to finish. The lock must be held by every process that
writes to the store, wherever it runs, and must be released when its holder
dies, so that a killed import blocks nothing (what it wrote is then
unreferenced, and :meth:`PhotoStore.unreferenced` reports it until
:meth:`PhotoStore.collect_garbage` removes it):

* with SQLite (one machine) it is ``flock`` on ``photos/.lock``
  (:class:`FileLocks`): the kernel releases it when a process dies;
* with PostgreSQL (several app instances, workers and command lines on
  several machines sharing one database and one store) it is a PostgreSQL
  advisory lock (:class:`AdvisoryLocks`): ``pg_advisory_lock_shared`` or
  ``pg_advisory_lock`` on a key derived from the store's location, taken on a
  connection of its own (not the transaction's, which commits and rolls back
  independently of the lock), opened for that hold only and closed on release,
  so the server drops the lock when the holder's connection or process dies.
  Every process that shares the store shares the database, so the database is
  the one place all of them can agree.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import pathlib
import re
import shutil
import stat
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .errors import RecordError

CHUNK = 1 << 20
_HASH_NAME = re.compile(r"[0-9a-f]{64}")


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: pathlib.Path) -> str:
    """SHA-256 of a file, read in chunks (never whole)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def atomic_write(path: pathlib.Path, data: bytes, tmp_dir: pathlib.Path | None = None) -> None:
    """Write ``data`` to ``path`` so that ``path`` is either absent or complete."""
    tmp_dir = tmp_dir or path.parent
    tmp_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=tmp_dir, prefix=".incoming-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.replace(tmp, path)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise


def safe_name(text: str, limit: int = 60) -> str:
    """``text`` as one harmless file-name part: letters, digits, ``-`` and ``_`` only.

    User text (a body area's name, an original file name) reaches file names
    in exports; it must never become a path (``..``, ``/``), a hidden file or
    a control character.
    """
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "_", ascii_text).strip("_-")[:limit]
    return cleaned or "unnamed"


def safe_suffix(name: str) -> str:
    """The file name's extension when it is a plain one (``.jpg``), else empty."""
    suffix = pathlib.PurePosixPath(name.replace("\\", "/")).suffix.lower()
    return suffix if re.fullmatch(r"\.[a-z0-9]{1,5}", suffix) else ""


@dataclass(frozen=True)
class StoreProblem:
    sha256: str  # the file's name: a hash, or a temporary or stray file's name
    problem: str  # "missing", "corrupt", "unreferenced", "interrupted write" or "not a stored photo"


class StoreBusy(Exception):
    """The store's lock was not free in time."""


class PhotoUnreadable(RecordError):
    """An original cannot be read as stored: ``problem`` says which and why ("missing" or "corrupt")."""

    def __init__(self, problem: StoreProblem):
        super().__init__(f"photo {problem.sha256} is {problem.problem} in the photo store: "
                         "run 'python -m tracker check' and restore it from a backup")
        self.problem = problem
        self.code = problem.problem


# --- the lock ------------------------------------------------------------------------


class FileLocks:
    """The store's lock as ``flock`` on one file: for every process on one machine (SQLite)."""

    def __init__(self, path: pathlib.Path):
        self.path = path

    def open(self) -> "_FileHold":
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        return _FileHold(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))


class _FileHold:
    def __init__(self, fd: int):
        self.fd = fd

    def try_take(self, exclusive: bool) -> bool:
        try:
            fcntl.flock(self.fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False

    def close(self) -> None:
        os.close(self.fd)  # closing the only descriptor releases the flock


class AdvisoryLocks:
    """The store's lock as a PostgreSQL advisory lock: for processes on several machines (see module docstring).

    ``engine`` must not pool connections (:class:`sqlalchemy.pool.NullPool`):
    closing the hold's connection is what releases the lock, also on errors.
    """

    def __init__(self, engine, location: str):
        self.engine = engine
        # A signed 64-bit key of the store's location: stores sharing a database do not share a lock.
        self.key = int.from_bytes(hashlib.sha256(f"tracker photo store {location}".encode()).digest()[:8],
                                  "big", signed=True)

    def open(self) -> "_AdvisoryHold":
        return _AdvisoryHold(self.engine.connect().execution_options(isolation_level="AUTOCOMMIT"), self.key)


class _AdvisoryHold:
    def __init__(self, connection, key: int):
        self.connection, self.key = connection, key

    def try_take(self, exclusive: bool) -> bool:
        from sqlalchemy import text

        function = "pg_try_advisory_lock" if exclusive else "pg_try_advisory_lock_shared"
        return bool(self.connection.execute(text(f"SELECT {function}(:key)"), {"key": self.key}).scalar())

    def close(self) -> None:
        self.connection.close()  # the session ends, and the server releases its advisory locks


class StoreLock:
    """One hold of the store's lock; :meth:`release` may be called more than once."""

    def __init__(self, hold):
        self.hold = hold

    def release(self, *_) -> None:
        if self.hold is not None:
            hold, self.hold = self.hold, None
            hold.close()


# --- the interface --------------------------------------------------------------------


class PhotoStore:
    """What every photo store offers (see module docstring); subclasses keep the bytes somewhere."""

    location: str  # where the originals are, for people and for the lock's key

    def __init__(self, cache: pathlib.Path, locks):
        self.cache_root = cache
        self.locks = locks

    def acquire(self, exclusive: bool, timeout: float | None = None,
                on_wait: Callable[[], None] | None = None) -> StoreLock:
        """Take the store's lock (see the module docstring); waits up to ``timeout`` s (None: forever)."""
        hold = self.locks.open()
        try:
            if not hold.try_take(exclusive):
                if on_wait:
                    on_wait()
                deadline = None if timeout is None else time.monotonic() + timeout
                while not hold.try_take(exclusive):
                    if deadline is not None and time.monotonic() >= deadline:
                        raise StoreBusy("the photo store is busy (an import or an erasure is running)")
                    time.sleep(0.05)
        except BaseException:
            hold.close()
            raise
        return StoreLock(hold)

    @contextlib.contextmanager
    def locked(self, exclusive: bool, timeout: float | None = None,
               on_wait: Callable[[], None] | None = None) -> Iterator[None]:
        lock = self.acquire(exclusive, timeout, on_wait)
        try:
            yield
        finally:
            lock.release()

    def cache_dir(self, sha256: str) -> pathlib.Path:
        return self.cache_root / sha256[:2] / sha256

    def put(self, data: bytes) -> str:
        """Store bytes and return their SHA-256. Call it under the shared lock.

        An original is never overwritten, except one that no longer hashes to its name: storing the right
        bytes again repairs it (an import of the same photo, a restore)."""
        raise NotImplementedError

    def get(self, sha256: str) -> bytes:
        """An original's bytes, checked against their hash; :class:`PhotoUnreadable` if missing or corrupt."""
        raise NotImplementedError

    def exists(self, sha256: str) -> bool:
        raise NotImplementedError

    def delete(self, sha256: str) -> None:
        """Remove an original and its cached derivatives. Call it under the exclusive lock."""
        raise NotImplementedError

    def all_hashes(self) -> set[str]:
        raise NotImplementedError

    def verify(self, expected: set[str]) -> list[StoreProblem]:
        """Check that every expected original is present and hashes to its name."""
        raise NotImplementedError

    def unreferenced(self, referenced: set[str]) -> list[StoreProblem]:
        """Originals no record refers to (of an interrupted import or erasure), half-written and stray files.

        Call it under the exclusive lock, with ``referenced`` read after taking it:
        otherwise the originals of an import about to commit look unreferenced.
        """
        raise NotImplementedError

    def _remove(self, problem: StoreProblem) -> None:
        """Remove what :meth:`unreferenced` reported."""
        raise NotImplementedError

    def _checked(self, sha256: str, data: bytes) -> bytes:
        if sha256_of(data) != sha256:
            raise PhotoUnreadable(StoreProblem(sha256, "corrupt"))
        return data

    def collect_garbage(self, referenced: Callable[[], set[str]], timeout: float | None = None,
                        on_wait: Callable[[], None] | None = None) -> list[StoreProblem]:
        """Remove every unreferenced file (see :meth:`unreferenced`) and derived images without an original.

        ``referenced`` is called once the exclusive lock is held, so that no
        import can be between storing its originals and committing their rows.
        Returns what was removed.
        """
        with self.locked(exclusive=True, timeout=timeout, on_wait=on_wait):
            keep = referenced()
            removed = self.unreferenced(keep)
            for problem in removed:
                self._remove(problem)
            for cached in self.cache_root.glob("??/*"):
                if cached.name not in keep:
                    shutil.rmtree(cached, ignore_errors=True)
        return removed


def _hash_name(sha256: str) -> str:
    if not _HASH_NAME.fullmatch(sha256):
        raise ValueError("not a SHA-256 hex digest")
    return f"{sha256[:2]}/{sha256}"


# --- a folder ------------------------------------------------------------------------


class FolderStore(PhotoStore):
    """Originals as read-only files in a local folder (the default: ``photos/`` in the data folder)."""

    def __init__(self, root: pathlib.Path, cache: pathlib.Path, locks=None):
        super().__init__(cache, locks or FileLocks(root / ".lock"))
        self.root = root
        self.tmp = root / "tmp"
        self.location = str(root)

    def path(self, sha256: str) -> pathlib.Path:
        return self.root / _hash_name(sha256)

    def put(self, data: bytes) -> str:
        digest = sha256_of(data)
        target = self.path(digest)
        if not target.exists() or file_sha256(target) != digest:
            atomic_write(target, data, self.tmp)  # a rename: it replaces a corrupt (read-only) file too
            target.chmod(stat.S_IRUSR)
        return digest

    def get(self, sha256: str) -> bytes:
        try:
            return self._checked(sha256, self.path(sha256).read_bytes())
        except FileNotFoundError:
            raise PhotoUnreadable(StoreProblem(sha256, "missing")) from None

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).exists()

    def delete(self, sha256: str) -> None:
        self.path(sha256).unlink(missing_ok=True)
        shutil.rmtree(self.cache_dir(sha256), ignore_errors=True)

    def all_hashes(self) -> set[str]:
        return {p.name for p in self.root.glob("??/*") if p.is_file() and _HASH_NAME.fullmatch(p.name)}

    def verify(self, expected: set[str]) -> list[StoreProblem]:
        problems = []
        for digest in sorted(expected):
            path = self.path(digest)
            if not path.exists():
                problems.append(StoreProblem(digest, "missing"))
            elif file_sha256(path) != digest:
                problems.append(StoreProblem(digest, "corrupt"))
        return problems

    def unreferenced(self, referenced: set[str]) -> list[StoreProblem]:
        found = [StoreProblem(d, "unreferenced") for d in sorted(self.all_hashes() - referenced)]
        found += [StoreProblem(p.name, "interrupted write") for p in sorted(self.tmp.glob(".incoming-*"))]
        stray = [p for p in self.root.glob("??/*") if p.is_file() and not _HASH_NAME.fullmatch(p.name)]
        found += [StoreProblem(p.relative_to(self.root).as_posix(), "not a stored photo") for p in sorted(stray)]
        return found

    def _remove(self, problem: StoreProblem) -> None:
        if problem.problem == "unreferenced":
            self.delete(problem.sha256)
        elif problem.problem == "interrupted write":
            (self.tmp / problem.sha256).unlink(missing_ok=True)
        else:
            (self.root / problem.sha256).unlink(missing_ok=True)


# --- S3-compatible object storage ---------------------------------------------------------


#: Server-side encryption modes ``TRACKER_S3_SSE`` may name (S3's ``ServerSideEncryption`` values).
SSE_MODES = ("AES256", "aws:kms")


class S3Store(PhotoStore):
    """Originals as objects in an S3-compatible bucket, under ``prefix`` (see module docstring).

    ``client`` is a boto3 S3 client; ``sse`` one of :data:`SSE_MODES` or None,
    with ``kms_key_id`` for ``aws:kms`` (None: the bucket's default key).
    """

    def __init__(self, client, bucket: str, prefix: str, cache: pathlib.Path, locks,
                 sse: str | None = None, kms_key_id: str | None = None):
        super().__init__(cache, locks)
        if sse is not None and sse not in SSE_MODES:
            raise RecordError(f"unknown server-side encryption {sse!r}: use one of {', '.join(SSE_MODES)}")
        self.client, self.bucket = client, bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.location = f"s3://{bucket}/{self.prefix}"
        self.encryption = ({"ServerSideEncryption": sse} if sse else {}) | (
            {"SSEKMSKeyId": kms_key_id} if sse == "aws:kms" and kms_key_id else {})

    def key(self, sha256: str) -> str:
        return self.prefix + _hash_name(sha256)

    def put(self, data: bytes) -> str:
        from botocore.exceptions import ClientError

        digest = sha256_of(data)
        condition = {"IfNoneMatch": "*"}
        if self.exists(digest):
            try:
                self.get(digest)
                return digest
            except PhotoUnreadable:
                condition = {}  # corrupt: replaced by the right bytes
        try:
            self.client.put_object(Bucket=self.bucket, Key=self.key(digest), Body=data, **condition,
                                   **self.encryption)
        except ClientError as exc:
            # Another process stored the same bytes in between: the object is already what we wanted.
            if _status(exc) not in (409, 412):
                raise
        return digest

    def get(self, sha256: str) -> bytes:
        from botocore.exceptions import ClientError

        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self.key(sha256))["Body"]
        except ClientError as exc:
            if _status(exc) == 404:
                raise PhotoUnreadable(StoreProblem(sha256, "missing")) from None
            raise
        with contextlib.closing(body):
            return self._checked(sha256, body.read())

    def exists(self, sha256: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self.key(sha256))
            return True
        except ClientError as exc:
            if _status(exc) == 404:
                return False
            raise

    def delete(self, sha256: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.key(sha256))
        shutil.rmtree(self.cache_dir(sha256), ignore_errors=True)

    def _names(self) -> Iterator[str]:
        """Every object's key below the prefix, without the prefix."""
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix)
        for page in pages:
            for item in page.get("Contents", ()):
                yield item["Key"][len(self.prefix):]

    def all_hashes(self) -> set[str]:
        return {name[3:] for name in self._names() if _is_hash_name(name)}

    def verify(self, expected: set[str]) -> list[StoreProblem]:
        problems = []
        for digest in sorted(expected):
            try:
                self.get(digest)
            except PhotoUnreadable as exc:
                problems.append(exc.problem)
        return problems

    def unreferenced(self, referenced: set[str]) -> list[StoreProblem]:
        names = list(self._names())
        found = [StoreProblem(n[3:], "unreferenced") for n in sorted(names)
                 if _is_hash_name(n) and n[3:] not in referenced]
        return found + [StoreProblem(n, "not a stored photo") for n in sorted(names) if not _is_hash_name(n)]

    def _remove(self, problem: StoreProblem) -> None:
        if problem.problem == "unreferenced":
            self.delete(problem.sha256)
        else:
            self.client.delete_object(Bucket=self.bucket, Key=self.prefix + problem.sha256)


def _is_hash_name(name: str) -> bool:
    """``ab/<sha256 starting ab>``: a stored original's name below the store's root."""
    return len(name) == 67 and name[2] == "/" and bool(_HASH_NAME.fullmatch(name[3:])) and name[:2] == name[3:5]


def _status(exc) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


# --- choosing a store ---------------------------------------------------------------------------


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` as (bucket, prefix); a clear error for anything else."""
    match = re.fullmatch(r"s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/(.*))?", url)
    if not match:
        raise RecordError(f"photo store {url!r} is neither a folder nor s3://bucket/prefix")
    return match.group(1), (match.group(2) or "").strip("/")


def s3_client(environ=None):
    """A boto3 S3 client: ``TRACKER_S3_ENDPOINT_URL`` (any S3-compatible service; default AWS), and
    the standard AWS variables for credentials and region (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
    ``AWS_DEFAULT_REGION``, or a profile)."""
    import boto3
    from botocore.config import Config

    environ = os.environ if environ is None else environ
    return boto3.client("s3", endpoint_url=environ.get("TRACKER_S3_ENDPOINT_URL") or None,
                        config=Config(retries={"max_attempts": 5, "mode": "standard"}, max_pool_connections=16))


def open_store(location: str, cache: pathlib.Path, locks, environ=None) -> PhotoStore:
    """The store at ``location``: ``s3://bucket/prefix``, else a folder path (see module docstring)."""
    environ = os.environ if environ is None else environ
    if location.startswith("s3://"):
        bucket, prefix = parse_s3_url(location)
        return S3Store(s3_client(environ), bucket, prefix, cache, locks,
                       environ.get("TRACKER_S3_SSE") or None, environ.get("TRACKER_S3_SSE_KMS_KEY_ID") or None)
    return FolderStore(pathlib.Path(location), cache, locks)
