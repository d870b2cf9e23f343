"""Texture and fine lines on real studio portraits: the no-change spread and an injected smoothing.

    python validation/texture.py --london ../shared/faces-london [--faces94 ../shared/faces94-dev] [--limit N]

faces-london holds 53 people photographed twice in one studio session,
neutral then smiling (1350 x 1350, eyes about 200 px apart): nothing about
the skin changed, so every texture change the engine reports between the
two is noise (the smile moves the cheeks' skin; the forehead barely moves).
For every person and at three resolutions of the analysis frame (the photos
as taken, and both photos shrunk alike to 1.5 px/mm, the texture gate of
:data:`analysis.metrics.MIN_TEXTURE_PX_PER_MM`, and to 1.2 px/mm, below it,
measured with the gate lifted to show what it keeps out) it analyses

* ``real``: the smiling shot against the neutral one;
* ``recapture``: the neutral shot re-captured by simulation (rotation 3
  degrees, 3 % nearer, exposure -10 %, JPEG 90) against itself: no expression,
  the same skin noise, so a lower bound on the spread;
* ``x0.85``, ``x0.7``: the smiling shot with its skin's fine log-luminance
  contrast multiplied by 0.85 and 0.7 (:func:`analysis.simulate.inject`, below
  three times the texture band's coarse scale), against the neutral one: a
  true smoothing of 15 % and 30 %, on top of the real pair's noise.

Floors and detection are checked on people the floor was not taken from:
the people are split in two halves (alternate ids), each half's
floor is the 95th percentile of the other half's real no-change |change|
(comparable pairs of the scope; all pairs where fewer than
:data:`MIN_COMPARABLE` are comparable, as for the cheeks a smile spoils).
A false claim is a no-change pair beyond its floor; a detection an injected
pair beyond it with the right sign (smoother: lower). Figures per skin-tone
group (faces-london's ``face_eth``).

faces94-dev (180 x 200 px, eyes 45-50 px apart) cannot resolve texture at
all: it is run to check that the engine refuses and says what it needs.
"""

from __future__ import annotations

import argparse
import csv
import pathlib
import sys
from contextlib import nullcontext
from unittest import mock

import cv2
import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from analysis import AnalysisError, analyse, decode, locate_face, metrics  # noqa: E402
from analysis.pipeline import CANONICAL_IOD_PX, SCALE_MARGIN, eyes_needed_px  # noqa: E402
from analysis.simulate import Recapture, inject, skin_mask, subject_mask  # noqa: E402

TEXTURE = ("texture_roughness", "line_density_pct")
SCOPES = ("overall", "forehead", "left_cheek", "right_cheek")
#: Frame resolutions, px per mm of skin (None: the photos as taken).
RESOLUTIONS = {"native": None, "1.5 px/mm": 1.5, "1.2 px/mm": 1.2}
SMOOTHING = {"x0.85": 0.85, "x0.7": 0.7}
RECAPTURE = Recapture(rotation_deg=3.0, scale=1.03, subject_light=1.03 ** 2, exposure=0.9, jpeg_quality=90)
MIN_COMPARABLE = 15
#: Shrunk copies aim this much above a resolution, so that landmark jitter keeps them on its side of the gate.
SHRINK_MARGIN = 1.02
#: The injection smooths everything finer than this many times the band's coarse scale.
INJECT_BAND_FACTOR = 3.0


def people(folder: pathlib.Path) -> list[tuple[str, str]]:
    with open(folder / "info.csv", newline="") as handle:
        return sorted((row["face_id"], row["face_eth"]) for row in csv.DictReader(handle))


def _load(path: pathlib.Path) -> np.ndarray:
    return decode(path.read_bytes()).rgb


def _shrink(rgb: np.ndarray, factor: float) -> np.ndarray:
    return rgb if factor >= 1.0 else cv2.resize(rgb, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)


def injection_sigma_px(iod_photo: float) -> float:
    """Where the injected smoothing starts, in the photo's pixels: past the texture band's coarse edge."""
    iod_frame = min(CANONICAL_IOD_PX, SCALE_MARGIN * iod_photo)
    return metrics.texture_band_px(iod_frame / metrics.MEAN_IPD_MM)[1] * iod_photo / iod_frame * INJECT_BAND_FACTOR


def _row(result: dict, **head) -> dict:
    verdict = result["region_verdict"]
    comparable = {"overall": result["alignment"]["comparable"], **{r: verdict[r]["comparable"] for r in SCOPES[1:]}}
    change = {"overall": result["change"], **result["region_change"]}
    base = {"overall": result["reference_metrics"], **result["reference_regions"]}
    return {**head, "px_per_mm": result["scale"]["px_per_mm"],
            "warnings": [w["message"] for w in result["quality"]["warnings"]],
            "scopes": {s: {"comparable": comparable[s], **{m: (change[s][m], base[s][m]) for m in TEXTURE}}
                       for s in SCOPES}}


