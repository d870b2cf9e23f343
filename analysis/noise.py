"""How much of a change between two sessions is measurement noise.

A change is reported with its 95 % noise bound, the combination of two parts:

*Local noise*, estimated from the pair itself. The shared skin is cut into
square tiles about a quarter of the inter-ocular distance wide; each tile
gives its own change, and the standard error of the mean change over tiles
(the sum, for counts) captures landmark jitter, sensor noise, JPEG loss and
small misregistration, all of which vary from place to place [1]_.

*A repeatability floor* for what shifts every tile alike, and which a pair
cannot see in itself: the light on the face after normalisation (a client
leaning towards a lamp, a flash that fired a little brighter on one side),
white balance, expression-free skin movement. Floors are data
(:mod:`analysis.calibration`), per tier, scope (the whole face, one region,
a body area's marked region) and metric: a prediction bound of one more
no-change pair's |change| [2]_. A clinic fits its own from its own no-change
pairs (``python -m analysis calibrate``) and passes them to
:func:`analysis.analyse`; where it has none for a tier, scope and metric,
the shipped floors (``analysis/data/floors.json``, :func:`shipped_floors`)
apply. Those were calibrated on **real repeated photographs**: the 53
people of faces-london, each photographed twice in one studio session,
neutral then smiling, so that nothing about the skin changed; at 97.5 % from
the pairs in which that scope was judged comparable (at 95 %, real changes'
heavier-than-normal tails let 6-9 % of no-change forehead pairs through);
where fewer than 20 were (the cheeks, chin and periorbital skin, which a
smile spoils, and the whole face), at 95 % from all 53 pairs, smiles and
all, which holds changes the expression verdict keeps out and so makes the
floor larger. Two tiers, by the analysis frame's eye distance (:func:`tier`):
``clinic`` (at least :data:`SMALL_FRAME_IOD_PX` pixels: the photos as taken,
eyes 170-240 px apart) and ``small`` (the same pairs shrunk to eyes 45 px
apart). ``validation/validate.py --real --write-floors`` re-measures them and
writes the data file.

Texture and fine lines have no shipped floor: no real repeated photo resolved
skin texture in the shipped calibration (faces-london's eyes were too far from
the camera for the texture gate of the time, and the simulated
clinic-resolution texture is not a photograph), so their changes get no bound
and no verdict until a clinic's own repeats calibrate them.

The bound is ``sqrt(floor**2 + (1.96 * standard_error)**2)``; a change larger
than its bound is reported as beyond measurement noise. Without a floor there
is no bound: the tiles alone miss what shifts the whole face.

References
----------
.. [1] J. M. Bland, D. G. Altman, "Statistical methods for assessing agreement
       between two methods of clinical measurement", Lancet 327(8476):307-310,
       1986 (repeatability coefficient as 1.96 times the SD of differences).
.. [2] G. J. Hahn, W. Q. Meeker, "Statistical Intervals", Wiley, 1991,
       section 4.4 (prediction interval for one future observation).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np

from .calibration import Floors
from .metrics import METRICS, MIN_PIXELS, SkinMaps, measure

SMALL_FRAME_IOD_PX = 100.0
TILE_IOD = 0.25
_SUMMED = {"spot_count"}
#: Body areas have no real repeated photos in the shipped floors: their marked region borrows the face's
#: overall floors until a clinic calibrates its own.
BORROWED_SCOPES = {"marked": "overall"}


def _crop(maps: SkinMaps, rows: slice, cols: slice) -> SkinMaps:
    return SkinMaps(**{k: (v[rows, cols] if isinstance(v, np.ndarray) else v) for k, v in vars(maps).items()})


@cache
def shipped_floors() -> Floors:
    """The floors that ship with the engine (``analysis/data/floors.json``, module docstring)."""
    return Floors.from_json(resources.files(__package__).joinpath("data", "floors.json").read_text("utf-8"))


def tier(iod_px: float) -> str:
    """The floors' tier of an analysis frame whose eyes are ``iod_px`` pixels apart."""
    return "clinic" if iod_px >= SMALL_FRAME_IOD_PX else "small"


