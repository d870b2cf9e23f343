"""Validation on real re-captures: faces-london (53 people, neutral then smiling, one studio session).

    python validation/validate.py --real ../shared/faces-london [--faces ../shared/faces-dev]

Nothing about the skin changed between a person's two shots, so every change
the analysis reports between them is measurement noise. This module

1. analyses every neutral -> smiling pair at the photos' own resolution
   (the ``clinic`` tier of :mod:`analysis.noise`) and shrunk to eyes about
   45 px apart (the ``small`` tier), with floors of zero
   (:func:`zero_floors`) so that each bound is the pair's own tile-to-tile part;
2. calibrates the floors: per tier, scope (overall and each region) and
   metric, the prediction bound of a new pair's change (:data:`PREDICTION_LEVEL`,
   :func:`analysis.calibration.prediction_bound`) from the pairs in which that
   scope is comparable (from all pairs where fewer than
   :data:`MIN_CALIBRATION` are, which only makes the floor larger), prints
   them and, with ``--write-floors``, writes them as the engine's shipped
   floors, ``analysis/data/floors.json`` (:func:`shipped_floors`), with n and
   leave-one-out coverage;
3. reports, with each pair's floor calibrated on the *other* pairs
   (leave-one-out, so no pair vouches for itself): how often each scope is
   comparable, median and 95th-percentile |change|, the false claims
   (comparable pairs declared beyond their bound: every one is false) and
   the bound's coverage, overall and per skin-tone group;
4. analyses different-person pairs (each person against the next, in
   faces-london and, with ``--faces``, faces-dev), which must almost never
   be judged comparable;
5. injects a* -2 and L* +3 into the skin of each real face, re-captures it
   with nuisance (rotation up to 6 degrees, distance 0.9-1.1, exposure
   0.85-1.15, white balance, JPEG 80-95), and reports the accuracy and the
   power: how often the change is judged comparable and beyond noise.
"""

from __future__ import annotations

import csv
import datetime
import pathlib
from collections import Counter

import cv2
import numpy as np

from analysis import AnalysisError, __version__, analyse, decode, locate_face
from analysis.calibration import TIERS, Floor, Floors, NoFloor, loo_coverage, prediction_bound
from analysis.metrics import METRICS
from analysis.regions import REGIONS
from analysis.simulate import Recapture, inject, skin_mask, subject_mask

SCOPES = ("overall",) + REGIONS
SHOWN = ("redness_a_star", "brightness_l_star", "evenness_l_std", "erythema_index")
MIN_CALIBRATION = 20
SMALL_IOD_PX = 45.0
GROUPS = ("white", "black", "east_asian", "west_asian", "mixed")
INJECTED = {"a* -2": ({"delta_a": -2.0}, "redness_a_star", -2.0), "L* +3": ({"delta_l": 3.0}, "brightness_l_star", 3.0)}


def people(folder: pathlib.Path) -> list[tuple[str, str]]:
    """(id, skin-tone group) of every person in faces-london, by id."""
    with open(folder / "info.csv", newline="") as handle:
        return sorted((row["face_id"], row["face_eth"]) for row in csv.DictReader(handle))


def zero_floors() -> Floors:
    """Floors of zero for every tier, scope and metric: each bound is then the pair's own tile-to-tile part."""
    return Floors(tuple(Floor(tier, scope, m, 0.0, None, None, __version__, "zero: the tiles' part only")
                        for tier in TIERS for scope in SCOPES for m in METRICS))


def _load(path: pathlib.Path) -> np.ndarray:
    return decode(path.read_bytes()).rgb


def _pair_row(result: dict, group: str) -> dict:
    verdict = result["region_verdict"]
    return {
        "group": group,
        "comparable": {"overall": result["alignment"]["comparable"],
                       **{r: verdict[r]["comparable"] for r in REGIONS}},
        "codes": sorted({r["code"] for r in result["alignment"]["reasons"]}),
        "change": {"overall": result["change"], **result["region_change"]},
        "local": {"overall": result["noise"], **result["region_noise"]},
        "residual": result["alignment"]["residual_iod_pct"],
        "distance_ratio": result["normalisation"].get("distance_ratio"),
    }