def london_rows(folder: pathlib.Path, limit: int | None) -> list[dict]:
    rows = []
    for k, (pid, group) in enumerate(people(folder)[:limit]):
        neutral0, smiling0 = _load(folder / f"{pid}_neutral.jpg"), _load(folder / f"{pid}_smiling.jpg")
        try:  # the frame follows the smaller face of the pair
            iod0 = min(locate_face(x).face.inter_ocular_px for x in (neutral0, smiling0))
        except AnalysisError as exc:
            print(f"  {pid}: {exc.code}", file=sys.stderr)
            continue
        for label, px_per_mm in RESOLUTIONS.items():
            factor = 1.0 if px_per_mm is None else SHRINK_MARGIN * eyes_needed_px(px_per_mm) / iod0
            neutral, smiling = _shrink(neutral0, factor), _shrink(smiling0, factor)
            head = {"id": pid, "group": group, "half": k % 2, "resolution": label}
            # Below the gate the engine gives no texture: lift it to show what the gate keeps out.
            lifted = mock.patch.object(metrics, "MIN_TEXTURE_PX_PER_MM", 0.0) if label == "1.2 px/mm" \
                else nullcontext()
            try:
                with lifted:
                    base, smile = locate_face(neutral), locate_face(smiling)
                    rows.append(_row(analyse(smile, base), case="real", **head))
                    again = RECAPTURE.apply(neutral, subject_mask(base.face, neutral.shape[:2]))
                    rows.append(_row(analyse(again, base), case="recapture", **head))
                    weights = skin_mask(smile.face, smiling)
                    sigma = injection_sigma_px(smile.face.inter_ocular_px)
                    for case, f in SMOOTHING.items():
                        smoothed = inject(smiling, weights, texture_factor=f, texture_sigma_px=sigma)
                        rows.append(_row(analyse(smoothed, base), case=case, **head))
            except AnalysisError as exc:
                print(f"  {pid} {label}: {exc.code}", file=sys.stderr)
        print(f"  {pid} done", file=sys.stderr, flush=True)
    return rows


def _changes(rows, case, resolution, scope, metric, comparable_only, half=None, group=None):
    out = []
    for r in rows:
        if r["case"] != case or r["resolution"] != resolution or (half is not None and r["half"] != half) \
                or (group is not None and r["group"] != group):
            continue
        s = r["scopes"][scope]
        change, base = s[metric]
        if change is None or (comparable_only and not s["comparable"]):
            continue
        out.append((change, 100.0 * change / base if base else None))
    return out


def floor_of(rows, resolution, scope, metric, half) -> tuple[float | None, str]:
    """95th percentile of the real no-change |change| of one half's people, and what it rests on."""
    values = _changes(rows, "real", resolution, scope, metric, True, half)
    basis = "comparable"
    if len(values) < MIN_COMPARABLE:
        values, basis = _changes(rows, "real", resolution, scope, metric, False, half), "all"
    if len(values) < MIN_COMPARABLE:
        return None, "-"
    return float(np.percentile(np.abs([c for c, _ in values]), 95)), basis


def _p95(values, relative=False):
    picked = [v[1] if relative else v[0] for v in values if (v[1] if relative else v[0]) is not None]
    return float(np.percentile(np.abs(picked), 95)) if picked else float("nan")


def _rate(hits: list[bool]) -> str:
    return f"{sum(hits):>3}/{len(hits):<3} {100 * np.mean(hits):3.0f}%" if hits else "   -/0      "


