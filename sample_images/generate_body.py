"""Generate the simulated hair-loss and cellulite sample courses in this folder, reproducibly.

    python sample_images/generate_body.py

Two *simulated* courses of four sessions, rendered (``analysis.simulate``),
not photographed, and named ``SIMULATED-...`` so that no one mistakes them
for a client's photos:

* ``hair-loss/``: the midline-part view of a scalp with dark brown hair,
  the share of scalp showing falling from about 37 to 28 % and the part narrowing
  3.0 -> 2.2 mm over the course (rendered with the same hairs, more of them
  each session), with a printed 10 mm ArUco marker;
* ``cellulite/``: posterior thigh skin lit from above with 40 dimples 1.6 mm
  deep at baseline, fewer and shallower each session, with the marker.

Each session is a realistic re-capture (position, exposure, white balance,
JPEG). ``course.json`` in each folder records the truth of every photo and the
region to measure (in the baseline's pixels).
"""

from __future__ import annotations

import io
import json
import pathlib
import sys

import numpy as np
from PIL import Image

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from analysis.simulate import Recapture, render_cellulite, render_scalp  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
DATES = ["2026-01-12", "2026-02-09", "2026-03-09", "2026-04-13"]
HAIR = [(38.0, 3.0), (35.0, 2.7), (32.0, 2.4), (30.0, 2.2)]  # (visible %, part width mm): the hair recovers
SKIN = [(40, 1.6), (34, 1.4), (28, 1.2), (22, 1.0)]          # (dimples, depth mm)
#: Simulated Hexsel scores (number, depth, morphology, laxity, Nurnberger-Muller) following the rendered dimples.
HEXSEL = [(3, 3, 2, 1, 2), (3, 2, 2, 1, 2), (3, 2, 1, 1, 2), (3, 1, 1, 1, 1)]
HEXSEL_ITEMS = ("depressions_number", "depressions_depth", "morphology", "laxity", "nurnberger_muller")


def _capture(rng, number):
    if number == 1:
        return Recapture(linear_light=True)
    return Recapture(rotation_deg=float(rng.uniform(-4, 4)), scale=float(rng.uniform(0.96, 1.04)),
                     shift_px=tuple(float(v) for v in rng.uniform(-10, 10, 2)), exposure=float(rng.uniform(0.85, 1.0)),
                     white_balance=tuple(float(v) for v in rng.uniform(0.97, 1.03, 3)), jpeg_quality=90,
                     linear_light=True)


def _save(path, rgb, date):
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = f"{date.replace('-', ':')} 10:00:00"
    exif[0x010E] = "SIMULATED rendering for demonstration, not a photograph"  # ImageDescription
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=85, exif=exif.tobytes())
    path.write_bytes(buf.getvalue())


def course(folder, treatment, area, view, renders, rng, hexsel=None):
    folder.mkdir(exist_ok=True)
    sessions = []
    region = None
    for number, (scene, date) in enumerate(zip(renders, DATES), start=1):
        region = scene.region if region is None else region
        capture = _capture(rng, number)
        name = f"SIMULATED-{area}-session-{number}-{view}.jpg"
        _save(folder / name, capture.apply(scene.rgb), date)
        sessions.append({"session": number, "date": date, "photos": [
            {"view": view, "photo": name, "capture": vars(capture), "truth": scene.truth}]})
        if hexsel:
            sessions[-1]["hexsel"] = dict(zip(HEXSEL_ITEMS, hexsel[number - 1]))
    manifest = {"simulated": True, "treatment": treatment, "area": area, "marker_mm": 10.0,
                "region": np.round(region, 1).tolist(), "source": "rendered by analysis.simulate; not a photograph",
                "sessions": sessions}
    if hexsel:
        manifest["hexsel_source"] = ("simulated clinician scores, chosen to follow the rendered dimples; "
                                     "not a clinician's")
    (folder / "course.json").write_text(json.dumps(manifest, indent=2) + "\n")


def main() -> None:
    rng = np.random.default_rng(2026)
    course(HERE / "hair-loss", "mesotherapy, hair loss (simulated)", "scalp", "midline_part",
           [render_scalp(v, hair="dark_brown", part_width_mm=p, seed=11, size=(480, 640), supersample=2)
            for v, p in HAIR], rng)
    course(HERE / "cellulite", "mesotherapy, cellulite (simulated)", "cellulite", "posterior_thighs",
           [render_cellulite(dimples=d, depth_mm=z, seed=12, size=(480, 640), px_per_mm=3.0) for d, z in SKIN], rng,
           HEXSEL)


if __name__ == "__main__":
    main()