def same_person_rows(folder: pathlib.Path, small: bool, floors: Floors | None = None) -> list[dict]:
    """Each person's smiling shot analysed against their neutral one (both shrunk alike if ``small``)."""
    rows = []
    for pid, group in people(folder):
        neutral, smiling = _load(folder / f"{pid}_neutral.jpg"), _load(folder / f"{pid}_smiling.jpg")
        try:
            base = locate_face(neutral)
            if small:
                s = SMALL_IOD_PX / base.face.inter_ocular_px
                neutral, smiling = (cv2.resize(x, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
                                    for x in (neutral, smiling))
                base = locate_face(neutral)
            rows.append({"id": pid, **_pair_row(analyse(smiling, base, floors=floors), group)})
        except AnalysisError as exc:
            rows.append({"id": pid, "group": group, "error": exc.code})
    return rows


def different_person_rows(paths: list[pathlib.Path], groups: list[str], floors: Floors | None = None) -> list[dict]:
    """Each photo analysed against the next one's as if it were that person's baseline."""
    rows = []
    for (a, ga), (b, _) in zip(zip(paths, groups), list(zip(paths, groups))[1:]):
        try:
            result = analyse(_load(a), _load(b), floors=floors)
        except AnalysisError as exc:
            rows.append({"group": ga, "error": exc.code})
            continue
        rows.append({"pair": f"{a.stem}->{b.stem}", **_pair_row(result, ga)})
    return rows


def injected_rows(folder: pathlib.Path, floors: Floors | None = None, seed: int = 0) -> list[dict]:
    """Known changes in real skin, re-captured with nuisance, against the untouched photo."""
    rng = np.random.default_rng(seed)
    rows = []
    for pid, group in people(folder):
        rgb = _load(folder / f"{pid}_neutral.jpg")
        base = locate_face(rgb)
        weights, subject = skin_mask(base.face, rgb), subject_mask(base.face, rgb.shape[:2])
        cases = [("nuisance", rgb, None)] + [
            (label, inject(rgb, weights, seed=seed, **kwargs), (metric, expected))
            for label, (kwargs, metric, expected) in INJECTED.items()]
        for label, image, truth in cases:
            scale = float(rng.uniform(0.9, 1.1))
            cond = Recapture(rotation_deg=float(rng.uniform(-6, 6)), scale=scale, subject_light=scale ** 2,
                             exposure=float(rng.uniform(0.85, 1.15)),
                             white_balance=tuple(float(g) for g in rng.uniform(0.95, 1.05, 3)),
                             jpeg_quality=int(rng.integers(80, 96)))
            try:
                result = analyse(cond.apply(image, subject), base, floors=floors)
            except AnalysisError as exc:
                rows.append({"case": label, "group": group, "error": exc.code})
                continue
            rows.append({"case": label, "truth": truth, **_pair_row(result, group)})
    return rows


# --- calibration and scoring -----------------------------------------------------

def _values(rows, scope, metric, comparable_only=True):
    return [(i, abs(r["change"][scope][metric])) for i, r in enumerate(rows)
            if "error" not in r and r["change"][scope][metric] is not None
            and (r["comparable"][scope] or not comparable_only)]


#: Two-sided level of the prediction bound, by what the floor is calibrated on. On comparable pairs
#: (the forehead), 95 % let 6-9 % of no-change pairs through leave-one-out for redness and erythema
#: (real changes have heavier tails than a normal law), 97.5 % 3 %. Scopes calibrated on all pairs,
#: smiles included, already hold changes the expression verdict keeps out, so 95 % leaves the margin;
#: 97.5 % there would cost the whole face's power to see a* -2 (94 % of injected pairs at 95 %).
PREDICTION_LEVEL = {"comparable": 0.975, "all": 0.95}


def _calibration_values(rows: list[dict], scope: str, metric: str) -> tuple[str, list[float]]:
    """The basis ("comparable", "all", or "-" for too few pairs) and the |changes| a floor is fitted on."""
    values = _values(rows, scope, metric)
    basis = "comparable"
    if len(values) < MIN_CALIBRATION:
        values, basis = _values(rows, scope, metric, comparable_only=False), "all"
    return (basis if len(values) >= MIN_CALIBRATION else "-"), [v for _, v in values]


def calibrate(rows: list[dict]) -> tuple[dict, dict]:
    """Floors (:func:`prediction_bound`) per scope and metric, and whether each used comparable pairs only."""
    floors, basis = {}, {}
    for scope in SCOPES:
        floors[scope], basis[scope] = {}, {}
        for m in METRICS:
            basis[scope][m], values = _calibration_values(rows, scope, m)
            floors[scope][m] = (prediction_bound(values, PREDICTION_LEVEL[basis[scope][m]])
                                if basis[scope][m] != "-" else None)
    return floors, basis


BASIS = {"comparable": "faces-london neutral -> smiling, the pairs in which the scope was judged comparable, "
                       "97.5 % prediction bound",
         "all": f"faces-london neutral -> smiling, all pairs (fewer than {MIN_CALIBRATION} comparable; smiles "
                "included, which only makes the floor larger), 95 % prediction bound"}


def shipped_floors(same: dict[str, list[dict]]) -> Floors:
    """The floors of every tier (rows of :func:`same_person_rows` by tier) as the engine ships them, with n
    and leave-one-out coverage (:func:`analysis.calibration.loo_coverage`)."""
    floors, missing = [], []
    for tier, rows in same.items():
        for scope in SCOPES:
            for m in METRICS:
                basis, values = _calibration_values(rows, scope, m)
                if basis == "-":
                    missing.append(NoFloor(tier, scope, m, len(values), f"fewer than {MIN_CALIBRATION} "
                                                                        "faces-london pairs measured it"))
                    continue
                level = PREDICTION_LEVEL[basis]
                floors.append(Floor(tier, scope, m, round(prediction_bound(values, level), 3), len(values),
                                    loo_coverage(values, level), __version__, BASIS[basis]))
    return Floors(tuple(floors), tuple(missing), {
        "engine_version": __version__, "date": datetime.date.today().isoformat(),
        "source": "validation/validate.py --real on faces-london (53 people, each photographed neutral then "
                  "smiling in one studio session)",
        "level": {"comparable pairs": PREDICTION_LEVEL["comparable"], "all pairs": PREDICTION_LEVEL["all"]}})


def leave_one_out(rows: list[dict], scope: str, metric: str,
                  comparable_only: bool = True) -> list[tuple[dict, float, float]]:
    """For every comparable pair: (row, |change|, bound with the floor calibrated on the other pairs)."""
    comparable = _values(rows, scope, metric, comparable_only)
    basis = "comparable" if comparable_only and len(comparable) >= MIN_CALIBRATION else "all"
    pool = comparable if basis == "comparable" else _values(rows, scope, metric, False)
    out = []
    for i, value in comparable:
        others = [v for j, v in pool if j != i]
        if len(others) < MIN_CALIBRATION - 1:
            continue
        local = rows[i]["local"][scope][metric]
        if local is None:
            continue
        out.append((rows[i], value, float(np.hypot(prediction_bound(others, PREDICTION_LEVEL[basis]), local))))
    return out


def _pct(x) -> str:
    return f"{100 * np.mean(x):.0f} %" if len(x) else "n/a"


def report_same_person(rows: list[dict], tier: str) -> None:
    ok = [r for r in rows if "error" not in r]
    print(f"\nREAL RE-CAPTURES, {tier} tier: faces-london neutral -> smiling, {len(ok)} pairs "
          f"({len(rows) - len(ok)} failed: {Counter(r['error'] for r in rows if 'error' in r) or 'none'})")
    print("Floors calibrated leave-one-out: each pair's bound uses a floor from the other pairs.")
    head = f"{'scope':<12} {'metric':<18} {'group':<11} {'n':>3} {'comparable':>10} {'med|d|':>7} " \
           f"{'p95|d|':>7} {'false claims':>12} {'coverage':>9}"
    print(head)
    for scope in SCOPES:
        for m in SHOWN:
            scored = leave_one_out(rows, scope, m)
            for group in ("all",) + GROUPS:
                members = [r for r in ok if group in ("all", r["group"])]
                if not members:
                    continue
                mine = [(v, b) for r, v, b in scored if group in ("all", r["group"])]
                comparable = [r["comparable"][scope] for r in members]
                values = [v for v, _ in mine]
                print(f"{scope:<12} {m:<18} {group:<11} {len(members):>3} {_pct(comparable):>10} "
                      f"{(np.median(values) if values else float('nan')):>7.2f} "
                      f"{(np.percentile(values, 95) if values else float('nan')):>7.2f} "
                      f"{_pct([v > b for v, b in mine]):>12} {_pct([v <= b for v, b in mine]):>9}")
    print("Whole face, if every pair were taken as comparable (ignoring the expression and other verdicts):")
    for m in SHOWN:
        scored = leave_one_out(rows, "overall", m, comparable_only=False)
        print(f"    {m:<18} n={len(scored):>3} false claims {_pct([v > b for _, v, b in scored])}, "
              f"coverage {_pct([v <= b for _, v, b in scored])}")
    codes = Counter(c for r in ok for c in r["codes"])
    print("why pairs were not comparable overall (count): " + ", ".join(f"{c} {n}" for c, n in codes.most_common()))


def write_floors(path: pathlib.Path, floors: Floors) -> None:
    """Write the floors as the engine's data file (``analysis/data/floors.json``)."""
    path.write_text(floors.to_json(), encoding="utf-8")


def report_floors(floors: dict, basis: dict) -> None:
    print("\nFLOORS (prediction bound of |change|, 97.5 % on comparable pairs; 'all' = fewer than "
          f"{MIN_CALIBRATION} comparable pairs, calibrated on every pair at 95 %; '-' = no floor):")
    for tier, per_scope in floors.items():
        print(f"  {tier:<12}" + "".join(f"{m[:12]:>13}" for m in METRICS))
        for scope, values in per_scope.items():
            print(f"  {scope:<12}" + "".join(f"{'-' if v is None else f'{v:.3f}':>8} {basis[tier][scope][m][:4]:<4}"
                                             for m, v in values.items()))


def report_different(rows: list[dict], label: str) -> None:
    ok = [r for r in rows if "error" not in r]
    any_region = [any(r["comparable"][s] for s in REGIONS) for r in ok]
    print(f"\nDIFFERENT PEOPLE, {label}: {len(ok)} pairs analysed ({len(rows) - len(ok)} failed); judged "
          f"comparable {_pct([r['comparable']['overall'] for r in ok])} overall, "
          f"{_pct(any_region)} with at least one comparable region (target <= 2 %)")
    for group in GROUPS:
        members = [r for r in ok if r["group"] == group]
        if members:
            overall = _pct([r["comparable"]["overall"] for r in members])
            print(f"    {group:<11} n={len(members):>3} comparable {overall}"
                  f", any region {_pct([any(r['comparable'][s] for s in REGIONS) for r in members])}")
    codes = Counter(c for r in ok for c in r["codes"])
    print("    reasons (count): " + ", ".join(f"{c} {n}" for c, n in codes.most_common()))


def report_injected(rows: list[dict], floors: dict) -> None:
    print("\nINJECTED INTO REAL SKIN, with nuisance (rotation <= 6 deg, distance 0.9-1.1, exposure 0.85-1.15, "
          "white balance +-5 %, JPEG 80-95), bounds with the calibrated clinic floors:")
    print(f"{'case':<10} {'group':<11} {'n':>3} {'comparable':>10} {'median':>8} {'within 10 %':>11} "
          f"{'beyond noise':>12} {'med|da*|':>8} {'med|dL*|':>8}")
    for label in ("nuisance",) + tuple(INJECTED):
        for group in ("all",) + GROUPS:
            members = [r for r in rows if r["case"] == label and "error" not in r and group in ("all", r["group"])]
            if not members:
                continue
            comparable = [r["comparable"]["overall"] for r in members]
            if label == "nuisance":
                da = [abs(r["change"]["overall"]["redness_a_star"]) for r in members]
                dl = [abs(r["change"]["overall"]["brightness_l_star"]) for r in members]
                print(f"{label:<10} {group:<11} {len(members):>3} {_pct(comparable):>10} {'':>8} {'':>11} {'':>12} "
                      f"{np.median(da):>8.3f} {np.median(dl):>8.3f}")
                continue
            metric, expected = members[0]["truth"]
            got = np.array([r["change"]["overall"][metric] for r in members])
            bounds = np.array([np.hypot(floors["overall"][metric], r["local"]["overall"][metric] or 0.0)
                               for r in members])
            power = [c and abs(g) > b for c, g, b in zip(comparable, got, bounds)]
            print(f"{label:<10} {group:<11} {len(members):>3} {_pct(comparable):>10} {np.median(got):>+8.2f} "
                  f"{_pct(np.abs(got - expected) <= 0.1 * abs(expected)):>11} {_pct(power):>12}")


# --- landmarks against the hand-placed points --------------------------------------

IRIS_CENTRES = (468, 473)  # the face mesh's iris centres (refine_landmarks=True)


def hand_pupils(tem: pathlib.Path) -> np.ndarray:
    """The two pupils of a faces-london ``.tem`` file (its points 0 and 1), in pixels."""
    lines = tem.read_text().split("\n")
    return np.array([[float(v) for v in lines[1 + i].split()[:2]] for i in (0, 1)])


def report_landmarks(folder: pathlib.Path, same_rows: list[dict]) -> None:
    """Pupil error of the mesh against the hand-placed pupils, and the alignment residual on real pairs."""
    errors = []
    for pid, group in people(folder):
        face = locate_face(_load(folder / f"{pid}_neutral.jpg")).face
        hand = hand_pupils(folder / f"{pid}_neutral.tem")
        mesh = face.xy[list(IRIS_CENTRES)]
        if np.linalg.norm(mesh[0] - hand[0]) > np.linalg.norm(mesh[0] - hand[1]):
            hand = hand[::-1]
        iod = np.linalg.norm(hand[1] - hand[0])
        errors.append((group, 100 * np.linalg.norm(mesh - hand, axis=1).mean() / iod))
    residual = [r["residual"] for r in same_rows if "error" not in r]
    values = [e for _, e in errors]
    print(f"\nLANDMARKS: mesh iris centre vs hand-placed pupil, mean of both eyes, % of the hand IOD: "
          f"median {np.median(values):.2f}, 95th percentile {np.percentile(values, 95):.2f} (n={len(errors)})")
    for group in GROUPS:
        mine = [e for g, e in errors if g == group]
        if mine:
            print(f"    {group:<11} n={len(mine):>3} median {np.median(mine):.2f}")
    print(f"ALIGNMENT on the real pairs: median residual {np.median(residual):.2f} % of the eye distance "
          f"(target <= 3.5), 95th percentile {np.percentile(residual, 95):.2f}")