def report(rows: list[dict], groups: list[str]) -> None:
    print("faces-london: texture and fine lines, neutral -> smiling (real) and a simulated re-capture\n")
    for resolution in RESOLUTIONS:
        px = [r["px_per_mm"] for r in rows if r["resolution"] == resolution and r["case"] == "real"]
        if not px:
            continue
        gate = " (gate lifted)" if resolution == "1.2 px/mm" else ""
        print(f"== frame {resolution}{gate}: {np.median(px):.2f} px/mm median "
              f"({min(px):.2f}-{max(px):.2f}), {len(px)} people ==")
        print(f"{'scope':<12}{'metric':<18}{'basis':<11}{'n':>4}{'p95 |d| real':>14}{'p95 %':>7}"
              f"{'p95 recapt':>11}{'false claims':>15}" + "".join(f"{'detected ' + c:>17}{'med %':>7}"
                                                           for c in SMOOTHING))
        for scope in SCOPES:
            for metric in TEXTURE:
                real_c = _changes(rows, "real", resolution, scope, metric, True)
                basis_all = len(real_c) < 2 * MIN_COMPARABLE
                if basis_all:
                    real_c = _changes(rows, "real", resolution, scope, metric, False)
                recap = _changes(rows, "recapture", resolution, scope, metric, False)
                false, detected = [], {c: [] for c in SMOOTHING}
                for half in (0, 1):
                    floor, basis = floor_of(rows, resolution, scope, metric, 1 - half)
                    if floor is None:
                        continue
                    held = _changes(rows, "real", resolution, scope, metric, basis == "comparable", half)
                    false += [abs(c) > floor for c, _ in held]
                    for case in SMOOTHING:
                        detected[case] += [c < -floor for c, _ in
                                           _changes(rows, case, resolution, scope, metric, basis == "comparable",
                                                    half)]
                medians = {case: np.median([p for _, p in _changes(rows, case, resolution, scope, metric, False)
                                            if p is not None] or [np.nan]) for case in SMOOTHING}
                print(f"{scope:<12}{metric:<18}{'all' if basis_all else 'comparable':<11}{len(real_c):>4}"
                      f"{_p95(real_c):>14.3f}{_p95(real_c, True):>7.1f}{_p95(recap):>11.3f}{_rate(false):>15}"
                      + "".join(f"{_rate(detected[c]):>17}{medians[c]:>+7.1f}" for c in SMOOTHING))
        print()
    print("Per skin-tone group, the photos as taken: forehead (comparable pairs) and cheeks (all pairs);\n"
          "floors from the other half's people, as above\n")
    print(f"{'group':<12}{'scope':<12}{'metric':<18}{'n':>4}{'p95 |d|':>9}{'p95 %':>7}{'false claims':>15}"
          + "".join(f"{'detected ' + c:>17}" for c in SMOOTHING))
    for group in groups:
        for scope in ("forehead", "left_cheek", "right_cheek"):
            for metric in TEXTURE:
                values, false, detected = [], [], {c: [] for c in SMOOTHING}
                for half in (0, 1):
                    floor, basis = floor_of(rows, "native", scope, metric, 1 - half)
                    if floor is None:
                        continue
                    only = basis == "comparable"
                    held = _changes(rows, "real", "native", scope, metric, only, half, group)
                    values += held
                    false += [abs(c) > floor for c, _ in held]
                    for case in SMOOTHING:
                        detected[case] += [c < -floor for c, _ in
                                           _changes(rows, case, "native", scope, metric, only, half, group)]
                if values:
                    print(f"{group:<12}{scope:<12}{metric:<18}{len(values):>4}{_p95(values):>9.3f}"
                          f"{_p95(values, True):>7.1f}{_rate(false):>15}"
                          + "".join(f"{_rate(detected[c]):>17}" for c in SMOOTHING))
    print()


def faces94_report(folder: pathlib.Path) -> None:
    """Each person's shots 2-4 against shot 1: how many get a texture value, and what the engine says."""
    measured, total, messages, px = 0, 0, set(), []
    for person in sorted(p for p in folder.iterdir() if p.is_dir()):
        shots = {int(p.name.split(".")[1]): p for p in person.glob("*.jpg")}
        try:
            base = locate_face(_load(shots[1]))
        except AnalysisError as exc:
            print(f"  {person.name}: {exc.code}", file=sys.stderr)
            continue
        for k in (2, 3, 4):
            try:
                r = analyse(_load(shots[k]), base)
            except AnalysisError as exc:
                print(f"  {person.name}.{k}: {exc.code}", file=sys.stderr)
                continue
            total += 1
            px.append(r["scale"]["px_per_mm"])
            measured += r["metrics"]["texture_roughness"] is not None
            messages |= {w["message"] for w in r["quality"]["warnings"] if w["code"] == "face_small"}
    print(f"faces94-dev: {measured} of {total} pairs got a texture value; frame {min(px):.2f}-{max(px):.2f} px/mm "
          f"(texture needs {metrics.MIN_TEXTURE_PX_PER_MM}); the engine says, e.g.:")
    for message in sorted(messages)[:3]:
        print(f"  {message}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--london", required=True, type=pathlib.Path)
    parser.add_argument("--faces94", type=pathlib.Path)
    parser.add_argument("--limit", type=int)
    args = parser.parse_args(argv)
    rows = london_rows(args.london, args.limit)
    groups = sorted({g for _, g in people(args.london)})
    report(rows, groups)
    if args.faces94:
        faces94_report(args.faces94)


if __name__ == "__main__":
    main()
