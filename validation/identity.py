"""Measure the identity verdict (``analysis.identity``) on real pairs of photos.

    python validation/identity.py [--london DIR] [--dev DIR] [--seed N]

Same-person pairs (the verdict should say "same"):

* faces-london, each person's neutral photo against their smiling one, taken
  in one studio session (53 pairs);
* the same, with the smiling photo re-captured under simulated nuisance
  (``analysis.simulate.Recapture.random``: rotation, scale, shift, exposure,
  white balance, JPEG), two draws per person;
* faces-dev (150 official portraits, one per person, eyes about 45 px
  apart): each portrait against a simulated re-capture of itself, the only
  same-person pair that set allows.

Different-person pairs (the verdict should say "different"):

* faces-london, each person against the next by id, neutral to neutral and
  neutral to the next one's smiling photo (106 pairs), and all photo pairs of
  two different people (5512);
* faces-dev, each portrait against the next (150) and all pairs (11175).

Face size: faces-london photos downscaled so that the eyes are a given
distance apart (landmarks found again on the small photo), the neutral photo
at full size against the small smiling photo (same person) or against the
next person's small neutral photo (different people).

Landmarks come from ``analysis.locate_face`` on each photo as a user would
upload it; a photo where no single face is found is counted, not used.
Prints distance distributions, the trade-off at several thresholds, and the
shares accepted at ``SAME_PERSON_THRESHOLD`` overall and per skin-tone group
(faces-london ``info.csv``).
"""

from __future__ import annotations

import argparse
import csv
import itertools
import pathlib
import sys

import cv2
import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis import AnalysisError, decode, locate_face  # noqa: E402
from analysis.identity import MIN_INTER_OCULAR_PX, SAME_PERSON_THRESHOLD, face_descriptor  # noqa: E402
from analysis.simulate import Recapture  # noqa: E402

THRESHOLDS = (0.34, 0.38, 0.40, 0.42, 0.45, 0.50, 0.55, 0.60)
EYE_DISTANCES = (15, 20, 25, 30, 35, 45, 60)
GROUPS = {"white": "white", "black": "black", "east_asian": "east asian", "west_asian": "west asian",
          "east_asian/white": "mixed"}


def shared_folder(name: str) -> pathlib.Path | None:
    """``shared/<name>`` in the nearest folder above the repository that has one."""
    for parent in ROOT.parents:
        if (parent / "shared" / name).is_dir():
            return parent / "shared" / name
    return None


def describe(rgb: np.ndarray):
    """The descriptor of the photo's subject, or None when no single face is found."""
    try:
        photo = locate_face(rgb)
    except AnalysisError:
        return None
    return face_descriptor(photo.rgb, photo.face)


def distance(a, b) -> float:
    return float(np.linalg.norm(a.vector - b.vector))


def downscaled(rgb: np.ndarray, iod: float, target: float) -> np.ndarray:
    return cv2.resize(rgb, None, fx=target / iod, fy=target / iod, interpolation=cv2.INTER_AREA)


def summary_row(name: str, d: np.ndarray) -> str:
    if d.size == 0:
        return f"{name:<44}{0:>6}"
    p = np.percentile(d, [0, 1, 5, 50, 95, 99, 100])
    return f"{name:<44}{d.size:>6}" + "".join(f"{v:>7.3f}" for v in p)


def print_distributions(sets: dict) -> None:
    print(f"{'pairs':<44}{'n':>6}" + "".join(f"{h:>7}" for h in ("min", "p1", "p5", "median", "p95", "p99", "max")))
    for name, (_, d) in sets.items():
        print(summary_row(name, d))


