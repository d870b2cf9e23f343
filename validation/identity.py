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
at full size against the same person's small smiling photo (same person) or
against every other person's small photos (different people, 5512 pairs).

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
EXPRESSIONS = ("neutral", "smiling")
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
        print(f"{label:<44}" + "".join(f"{np.mean(d < t):>8.2%}" for t in THRESHOLDS))


def as_array(values) -> np.ndarray:
    return np.array(list(values), dtype=float)


class London:
    """faces-london: each person's neutral and smiling photo, their descriptors and pair distances."""

    def __init__(self, folder: pathlib.Path, rng: np.random.Generator):
        self.groups = {row["face_id"]: GROUPS[row["face_eth"]]
                       for row in csv.DictReader(open(folder / "info.csv"))}
        self.ids = sorted(self.groups)
        self.following = dict(zip(self.ids, self.ids[1:] + self.ids[:1]))
        self.photos, self.desc, self.iods = {}, {}, {}
        for pid in self.ids:
            for expr in EXPRESSIONS:
                rgb = decode((folder / f"{pid}_{expr}.jpg").read_bytes()).rgb
                photo = locate_face(rgb)
                self.photos[pid, expr] = rgb
                self.iods[pid, expr] = photo.face.inter_ocular_px
                self.desc[pid, expr] = face_descriptor(photo.rgb, photo.face)
        self.same = {pid: distance(self.desc[pid, "neutral"], self.desc[pid, "smiling"]) for pid in self.ids}
        self.same_nuisance, self.failures = {}, 0
        for pid in self.ids:
            for k in range(2):
                rgb = self.photos[pid, "smiling"]
                other = describe(Recapture.random(rng, rgb.shape[:2]).apply(rgb))
                if other is None:
                    self.failures += 1
                else:
                    self.same_nuisance[pid, k] = distance(self.desc[pid, "neutral"], other)
        self.next_pairs = {(pid, expr): distance(self.desc[pid, "neutral"], self.desc[self.following[pid], expr])
                           for pid in self.ids for expr in EXPRESSIONS}
        self.all_pairs = {(a, ea, b, eb): distance(self.desc[a, ea], self.desc[b, eb])
                          for a, b in itertools.combinations(self.ids, 2) for ea in EXPRESSIONS for eb in EXPRESSIONS}


class Dev:
    """faces-dev: one portrait per person, each also against a simulated re-capture of itself."""

    def __init__(self, folder: pathlib.Path, rng: np.random.Generator):
        self.files = sorted(folder.glob("*.jpg"))
        self.desc, self.iods, self.same, self.failures = {}, [], [], 0
        for path in self.files:
            rgb = decode(path.read_bytes()).rgb
            self.desc[path.name] = describe(rgb)
            if self.desc[path.name] is None:
                self.failures += 1
                del self.desc[path.name]
                continue
            self.iods.append(self.desc[path.name].inter_ocular_px)
            other = describe(Recapture.random(rng, rgb.shape[:2]).apply(rgb))
            if other is None:
                self.failures += 1
            else:
                self.same.append(distance(self.desc[path.name], other))
        names = sorted(self.desc)
        self.next = [distance(self.desc[a], self.desc[b]) for a, b in zip(names, names[1:] + names[:1])]
        self.all = [distance(self.desc[a], self.desc[b]) for a, b in itertools.combinations(names, 2)]


def print_groups(london: London, t: float) -> None:
    print(f"\nAt SAME_PERSON_THRESHOLD = {t}, faces-london per skin-tone group: same person accepted "
          "(should be 100 %), different people accepted (should be 0);\na different-person pair counts "
          "for a group when either person is in it, 'within group' when both are\n")
    print(f"{'group':<12}{'people':>7}" + "".join(f"{h:>20}" for h in (
        "same", "same + nuisance", "diff, next person", "diff, all pairs", "diff, within group"))
        + f"{'min diff':>10}{'min within':>12}")
    for group in ("all", *dict.fromkeys(GROUPS.values())):
        member = (lambda p: True) if group == "all" else (lambda p, g=group: london.groups[p] == g)
        same = as_array(v for p, v in london.same.items() if member(p))
        if not same.size:
            continue
        nuis = as_array(v for (p, _), v in london.same_nuisance.items() if member(p))
        nxt = as_array(v for (p, _), v in london.next_pairs.items() if member(p) or member(london.following[p]))
        cross = as_array(v for (a, _, b, _), v in london.all_pairs.items() if member(a) or member(b))
        within = as_array(v for (a, _, b, _), v in london.all_pairs.items() if member(a) and member(b))
        cells = [f"{np.mean(d < t):.1%} ({int(np.sum(d < t))}/{d.size})" if d.size else "-"
                 for d in (same, nuis, nxt, cross, within)]
        print(f"{group:<12}{same.size:>7}" + "".join(f"{c:>20}" for c in cells) + f"{cross.min():>10.3f}"
              + (f"{within.min():>12.3f}" if within.size else f"{'-':>12}"))


