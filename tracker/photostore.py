"""The photo store: original files, byte for byte, content-addressed and immutable.

A photo's bytes are stored once under their SHA-256, as
``photos/ab/abcdef...`` (the first two hex digits fan the files out). A file
is written to ``photos/tmp/`` first, flushed to disk, then renamed into place:
a rename is atomic, so a crash leaves either the whole file or none, never a
half. Stored files are made read-only and never rewritten. Derived images
(aligned copies, thumbnails) go to the cache, keyed by the same hash, and can
be deleted at any time.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import shutil
import stat
import tempfile
from dataclasses import dataclass


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def atomic_write(path: pathlib.Path, data: bytes, tmp_dir: pathlib.Path | None = None) -> None:
    """Write ``data`` to ``path`` so that ``path`` is either absent or complete."""
    tmp_dir = tmp_dir or path.parent
    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=tmp_dir, prefix=".incoming-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        path.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, path)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class StoreProblem:
    sha256: str
    problem: str  # "missing" or "corrupt"


class PhotoStore:
    def __init__(self, root: pathlib.Path, cache: pathlib.Path):
        self.root = root
        self.cache_root = cache
        self.tmp = root / "tmp"

    def path(self, sha256: str) -> pathlib.Path:
        return self.root / sha256[:2] / sha256

    def put(self, data: bytes) -> str:
        """Store bytes (once) and return their SHA-256."""
        digest = sha256_of(data)
        target = self.path(digest)
        if not target.exists():
            atomic_write(target, data, self.tmp)
            target.chmod(stat.S_IRUSR | stat.S_IRGRP)
        return digest

    def get(self, sha256: str) -> bytes:
        return self.path(sha256).read_bytes()

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).exists()

    def delete(self, sha256: str) -> None:
        """Remove an original and its cached derivatives (used only for erasure)."""
        self.path(sha256).unlink(missing_ok=True)
        shutil.rmtree(self.cache_dir(sha256), ignore_errors=True)

    def cache_dir(self, sha256: str) -> pathlib.Path:
        return self.cache_root / sha256[:2] / sha256

    def all_hashes(self) -> set[str]:
        return {p.name for p in self.root.glob("??/*") if p.is_file() and len(p.name) == 64}

    def verify(self, expected: set[str]) -> list[StoreProblem]:
        """Check that every expected file is present and hashes to its name."""
        problems = []
        for digest in sorted(expected):
            path = self.path(digest)
            if not path.exists():
                problems.append(StoreProblem(digest, "missing"))
            elif sha256_of(path.read_bytes()) != digest:
                problems.append(StoreProblem(digest, "corrupt"))
        return problems

    def collect_garbage(self, referenced: set[str]) -> int:
        """Remove interrupted writes and files no record refers to; return how many went."""
        removed = 0
        for leftover in self.tmp.glob(".incoming-*"):
            leftover.unlink(missing_ok=True)
            removed += 1
        for digest in self.all_hashes() - referenced:
            self.delete(digest)
            removed += 1
        return removed