def print_tradeoff(sets: dict) -> None:
    print(f"{'pairs':<44}" + "".join(f"{t:>8.2f}" for t in THRESHOLDS))
    for name, (same, d) in sets.items():
        label = f"{name} ({'same' if same else 'diff'})"
        print(f"{label:<44}" + "".join(f"{np.mean(d < t):>8.1%}" for t in THRESHOLDS))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--london", type=pathlib.Path, default=shared_folder("faces-london"))
    parser.add_argument("--dev", type=pathlib.Path, default=shared_folder("faces-dev"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.london is None or args.dev is None:
        parser.error("give --london and --dev (folders of the shared face photos)")
    rng = np.random.default_rng(args.seed)

    groups = {row["face_id"]: GROUPS[row["face_eth"]] for row in csv.DictReader(open(args.london / "info.csv"))}
    ids = sorted(groups)
    photos, desc, iods = {}, {}, {}
    for pid in ids:
        for expr in ("neutral", "smiling"):
            rgb = decode((args.london / f"{pid}_{expr}.jpg").read_bytes()).rgb
            photos[pid, expr] = rgb
            photo = locate_face(rgb)
            iods[pid, expr] = photo.face.inter_ocular_px
            desc[pid, expr] = face_descriptor(photo.rgb, photo.face)
    failures = {}

    same_plain = {pid: distance(desc[pid, "neutral"], desc[pid, "smiling"]) for pid in ids}
    same_nuisance = {}
    for pid in ids:
        for k in range(2):
            rgb = photos[pid, "smiling"]
            other = describe(Recapture.random(rng, rgb.shape[:2]).apply(rgb))
            if other is None:
                failures["london nuisance"] = failures.get("london nuisance", 0) + 1
                continue
            same_nuisance[pid, k] = distance(desc[pid, "neutral"], other)
    following = dict(zip(ids, ids[1:] + ids[:1]))
    next_pairs = {(pid, expr): distance(desc[pid, "neutral"], desc[following[pid], expr])
                  for pid in ids for expr in ("neutral", "smiling")}
    all_pairs = {(a, ea, b, eb): distance(desc[a, ea], desc[b, eb])
                 for a, b in itertools.combinations(ids, 2)
                 for ea in ("neutral", "smiling") for eb in ("neutral", "smiling")}

    dev_files = sorted(args.dev.glob("*.jpg"))
    dev, dev_iod, dev_same = {}, [], []
    for path in dev_files:
        rgb = decode(path.read_bytes()).rgb
        try:
            photo = locate_face(rgb)
        except AnalysisError:
            failures["faces-dev"] = failures.get("faces-dev", 0) + 1
            continue
        dev[path.name] = face_descriptor(photo.rgb, photo.face)
        dev_iod.append(photo.face.inter_ocular_px)
        other = describe(Recapture.random(rng, rgb.shape[:2]).apply(rgb))
        if other is None:
            failures["faces-dev nuisance"] = failures.get("faces-dev nuisance", 0) + 1
        else:
            dev_same.append(distance(dev[path.name], other))
    names = sorted(dev)
    dev_next = [distance(dev[a], dev[b]) for a, b in zip(names, names[1:] + names[:1])]
    dev_all = [distance(dev[a], dev[b]) for a, b in itertools.combinations(names, 2)]

    arr = lambda values: np.array(list(values), dtype=float)  # noqa: E731
    sets = {
        "london neutral vs smiling": (True, arr(same_plain.values())),
        "london neutral vs smiling + nuisance": (True, arr(same_nuisance.values())),
        "dev portrait vs its re-capture": (True, arr(dev_same)),
        "london next person, neutral->neutral": (False, arr(v for (p, e), v in next_pairs.items() if e == "neutral")),
        "london next person, neutral->smiling": (False, arr(v for (p, e), v in next_pairs.items() if e == "smiling")),
        "london all cross-person photo pairs": (False, arr(all_pairs.values())),
        "dev next portrait": (False, arr(dev_next)),
        "dev all portrait pairs": (False, arr(dev_all)),
    }
    london_iod = arr(iods.values())
    print(f"faces-london: {len(ids)} people, eyes {london_iod.min():.0f}-{london_iod.max():.0f} px apart; "
          f"faces-dev: {len(dev)} of {len(dev_files)} portraits with one face, eyes "
          f"{min(dev_iod):.0f}-{max(dev_iod):.0f} px (median {np.median(dev_iod):.0f}); nuisance seed {args.seed}")
    if failures:
        print("photos with no single face found (left out): " + ", ".join(f"{k} {v}" for k, v in failures.items()))
    print("\nDescriptor distance (Euclidean, 128-d dlib ResNet)\n")
    print_distributions(sets)
    print("\nShare of pairs accepted as the same person, by threshold (distance < threshold)\n")
    print_tradeoff(sets)

    t = SAME_PERSON_THRESHOLD
    print(f"\nAt SAME_PERSON_THRESHOLD = {t}, faces-london per skin-tone group: same person accepted "
          "(should be 100 %), different people accepted (should be 0)\n")
    print(f"{'group':<12}{'people':>7}" + "".join(f"{h:>20}" for h in (
        "same", "same + nuisance", "diff, next person", "diff, all pairs", "diff, within group")) + f"{'min diff dist':>15}")
    for group in ("all", *dict.fromkeys(GROUPS.values())):
        member = (lambda p: True) if group == "all" else (lambda p, g=group: groups[p] == g)
        same = arr(v for p, v in same_plain.items() if member(p))
        nuis = arr(v for (p, _), v in same_nuisance.items() if member(p))
        nxt = arr(v for (p, _), v in next_pairs.items() if member(p) or member(following[p]))
        cross = arr(v for (a, _, b, _), v in all_pairs.items() if member(a) or member(b))
        within = arr(v for (a, _, b, _), v in all_pairs.items() if member(a) and member(b))
        cells = [f"{np.mean(d < t):.1%} ({int(np.sum(d < t))}/{d.size})" if d.size else "-"
                 for d in (same, nuis, nxt, cross, within)]
        print(f"{group:<12}{same.size:>7}" + "".join(f"{c:>20}" for c in cells) + f"{cross.min():>15.3f}")

    print(f"\nFace size: faces-london downscaled to a given eye distance; accepted at {t} "
          f"(MIN_INTER_OCULAR_PX = {MIN_INTER_OCULAR_PX:.0f})\n")
    print(f"{'eyes px':>8}{'found':>8}{'same med':>10}{'same max':>10}{'same acc':>10}"
          f"{'diff min':>10}{'diff acc':>10}")
    for target in EYE_DISTANCES:
        same, diff, found = [], [], 0
        small = {}
        for pid in ids:
            for expr in ("neutral", "smiling"):
                small[pid, expr] = describe(downscaled(photos[pid, expr], iods[pid, expr], target))
                found += small[pid, expr] is not None
        for pid in ids:
            if small[pid, "smiling"] is not None:
                same.append(distance(desc[pid, "neutral"], small[pid, "smiling"]))
            if small[following[pid], "neutral"] is not None:
                diff.append(distance(desc[pid, "neutral"], small[following[pid], "neutral"]))
        same, diff = arr(same), arr(diff)
        print(f"{target:>8}{found:>5}/{2 * len(ids):<3}{np.median(same):>10.3f}{same.max():>10.3f}"
              f"{np.mean(same < t):>10.1%}{diff.min():>10.3f}{np.mean(diff < t):>10.1%}")


if __name__ == "__main__":
    main()
