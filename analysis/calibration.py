"""Noise floors as data: fitted on a clinic's own no-change pairs, stored as JSON, looked up by the engine.

A change is beyond measurement noise when it exceeds its bound, which
combines a *repeatability floor* with the pair's own tile-to-tile spread
(:mod:`analysis.noise`). A floor is kept per

* **tier**: the analysis frame's resolution, ``clinic`` (eyes at least
  :data:`analysis.noise.SMALL_FRAME_IOD_PX` pixels apart in the frame) or
  ``small`` (:data:`TIERS`);
* **scope**: the whole face (``overall``), one region of
  :data:`analysis.regions.REGIONS`, or a body area's marked region
  (``marked``) (:data:`SCOPES`);
* **metric**: one of :data:`analysis.metrics.METRICS`, in that metric's unit.

The floor is fitted on real no-change pairs (two photos of the same skin
between which nothing was done) in which the scope was judged comparable: it
is a prediction bound for the absolute change of **one more** such pair
(:func:`prediction_bound`). :func:`fit_floors` fits every (tier, scope,
metric) with at least ``min_pairs`` pairs and says why the others get none;
:func:`loo_coverage` checks each floor leave-one-out. The engine ships the
floors of its own validation (``analysis/data/floors.json``); a clinic writes
its own with ``python -m analysis calibrate`` and passes them to
:func:`analysis.analyse`.

References
----------
.. [1] G. J. Hahn, W. Q. Meeker, "Statistical Intervals", Wiley, 1991,
       section 4.4 (prediction interval for one future observation).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
from scipy import stats

from . import __version__
from .errors import BadFloors
from .metrics import METRICS
from .regions import REGIONS

#: Probability that one more no-change pair's |change| lies within its floor.
LEVEL = 0.975
#: Fewest comparable pairs a floor is fitted on: fewer give a bound too wide to be of use, or none.
MIN_PAIRS = 10
TIERS = ("clinic", "small")
SCOPES = ("overall", *REGIONS, "marked")
#: Identifies a floors file, and the version of its layout.
FORMAT = "skin-analysis-floors"
FORMAT_VERSION = 1

Key = tuple[str, str, str]


@dataclass(frozen=True)
class Floor:
    """The repeatability floor of one metric in one scope and tier.

    Attributes
    ----------
    tier, scope, metric : str
        What it applies to (module docstring).
    value : float
        The floor, in the metric's unit (:mod:`analysis.metrics`), >= 0.
    n : int or None
        How many comparable no-change pairs it was fitted on; None where the
        calibration did not record it.
    loo_coverage : float or None
        Fraction, 0-1, of those pairs whose |change| lies within the floor
        fitted without them (:func:`loo_coverage`); None where not recorded.
    engine_version : str
        The analysis version that measured the pairs.
    source : str
        Where the pairs came from, in words.
    """

    tier: str
    scope: str
    metric: str
    value: float
    n: int | None
    loo_coverage: float | None
    engine_version: str
    source: str

    @property
    def key(self) -> Key:
        return self.tier, self.scope, self.metric


@dataclass(frozen=True)
class NoFloor:
    """A (tier, scope, metric) without a floor: ``n`` comparable pairs measured it (None where not recorded),
    and ``reason`` says why that is not enough."""

    tier: str
    scope: str
    metric: str
    n: int | None
    reason: str

    @property
    def key(self) -> Key:
        return self.tier, self.scope, self.metric


@dataclass(frozen=True)
class Floors:
    """A set of floors with the reasons for those missing, and where they came from.

    ``provenance`` holds at least ``engine_version``, ``source`` and ``date``
    (ISO 8601) for the whole set.
    """

    floors: tuple[Floor, ...] = ()
    missing: tuple[NoFloor, ...] = ()
    provenance: Mapping[str, object] = field(default_factory=dict, hash=False)

    def __post_init__(self):
        keys = [f.key for f in self.floors] + [m.key for m in self.missing]
        seen = set()
        for key in keys:
            if key in seen:
                raise ValueError(f"{'/'.join(key)} is given twice")
            seen.add(key)

    @cached_property
    def _by_key(self) -> dict[Key, Floor]:
        return {f.key: f for f in self.floors}

    def get(self, tier: str, scope: str, metric: str) -> Floor | None:
        """The floor of this tier, scope and metric, or None if there is none."""
        return self._by_key.get((tier, scope, metric))

    def reason(self, tier: str, scope: str, metric: str) -> str | None:
        """Why this tier, scope and metric has no floor, if the set says."""
        return next((m.reason for m in self.missing if m.key == (tier, scope, metric)), None)

    def to_dict(self) -> dict:
        """JSON-ready: ``format``, ``format_version``, ``provenance``, ``floors`` and ``no_floor``."""
        return {"format": FORMAT, "format_version": FORMAT_VERSION, "provenance": dict(self.provenance),
                "floors": [vars(f).copy() for f in self.floors],
                "no_floor": [vars(m).copy() for m in self.missing]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1) + "\n"

    @classmethod
    def from_dict(cls, document: object) -> Floors:
        """The inverse of :meth:`to_dict`; raises ``BadFloors`` saying what is wrong."""
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise BadFloors(f"not a floors file (no \"format\": \"{FORMAT}\")")
        if document.get("format_version") != FORMAT_VERSION:
            raise BadFloors(f"format_version {document.get('format_version')!r} is not {FORMAT_VERSION}: "
                            "written by another version of the analysis")
        provenance = document.get("provenance")
        if not isinstance(provenance, dict):
            raise BadFloors("\"provenance\" must be an object")
        floors = tuple(_floor(entry, i) for i, entry in enumerate(_entries(document, "floors")))
        missing = tuple(_no_floor(entry, i) for i, entry in enumerate(_entries(document, "no_floor")))
        try:
            return cls(floors, missing, provenance)
        except ValueError as exc:
            raise BadFloors(str(exc)) from None

    @classmethod
    def from_json(cls, text: str) -> Floors:
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BadFloors(f"not JSON ({exc.msg} at line {exc.lineno})") from None
        return cls.from_dict(document)


def load_floors(path: str | Path) -> Floors:
    """Read a floors file; raises ``BadFloors`` with the path and what is wrong."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise BadFloors(f"floors {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise BadFloors(f"floors {path}: not a text file") from None
    try:
        return Floors.from_json(text)
    except BadFloors as exc:
        raise BadFloors(f"floors {path}: {exc.message}") from None


def _entries(document: dict, name: str) -> list:
    entries = document.get(name)
    if not isinstance(entries, list):
        raise BadFloors(f"\"{name}\" must be a list")
    return entries


def _key(entry: object, where: str) -> Key:
    if not isinstance(entry, dict):
        raise BadFloors(f"{where} is not an object")
    for name, allowed in (("tier", TIERS), ("scope", SCOPES), ("metric", METRICS)):
        if entry.get(name) not in allowed:
            raise BadFloors(f"{where}: {name} {entry.get(name)!r} is not one of {', '.join(allowed)}")
    return entry["tier"], entry["scope"], entry["metric"]


def _count(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadFloors(f"{where}: n must be a whole number >= 0")
    return value


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _floor(entry: object, i: int) -> Floor:
    where = f"floors[{i}]"
    key = _key(entry, where)
    value, loo = entry.get("value"), entry.get("loo_coverage")
    if not _number(value) or value < 0:
        raise BadFloors(f"{where} ({'/'.join(key)}): value must be a finite number >= 0")
    if loo is not None and not (_number(loo) and 0 <= loo <= 1):
        raise BadFloors(f"{where} ({'/'.join(key)}): loo_coverage must be a fraction from 0 to 1, or null")
    n = None if entry.get("n") is None else _count(entry["n"], where)
    texts = [entry.get("engine_version"), entry.get("source")]
    if not all(isinstance(t, str) for t in texts):
        raise BadFloors(f"{where} ({'/'.join(key)}): engine_version and source must be text")
    return Floor(*key, float(value), n, None if loo is None else float(loo), *texts)


def _no_floor(entry: object, i: int) -> NoFloor:
    where = f"no_floor[{i}]"
    key = _key(entry, where)
    if not isinstance(entry.get("reason"), str):
        raise BadFloors(f"{where} ({'/'.join(key)}): reason must be text")
    return NoFloor(*key, None if entry.get("n") is None else _count(entry["n"], where), entry["reason"])


# --- fitting --------------------------------------------------------------------

def prediction_bound(changes: Sequence[float], level: float = LEVEL) -> float:
    """Bound that one more no-change pair's |change| stays within with probability ``level``.

    The normal prediction interval for one future observation,
    ``mean +- t((1 + level) / 2, n - 1) * s * sqrt(1 + 1 / n)`` [1]_, centred
    on zero (a no-change pair's true change is zero) and with ``s`` the
    root-mean-square of the changes about zero, so that a bias between the
    two photos counts as noise rather than being subtracted. The interval is
    two-sided at ``level`` for the change, so the bound is one-sided at
    ``level`` for its absolute value: at the default 97.5 %, one pair in 40
    without change is expected beyond it. Unlike the sample's 97.5th
    percentile, which a new pair exceeds more often when n is small, it
    allows for the size of the sample.

    Parameters
    ----------
    changes : sequence of float
        One change per no-change pair (photo minus baseline), in the metric's unit; at least 2.
    level : float
        Coverage, between 0 and 1.

    Returns
    -------
    float
        The bound, in the metric's unit.
    """
    values = np.asarray(changes, dtype=float)
    n = len(values)
    if n < 2 or not np.isfinite(values).all():
        raise ValueError("a prediction bound needs at least 2 finite changes")
    if not 0 < level < 1:
        raise ValueError("level must lie between 0 and 1")
    rms = np.sqrt(np.mean(values ** 2))
    return float(stats.t.ppf((1 + level) / 2, n - 1) * rms * np.sqrt(1 + 1 / n))


def loo_coverage(changes: Sequence[float], level: float = LEVEL) -> float:
    """Fraction of the pairs whose |change| lies within the bound fitted on the others (leave one out).

    No pair vouches for itself, so this estimates how often the floor holds
    for a pair it was not fitted on; at least 3 changes.
    """
    values = np.abs(np.asarray(changes, dtype=float))
    if len(values) < 3:
        raise ValueError("leave-one-out coverage needs at least 3 changes")
    inside = [values[i] <= prediction_bound(np.delete(values, i), level) for i in range(len(values))]
    return float(np.mean(inside))


def fit_floors(changes: Mapping[Key, Sequence[float]], *, min_pairs: int = MIN_PAIRS, level: float = LEVEL,
               engine_version: str = __version__, source: str = "clinic no-change pairs",
               provenance: Mapping[str, object] | None = None) -> Floors:
    """Floors from no-change pairs: one :func:`prediction_bound` per (tier, scope, metric).

    Parameters
    ----------
    changes : mapping of (tier, scope, metric) to sequence of float
        Each no-change pair's change in that scope and metric (photo minus
        baseline, in the metric's unit), from the pairs in which the scope
        was judged comparable and the metric measured. A key with fewer than
        ``min_pairs`` changes (none at all included) gets no floor, and a
        reason.
    min_pairs : int
        Fewest changes a floor is fitted on, at least 3.
    level : float
        Coverage of each floor (:func:`prediction_bound`).
    engine_version, source : str
        Recorded with every floor.
    provenance : mapping, optional
        More about the whole set (the pairs file's hash, counts); ``engine_version``,
        ``source`` and ``level`` are added.

    Returns
    -------
    Floors
        With :func:`loo_coverage` and n for every floor.
    """
    if min_pairs < 3:
        raise ValueError("min_pairs must be at least 3: leave-one-out needs 2 other pairs")
    floors, missing = [], []
    for (tier, scope, metric), values in changes.items():
        n = len(values)
        if n < min_pairs:
            missing.append(NoFloor(tier, scope, metric, n, f"{n} comparable pair{'s' * (n != 1)} measured it; "
                                                           f"a floor needs at least {min_pairs}"))
            continue
        floors.append(Floor(tier, scope, metric, prediction_bound(values, level), n, loo_coverage(values, level),
                            engine_version, source))
    about = {**(provenance or {}), "engine_version": engine_version, "source": source, "level": level,
             "min_pairs": min_pairs}
    return Floors(tuple(floors), tuple(missing), about)


def pair_changes(result: dict, tier: str) -> dict[Key, float | None]:
    """One no-change pair's contribution to :func:`fit_floors`: each (tier, scope, metric) its analysis
    has, with the change, or None where the scope is not comparable or the metric was not measured.

    ``result`` is :func:`analysis.analyse`'s, of a face pair or a body pair
    (whose one scope, ``marked``, is also its whole; it is not the face's
    ``overall``); ``tier`` is the result's ``noise_tier``.
    """
    verdicts = result["region_verdict"]
    scopes = {name: (verdicts[name]["comparable"], change) for name, change in result["region_change"].items()}
    if "marked" not in scopes:
        scopes["overall"] = (result["alignment"]["comparable"], result["change"])
    return {(tier, scope, m): (change.get(m) if comparable else None)
            for scope, (comparable, change) in scopes.items() for m in METRICS}
