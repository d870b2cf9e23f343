"""Benchmark the gallery page and the PDF report on a real data folder.

    python bench/bench_gallery.py [--pairs 25]

Builds a data folder with 25 clients whose marketing consent is current, each
with a course of two sessions whose front photos are fresh re-captures of the
simulated sample course (distinct files, so nothing is shared in the cache),
analysed so that every pair is comparable: 25 eligible pairs. Then, with
Streamlit's AppTest (the page's script as the server runs it, without the
browser's own drawing):

1. the gallery page's first render, with an empty image cache. Target < 3 s;
2. the same page again (images from the cache);
3. option changes (mask the eyes, crop to the lower face, a new watermark),
   each building that page's images anew; median of 3. Target < 1 s;
4. a PDF report of 4 pairs, with options not yet cached and again cached.
   Target < 2 MB.

Prints one table.
"""

from __future__ import annotations

import argparse
import io
import os
import pathlib
import statistics
import sys
import tempfile
import time
from datetime import date

import numpy as np
from PIL import Image

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis import decode  # noqa: E402
from analysis.simulate import Recapture  # noqa: E402
from tracker import access, gallery, photos, records, reports  # noqa: E402
from tracker.db import init_data_folder  # noqa: E402

SAMPLES = ROOT / "sample_images"
ACTOR = access.owner("bench")
PASSWORD = "a long enough secret"
REPEATS = 3


def jpeg(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def build(root: pathlib.Path, count: int) -> None:
    """``count`` consenting clients, each with two analysed sessions of distinct front photos."""
    db = init_data_folder(root)
    rng = np.random.default_rng(0)
    sources = [decode((SAMPLES / f"session-{n}-front.jpg").read_bytes()).rgb for n in (1, 4)]
    with db.session() as s:
        access.add_user(s, access.owner("bench"), "lee", PASSWORD, "practitioner", "Dr Lee")
        for i in range(count):
            client, _ = records.add_client(s, ACTOR, f"Bench Client {i + 1}")
            records.record_screening(s, ACTOR, client.id, date(2026, 1, 1))
            for kind in ("treatment", "photography", "marketing"):
                records.give_consent(s, ACTOR, client.id, kind, date(2026, 1, 1), "Bench Client")
            course = records.start_course(s, ACTOR, client.id, "skin rejuvenation", ["face"], 4, 28,
                                          date(2026, 1, 12))
            for number, (held, source) in enumerate(zip((date(2026, 1, 12), date(2026, 4, 13)), sources)):
                ses = records.add_session(s, ACTOR, course.id, held, "Dr Bench", "gun")
                # the same distance: the analysis would read a change of distance as a change of light
                shot = Recapture(rotation_deg=float(rng.uniform(-2, 2)),
                                 exposure=float(rng.uniform(0.95, 1.0))).apply(source)
                photos.import_photos(s, db.store, ACTOR, ses.id, [photos.Incoming(f"s{number + 1}.jpg", jpeg(shot),
                                                                                 "front")])
        s.commit()
        photos.analyse_pending(s, db.store, ACTOR,
                               progress=lambda i, n, p: print(f"\ranalysing {i}/{n}", end="", file=sys.stderr))
        print(file=sys.stderr)
        eligible = len(gallery.eligible_pairs(s, ACTOR))
    db.close()
    if eligible != count:
        raise SystemExit(f"expected {count} eligible pairs, found {eligible}")


def timed(fn) -> tuple[tuple[float, float], object]:
    """(wall seconds, CPU seconds of this process, all threads), and what ``fn`` returned.

    On a shared machine the wall time depends on the other load; the CPU time
    is what the work costs (on an idle machine the wall time is at most that).
    """
    start, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return (time.perf_counter() - start, time.process_time() - cpu), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=25)
    args = parser.parse_args()
    root = pathlib.Path(tempfile.mkdtemp()) / "data"
    build(root, args.pairs)
    os.environ["TRACKER_DATA_DIR"] = str(root)
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.run()
    at.text_input(key="username").input("lee")
    at.text_input(key="password").input(PASSWORD)
    at.button[0].click().run()
    rows = []
    seconds, _ = timed(lambda: at.switch_page("app_pages/gallery.py").run())
    shown = len(at.checkbox)
    rows.append((f"gallery page, first render, empty cache ({args.pairs} pairs, {shown} on the page)",
                 seconds, "< 3 s"))
    seconds, _ = timed(lambda: at.run())
    rows.append(("gallery page, again (cached images)", seconds, ""))
    changes = {"mask the eyes": [], "crop to the lower face": [], "watermark": []}
    for i in range(REPEATS):  # each with a watermark not used before: nothing of it is cached
        at.text_input(key="watermark").input(f"Clinic {i}")  # takes effect with the next change
        changes["mask the eyes"].append(timed(lambda: at.radio(key="deidentify").set_value("mask_eyes").run())[0])
        changes["crop to the lower face"].append(
            timed(lambda: at.radio(key="deidentify").set_value("crop_lower_face").run())[0])
        changes["watermark"].append(timed(lambda: at.text_input(key="watermark").input(f"Clinic {i}b").run())[0])
        at.radio(key="deidentify").set_value("none").run()
    for name, runs in changes.items():
        rows.append((f"option change: {name} (median of {REPEATS})",
                     tuple(statistics.median(r[i] for r in runs) for i in (0, 1)), "< 1 s"))
    seconds, _ = timed(lambda: at.number_input(key="gallery_page").set_value(2).run())
    rows.append(("next page of pairs", seconds, ""))
    if at.exception:
        raise SystemExit(f"the page failed: {at.exception}")

    db = init_data_folder(root)
    with db.session() as s:
        pairs = gallery.eligible_pairs(s, ACTOR)[-4:]  # not on the pages shown above: nothing cached for them
        cold, pdf = timed(lambda: reports.report_pdf(s, db.store, ACTOR, pairs, "crop_lower_face", "Report"))
        warm, _ = timed(lambda: reports.report_pdf(s, db.store, ACTOR, pairs, "crop_lower_face", "Report"))
    db.close()
    rows.append(("PDF of 4 pairs, images not cached", cold, ""))
    rows.append(("PDF of 4 pairs, cached", warm, ""))
    width = max(len(r[0]) for r in rows) + 2
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'measure':<{width}}{'wall':>9}{'CPU':>9}  target")
    for name, (wall, cpu), target in rows:
        print(f"{name:<{width}}{wall:>7.2f} s{cpu:>7.2f} s  {target}")
    pages = pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages")
    print(f"{f'PDF of 4 pairs, size ({pages} pages)':<{width}}{len(pdf) / 1e6:>7.2f} MB{'':>9}  < 2 MB")


if __name__ == "__main__":
    main()