def print_face_size(london: London, t: float) -> None:
    print(f"\nFace size: faces-london downscaled to a given eye distance; accepted at {t} "
          f"(MIN_INTER_OCULAR_PX = {MIN_INTER_OCULAR_PX:.0f})\n")
    print(f"{'eyes px':>8}{'found':>9}{'same med':>10}{'same max':>10}{'same acc':>10}"
          f"{'diff min':>10}{'diff acc':>10}")
    for target in EYE_DISTANCES:
        small = {key: describe(downscaled(london.photos[key], london.iods[key], target)) for key in london.photos}
        same = as_array(distance(london.desc[pid, "neutral"], small[pid, "smiling"])
                        for pid in london.ids if small[pid, "smiling"] is not None)
        diff = as_array(distance(london.desc[pid, "neutral"], small[other, expr])
                        for pid in london.ids for other in london.ids if other != pid
                        for expr in EXPRESSIONS if small[other, expr] is not None)
        found = sum(d is not None for d in small.values())
        print(f"{target:>8}{found:>5}/{len(small):<3}{np.median(same):>10.3f}{same.max():>10.3f}"
              f"{np.mean(same < t):>10.1%}{diff.min():>10.3f}{np.mean(diff < t):>10.1%}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--london", type=pathlib.Path, default=shared_folder("faces-london"))
    parser.add_argument("--dev", type=pathlib.Path, default=shared_folder("faces-dev"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.london is None or args.dev is None:
        parser.error("give --london and --dev (folders of the shared face photos)")
    rng = np.random.default_rng(args.seed)
    london, dev = London(args.london, rng), Dev(args.dev, rng)

    london_iod = as_array(london.iods.values())
    print(f"faces-london: {len(london.ids)} people, eyes {london_iod.min():.0f}-{london_iod.max():.0f} px apart; "
          f"faces-dev: {len(dev.desc)} of {len(dev.files)} portraits with one face, eyes "
          f"{min(dev.iods):.0f}-{max(dev.iods):.0f} px (median {np.median(dev.iods):.0f}); nuisance seed {args.seed}")
    if london.failures or dev.failures:
        print(f"photos with no single face found (left out): faces-london re-captures {london.failures}, "
              f"faces-dev portraits and re-captures {dev.failures}")
    sets = {
        "london neutral vs smiling": (True, as_array(london.same.values())),
        "london neutral vs smiling + nuisance": (True, as_array(london.same_nuisance.values())),
        "dev portrait vs its re-capture": (True, as_array(dev.same)),
        "london next person, neutral->neutral": (
            False, as_array(v for (_, e), v in london.next_pairs.items() if e == "neutral")),
        "london next person, neutral->smiling": (
            False, as_array(v for (_, e), v in london.next_pairs.items() if e == "smiling")),
        "london all cross-person photo pairs": (False, as_array(london.all_pairs.values())),
        "dev next portrait": (False, as_array(dev.next)),
        "dev all portrait pairs": (False, as_array(dev.all)),
    }
    print("\nDescriptor distance (Euclidean, 128-d dlib ResNet)\n")
    print_distributions(sets)
    print("\nShare of pairs accepted as the same person, by threshold (distance < threshold)\n")
    print_tradeoff(sets)
    print_groups(london, SAME_PERSON_THRESHOLD)
    print_face_size(london, SAME_PERSON_THRESHOLD)


if __name__ == "__main__":
    main()