def floor(floors: Floors | None, tier: str, scope: str, metric: str) -> tuple[float | None, str | None]:
    """A floor, in the metric's unit, and where it came from: ``floors`` ("clinic"), else the shipped
    ones ("shipped", a body area's marked region borrowing the face's overall), else (None, None)."""
    given = floors.get(tier, scope, metric) if floors is not None else None
    if given is not None:
        return given.value, "clinic"
    shipped = shipped_floors()
    found = shipped.get(tier, scope, metric) or shipped.get(tier, BORROWED_SCOPES.get(scope, scope), metric)
    return (None, None) if found is None else (found.value, "shipped")


def tile_changes(photo: SkinMaps, baseline: SkinMaps, scopes: dict[str, np.ndarray], reference_a_star: float,
                 iod_px: float) -> dict[str, dict[str, np.ndarray]]:
    """Each metric's change in every tile of every scope: square tiles of :data:`TILE_IOD` eye distances.

    ``scopes`` maps a name ("overall", a region) to its mask in the shared frame.
    """
    tile = max(4, int(round(TILE_IOD * iod_px)))
    diffs = {name: {m: [] for m in METRICS} for name in scopes}
    union = np.logical_or.reduce(list(scopes.values()))
    ys, xs = np.nonzero(union)
    if len(ys):
        for y0 in range(ys.min(), ys.max() + 1, tile):
            for x0 in range(xs.min(), xs.max() + 1, tile):
                rows, cols = slice(y0, y0 + tile), slice(x0, x0 + tile)
                if union[rows, cols].sum() < MIN_PIXELS:
                    continue
                p, b = _crop(photo, rows, cols), _crop(baseline, rows, cols)
                for name, mask in scopes.items():
                    part = mask[rows, cols]
                    if part.sum() < MIN_PIXELS:
                        continue
                    a, c = measure(p, part, reference_a_star), measure(b, part, reference_a_star)
                    for m in METRICS:
                        if a[m] is not None and c[m] is not None:
                            diffs[name][m].append(a[m] - c[m])
    return {name: {m: np.asarray(v) for m, v in d.items()} for name, d in diffs.items()}


@dataclass(frozen=True)
class Noise:
    """A pair's noise bounds: the floors' tier, and per scope and metric the 95 % bound (None: no bound)
    and where its floor came from (:func:`floor`: "clinic", "shipped", or None with no bound)."""

    tier: str
    bounds: dict[str, dict[str, float | None]]
    sources: dict[str, dict[str, str | None]]


def change_noise(photo: SkinMaps, baseline: SkinMaps, scopes: dict[str, np.ndarray], reference_a_star: float,
                 iod_px: float, floors: Floors | None = None, floor_scopes: dict[str, str] | None = None) -> Noise:
    """95 % noise bound of each metric's change in each scope (see module docstring).

    Both maps are in the same frame; each scope's mask is shared skin. A bound
    is None where the scope has fewer than three tiles or the metric has no
    floor, given (``floors``) or shipped. ``floor_scopes`` names the floors'
    scope of a scope named otherwise (a body area's whole is its marked region).
    """
    frame_tier = tier(iod_px)
    bounds, sources = {}, {}
    for name, per_metric in tile_changes(photo, baseline, scopes, reference_a_star, iod_px).items():
        scope = (floor_scopes or {}).get(name, name)
        bounds[name], sources[name] = {}, {}
        for m, d in per_metric.items():
            value, source = floor(floors, frame_tier, scope, m)
            if len(d) < 3 or value is None:
                bounds[name][m], sources[name][m] = None, None
                continue
            spread = d.std(ddof=1)
            standard_error = spread * np.sqrt(len(d)) if m in _SUMMED else spread / np.sqrt(len(d))
            bounds[name][m], sources[name][m] = float(np.hypot(value, 1.96 * standard_error)), source
    return Noise(frame_tier, bounds, sources)
