"""Benchmark the analysis of a 12-megapixel clinic photo on one core.

    python bench/bench_analysis.py [--repeat N]

Makes two 4000 x 3000 JPEGs, a baseline and a re-captured session (the
clinic-resolution portrait of ``analysis.simulate``, enlarged to fill the
frame; eyes about 470 px apart), then measures in a fresh process pinned to
one CPU core: per-stage wall time (median of N runs) and peak traced memory,
the ratio of analysis time to the JPEG decode time of the same file, and the
process's peak resident memory. Targets: analysis <= 3x decode, peak memory
< 1 GB.
"""

from __future__ import annotations

import argparse
import io
import os
import pathlib
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc

if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import cv2  # noqa: E402
from PIL import Image  # noqa: E402
from skimage import data  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
cv2.setNumThreads(1)

from analysis import analyse, decode, locate_face  # noqa: E402
from analysis.identity import face_descriptor  # noqa: E402
from analysis.pipeline import align_faces  # noqa: E402
from analysis.reference import find_reference  # noqa: E402
from analysis.resample import Pyramid  # noqa: E402
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
    """Median wall time in ms over ``repeat`` untraced runs, then the peak traced memory (MB) of one
    more run: tracing slows allocation-heavy code, so time and memory are measured apart."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(1000 * (time.perf_counter() - start))
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return statistics.median(times), peak, result


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM; ru_maxrss would include the parent's, kept across exec)."""
    for line in pathlib.Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_measurement(baseline_path: str, session_path: str, repeat: int) -> None:
    baseline_jpeg = pathlib.Path(baseline_path).read_bytes()
    session_jpeg = pathlib.Path(session_path).read_bytes()
    baseline = locate_face(decode(baseline_jpeg))  # also loads the model; not timed
    analyse(locate_face(decode(session_jpeg)), baseline)
    rss = peak_rss_mb()  # before any tracing
    rows = []

    def stage(name, fn):
        ms, mb, result = measure(fn, repeat)
        rows.append((name, ms, mb))
        return result

    image = stage("decode 12 MP JPEG", lambda: decode(session_jpeg))
    photo = stage("landmarks + pose", lambda: locate_face(image))
    stage("identity descriptor (dlib ResNet)", lambda: face_descriptor(photo.rgb, photo.face, Pyramid(photo.rgb)))
    stage("colour chart / grey card search", lambda: find_reference(photo.rgb, Pyramid(photo.rgb)))
    stage("metrics, photo alone", lambda: analyse(photo))
    stage("alignment to baseline (landmarks + ECC)", lambda: align_faces(photo, baseline))
    stage("comparison with baseline (whole)", lambda: analyse(photo, baseline))
    stage("full: decode + landmarks + comparison", lambda: analyse(locate_face(decode(session_jpeg)), baseline))
    decode_ms, full_ms = rows[0][1], rows[-1][1]
    analysis_ms = full_ms - decode_ms
    print(f"12 MP JPEG: {image.width} x {image.height}, {len(session_jpeg) / 2**20:.1f} MiB, "
          f"eyes {photo.face.inter_ocular_px:.0f} px apart; one core; median of {repeat}\n")
    print(f"{'stage':<42}{'time ms':>10}{'traced peak MB':>16}")
    for name, ms, mb in rows:
        print(f"{name:<42}{ms:>10.0f}{mb:>16.0f}")
    print(f"\nanalysis after decode: {analysis_ms:.0f} ms = {analysis_ms / decode_ms:.2f} x decode (target <= 3)")
    print(f"full analysis incl. decode: {full_ms / decode_ms:.2f} x decode")
    print(f"process peak RSS: {rss:.0f} MB (target < 1024): Python, the face model, both photos decoded "
          "and compared, before tracing")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--measure", nargs=2, metavar=("BASELINE", "SESSION"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        run_measurement(*args.measure, args.repeat)
        return
    with tempfile.TemporaryDirectory() as scratch:
        paths = [pathlib.Path(scratch) / name for name in ("baseline.jpg", "session.jpg")]
        for path, data in zip(paths, twelve_megapixel_jpegs()):
            path.write_bytes(data)
        subprocess.run([sys.executable, __file__, "--repeat", str(args.repeat), "--measure", *map(str, paths)],
                       check=True)


if __name__ == "__main__":
    main()
