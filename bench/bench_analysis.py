"""Benchmark the analysis of a 12-megapixel clinic photo on one core.

    python bench/bench_analysis.py [--repeat N]

Makes a 4000 x 3000 JPEG (the clinic-resolution portrait of
``analysis.simulate``, enlarged to fill the frame; eyes about 480 px apart),
pins the process to one CPU core, and prints per-stage wall time (median of
N runs) and the peak memory of each stage, then the ratio of full analysis
time to the JPEG decode time of the same file. Targets: analysis <= 3x decode,
peak memory < 1 GB.
"""

from __future__ import annotations

import argparse
import io
import os
import pathlib
import resource
import statistics
import sys
import time
import tracemalloc

if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402
from skimage import data  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
cv2.setNumThreads(1)

from analysis import analyse, decode, locate_face  # noqa: E402
from analysis.pipeline import align_faces  # noqa: E402
from analysis.simulate import Recapture, clinic_portrait  # noqa: E402


def twelve_megapixel_jpegs() -> tuple[bytes, bytes]:
    """A baseline and a re-captured session photo, 4000 x 3000 JPEG, quality 92."""
    astronaut = data.astronaut()
    head = clinic_portrait(astronaut, locate_face(astronaut).face)
    big = cv2.resize(head, (3000, 3000), interpolation=cv2.INTER_CUBIC)
    frame = cv2.copyMakeBorder(big, 0, 0, 500, 500, cv2.BORDER_REPLICATE)
    session = Recapture(rotation_deg=3.0, scale=0.97, exposure=0.9).apply(frame)

    def jpeg(rgb):
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, format="JPEG", quality=92)
        return buf.getvalue()

    return jpeg(frame), jpeg(session)


def measure(fn, repeat):
    """Median wall time in ms and peak traced memory in MB of ``fn()``; returns its last result too."""
    times, result = [], None
    tracemalloc.start()
    for _ in range(repeat):
        tracemalloc.reset_peak()
        start = time.perf_counter()
        result = fn()
        times.append(1000 * (time.perf_counter() - start))
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return statistics.median(times), peak, result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    baseline_jpeg, session_jpeg = twelve_megapixel_jpegs()
    baseline = locate_face(decode(baseline_jpeg))  # warm the model; not timed
    rows = []

    def stage(name, fn):
        ms, mb, result = measure(fn, args.repeat)
        rows.append((name, ms, mb))
        return result

    image = stage("decode 12 MP JPEG", lambda: decode(session_jpeg))
    photo = stage("landmarks + pose", lambda: locate_face(image))
    stage("metrics, photo alone", lambda: analyse(photo))
    stage("alignment to baseline (landmarks + ECC)", lambda: align_faces(photo, baseline))
    stage("comparison with baseline (whole)", lambda: analyse(photo, baseline))
    stage("full: decode + landmarks + comparison", lambda: analyse(locate_face(decode(session_jpeg)), baseline))
    decode_ms = rows[0][1]
    full_ms = rows[-1][1]
    analysis_ms = full_ms - decode_ms
    print(f"12 MP JPEG: {image.width} x {image.height}, {len(session_jpeg) / 2**20:.1f} MiB, "
          f"eyes {photo.face.inter_ocular_px:.0f} px apart; one core; median of {args.repeat}\n")
    print(f"{'stage':<42}{'time ms':>10}{'peak MB':>10}")
    for name, ms, mb in rows:
        print(f"{name:<42}{ms:>10.0f}{mb:>10.0f}")
    print(f"\nanalysis after decode: {analysis_ms:.0f} ms = {analysis_ms / decode_ms:.2f} x decode (target <= 3)")
    print(f"full analysis incl. decode: {full_ms / decode_ms:.2f} x decode")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process peak RSS: {rss:.0f} MB (target < 1024), including the face model and both decoded photos")


if __name__ == "__main__":
    main()
