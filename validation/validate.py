"""Validate the analysis on real photographs with known, simulated changes.

    python validation/validate.py [--faces DIR] [--recaptures N] [--limit N]

For every portrait (scikit-image's public-domain astronaut, plus every JPEG in
``--faces DIR`` if given) it makes nuisance-only re-captures and re-captures
with an injected skin change (``analysis.simulate``), analyses each against
the original as baseline, and prints one table against the targets:

* nuisance only: median |change| of redness_a_star < 0.3, brightness_l_star
  < 0.5, texture_roughness < 5 %; median alignment residual < 1 % of the
  inter-ocular distance (reported residual and true error, which the
  simulation knows);
* injected a* -2, L* +3 and fine texture x0.7 (-30 %): recovered within 15 %
  with the right sign.

It also prints the 95th percentile of |change| over nuisance pairs, the
repeatability floor of ``analysis.noise.NOISE_FLOOR``.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

import numpy as np
from skimage import data

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from analysis import AnalysisError, analyse, decode, locate_face  # noqa: E402
from analysis.align import apply, compose  # noqa: E402
from analysis.metrics import MEAN_IPD_MM, METRICS, texture_band_px  # noqa: E402
from analysis.pipeline import CANONICAL_IOD_PX, SCALE_MARGIN  # noqa: E402
from analysis.pose import head_pose  # noqa: E402
from analysis.simulate import Recapture, inject, skin_mask  # noqa: E402

INJECTIONS = {
    "a* -2": ({"delta_a": -2.0}, "redness_a_star", -2.0, False),
    "L* +3": ({"delta_l": 3.0}, "brightness_l_star", 3.0, False),
    "texture x0.7": ({"texture_factor": 0.7}, "texture_roughness", -30.0, True),
}


def portraits(faces_dir: str | None, limit: int | None):
    yield "astronaut", data.astronaut()
    if faces_dir:
        paths = sorted(pathlib.Path(faces_dir).glob("*.jpg"))[:limit]
        for path in paths:
            yield path.stem, decode(path.read_bytes()).rgb


def true_error_pct(result: dict, truth: np.ndarray, baseline_points: np.ndarray, iod: float) -> float:
    """Mean distance, in % IOD, between baseline landmarks and their round trip through truth and estimate."""
    estimate = np.asarray(result["alignment"]["matrix"])
    round_trip = apply(compose(estimate, truth), baseline_points)
    return float(100 * np.linalg.norm(round_trip - baseline_points, axis=1).mean() / iod)


#: The injection scales everything finer than this many times the band's coarse
#: edge, so the whole band shrinks by the same factor.
INJECT_BAND_FACTOR = 3.0


def texture_sigma_px(iod_photo: float) -> float:
    """Where the texture injection's smoothing starts, in the photo's pixels."""
    iod_frame = min(CANONICAL_IOD_PX, SCALE_MARGIN * iod_photo)
    return texture_band_px(iod_frame / MEAN_IPD_MM)[1] * iod_photo / iod_frame * INJECT_BAND_FACTOR


def run(faces_dir, n_recaptures, limit, seed=0):
    rng = np.random.default_rng(seed)
    rows = {"nuisance": [], **{k: [] for k in INJECTIONS}}
    skipped, pitches = [], []
    for name, rgb in portraits(faces_dir, limit):
        try:
            base = locate_face(rgb)
        except AnalysisError as exc:
            skipped.append(f"{name}: {exc.code}")
            continue
        pitches.append(head_pose(base.face.points).pitch_deg)
        iod = base.face.inter_ocular_px
        pts = base.face.xy[:468]
        weights = skin_mask(base.face, rgb)
        for _ in range(n_recaptures):
            cond = Recapture.random(rng, rgb.shape[:2])
            try:
                r = analyse(cond.apply(rgb), base)
            except AnalysisError as exc:
                skipped.append(f"{name} re-capture: {exc.code}")
                continue
            rows["nuisance"].append({
                "change": r["change"], "change_pct": r["change_pct"], "comparable": r["alignment"]["comparable"],
                "residual": r["alignment"]["residual_iod_pct"], "reasons": r["alignment"]["reasons"],
                "true_error": true_error_pct(r, cond.matrix(rgb.shape[:2]), pts, iod),
            })
        for label, (kwargs, metric, expected, relative) in INJECTIONS.items():
            changed = inject(rgb, weights, texture_sigma_px=texture_sigma_px(iod), **kwargs)
            cond = Recapture.random(rng, rgb.shape[:2])
            try:
                r = analyse(cond.apply(changed), base)
            except AnalysisError as exc:
                skipped.append(f"{name} {label}: {exc.code}")
                continue
            got = r["change_pct" if relative else "change"][metric]
            rows[label].append({"got": got, "expected": expected, "beyond_noise": r["beyond_noise"][metric]})
    return rows, skipped, pitches


def report(rows, skipped, pitches):
    nuis = rows["nuisance"]
    med = lambda key, m: float(np.median([abs(r[key][m]) for r in nuis if r[key][m] is not None]))  # noqa: E731
    lines = [("check", "measured", "target", "pass")]
    for metric, key, target, unit in [("redness_a_star", "change", 0.3, ""), ("brightness_l_star", "change", 0.5, ""),
                                      ("texture_roughness", "change_pct", 5.0, " %")]:
        value = med(key, metric)
        lines.append((f"nuisance median |d {metric}|{unit}", f"{value:.3f}", f"< {target}", value < target))
    for key, label in [("residual", "reported alignment residual, % IOD"), ("true_error", "true alignment error, % IOD")]:
        value = float(np.median([r[key] for r in nuis]))
        lines.append((f"nuisance median {label}", f"{value:.3f}", "< 1.0", value < 1.0))
    comparable = float(np.mean([r["comparable"] for r in nuis]))
    lines.append(("nuisance pairs judged comparable", f"{comparable:.1%}", "high", None))
    for label in INJECTIONS:
        got = np.array([r["got"] for r in rows[label] if r["got"] is not None])
        expected = rows[label][0]["expected"]
        within = np.abs(got - expected) <= 0.15 * abs(expected)
        lines.append((f"injected {label}: median recovered", f"{np.median(got):+.3f}",
                      f"{expected:+.2f} +-15%", bool(abs(np.median(got) - expected) <= 0.15 * abs(expected))))
        lines.append((f"injected {label}: pairs within 15%", f"{within.mean():.1%}", "", None))
        lines.append((f"injected {label}: pairs beyond noise", f"{np.mean([bool(r['beyond_noise']) for r in rows[label]]):.1%}", "", None))
    width = max(len(r[0]) for r in lines)
    print(f"pairs: {len(nuis)} nuisance, " + ", ".join(f"{len(rows[k])} {k}" for k in INJECTIONS))
    for check, measured, target, ok in lines:
        mark = "" if ok is None else ("PASS" if ok else "FAIL")
        print(f"{check:<{width}}  {measured:>10}  {target:>12}  {mark}")
    print("\nrepeatability floor (95th percentile |change|, nuisance only), for analysis.noise.NOISE_FLOOR:")
    for m in METRICS:
        vals = [abs(r["change"][m]) for r in nuis if r["change"][m] is not None]
        print(f"  {m:<20} {np.percentile(vals, 95):.3f}")
    print(f"\nmedian raw pitch of the baselines (calibrates analysis.pose): {np.median(pitches):+.2f} deg")
    reasons = {}
    for r in nuis:
        for reason in r["reasons"]:
            key = reason.split(":")[0][:60]
            reasons[key] = reasons.get(key, 0) + 1
    if reasons:
        print("\nwhy nuisance pairs were judged not comparable:")
        for key, n in sorted(reasons.items(), key=lambda kv: -kv[1]):
            print(f"  {n:4d}  {key}")
    if skipped:
        print(f"\nskipped {len(skipped)}: " + "; ".join(skipped[:10]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", help="folder of extra portrait JPEGs (e.g. ../shared/faces-dev)")
    parser.add_argument("--recaptures", type=int, default=8)
    parser.add_argument("--limit", type=int, help="use at most this many photos from --faces")
    args = parser.parse_args(argv)
    report(*run(args.faces, args.recaptures, args.limit))


if __name__ == "__main__":
    main()
