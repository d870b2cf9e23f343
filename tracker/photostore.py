"""The photo store: original files, byte for byte, content-addressed and immutable.

A photo's bytes are stored once under their SHA-256, as
``photos/ab/abcdef...`` (the first two hex digits fan the files out). A file
is written to ``photos/tmp/`` first, flushed to disk, then renamed into place:
a rename is atomic, so a crash leaves either the whole file or none, never a
half. Stored files are made read-only (owner only) and never rewritten.
Derived images (aligned copies, thumbnails) go to the cache, keyed by the same
hash, and can be deleted at any time.

Deleting files and adding them never overlap. An import holds the store's
*shared* lock from before it writes its first original until its database
transaction ends; garbage collection and erasure delete only under the
*exclusive* lock, and decide what is unreferenced only once they hold it. So
a collector can never see an original whose row is about to commit: it
waits for the import to finish. The lock is ``flock`` on ``photos/.lock``:
the kernel releases it when a process dies, so a killed import blocks
nothing; what it wrote is then unreferenced, and :meth:`PhotoStore.unreferenced`
reports it until :meth:`PhotoStore.collect_garbage` removes it.
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


class StoreLock:
    """One hold of the store's lock; :meth:`release` may be called more than once."""

    def __init__(self, fd: int):
        self.fd: int | None = fd

    def release(self, *_) -> None:
        if self.fd is not None:
            fd, self.fd = self.fd, None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


class PhotoStore:
    def __init__(self, root: pathlib.Path, cache: pathlib.Path):
        self.root = root
        self.cache_root = cache
        self.tmp = root / "tmp"

    # --- the lock ----------------------------------------------------------------

    def acquire(self, exclusive: bool, timeout: float | None = None,
                on_wait: Callable[[], None] | None = None) -> StoreLock:
        """Take the store's lock (see the module docstring); waits up to ``timeout`` s (None: forever)."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        try:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
            except BlockingIOError:
                if on_wait:
                    on_wait()
                deadline = None if timeout is None else time.monotonic() + timeout
                while True:
                    try:
                        fcntl.flock(fd, mode | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        if deadline is not None and time.monotonic() >= deadline:
                            raise StoreBusy("the photo store is busy (an import or an erasure is running)") \
                                from None
                        time.sleep(0.05)
        except BaseException:
            os.close(fd)
            raise
        return StoreLock(fd)

    @contextlib.contextmanager
    def locked(self, exclusive: bool, timeout: float | None = None,
               on_wait: Callable[[], None] | None = None) -> Iterator[None]:
        lock = self.acquire(exclusive, timeout, on_wait)
        try:
            yield
        finally:
            lock.release()

    # --- files ---------------------------------------------------------------------

    def path(self, sha256: str) -> pathlib.Path:
        if not _HASH_NAME.fullmatch(sha256):
            raise ValueError("not a SHA-256 hex digest")
        return self.root / sha256[:2] / sha256

    def put(self, data: bytes) -> str:
        """Store bytes (once) and return their SHA-256. Call it under the shared lock."""
        digest = sha256_of(data)
        target = self.path(digest)
        if not target.exists():
            atomic_write(target, data, self.tmp)
            target.chmod(stat.S_IRUSR)
        return digest

    def get(self, sha256: str) -> bytes:
        return self.path(sha256).read_bytes()

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).exists()

    def delete(self, sha256: str) -> None:
        """Remove an original and its cached derivatives. Call it under the exclusive lock."""
        self.path(sha256).unlink(missing_ok=True)
        shutil.rmtree(self.cache_dir(sha256), ignore_errors=True)

    def cache_dir(self, sha256: str) -> pathlib.Path:
        return self.cache_root / sha256[:2] / sha256

    def all_hashes(self) -> set[str]:
        return {p.name for p in self.root.glob("??/*") if p.is_file() and _HASH_NAME.fullmatch(p.name)}

    def verify(self, expected: set[str]) -> list[StoreProblem]:
        """Check that every expected file is present and hashes to its name."""
        problems = []
        for digest in sorted(expected):
            path = self.path(digest)
            if not path.exists():
                problems.append(StoreProblem(digest, "missing"))
            elif file_sha256(path) != digest:
                problems.append(StoreProblem(digest, "corrupt"))
        return problems

    def unreferenced(self, referenced: set[str]) -> list[StoreProblem]:
        """Files no record refers to: originals of an interrupted import or erasure, and half-written files.

        Call it under the exclusive lock, with ``referenced`` read after taking it:
        otherwise the originals of an import about to commit look unreferenced.
        """
        found = [StoreProblem(d, "unreferenced") for d in sorted(self.all_hashes() - referenced)]
        found += [StoreProblem(p.name, "interrupted write") for p in sorted(self.tmp.glob(".incoming-*"))]
        stray = [p for p in self.root.glob("??/*") if p.is_file() and not _HASH_NAME.fullmatch(p.name)]
        found += [StoreProblem(p.relative_to(self.root).as_posix(), "not a stored photo") for p in sorted(stray)]
        return found

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
                if problem.problem == "unreferenced":
                    self.delete(problem.sha256)
                elif problem.problem == "interrupted write":
                    (self.tmp / problem.sha256).unlink(missing_ok=True)
                else:
                    (self.root / problem.sha256).unlink(missing_ok=True)
            for cached in self.cache_root.glob("??/*"):
                if cached.name not in keep:
                    shutil.rmtree(cached, ignore_errors=True)
        return removed
