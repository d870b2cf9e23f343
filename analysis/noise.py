"""How much of a change between two sessions is measurement noise.

A change is reported with its 95 % noise bound, the combination of two parts:

*Local noise*, estimated from the pair itself. The shared skin is cut into
square tiles about a quarter of the inter-ocular distance wide; each tile
gives its own change, and the standard error of the mean change over tiles
(the sum, for counts) captures landmark jitter, sensor noise, JPEG loss and
small misregistration, all of which vary from place to place [1]_.

*A repeatability floor* (:data:`NOISE_FLOOR`) for what shifts every tile
alike, and which a pair cannot see in itself: the light on the face after
normalisation (a client leaning towards a lamp, a flash that fired a little
brighter on one side), white balance, expression-free skin movement. It is
calibrated on **real repeated photographs**: the 53 people of faces-london,
each photographed twice in one studio session, neutral then smiling, so that
nothing about the skin changed. For each tier, scope (the whole face or one
region) and metric, the floor is a prediction bound of one more pair's
|change| [2]_: at 97.5 % from the pairs in which that scope was judged
comparable (at 95 %, real changes' heavier-than-normal tails let 6-9 % of
no-change forehead pairs through); where fewer than 20 were (the cheeks,
chin and periorbital skin, which a smile spoils, and the whole face), at
95 % from all 53 pairs, smiles and all, which holds changes the expression
verdict keeps out and so makes the floor larger. Two tiers, by the analysis frame's
eye distance: ``clinic`` (at least :data:`SMALL_FRAME_IOD_PX` pixels: the
photos as taken, eyes 170-240 px apart) and ``small`` (the same pairs
shrunk to eyes 45 px apart). ``validation/validate.py --real`` re-measures
them, prints the values to put here, and checks them leave-one-out.

Texture and fine lines have no floor: no real repeated photo resolves skin
texture (faces-london's eyes are too far from the camera for the texture
gate, and the simulated clinic-resolution texture is not a photograph), so
their changes get no bound and no verdict until real repeats calibrate them.

The bound is ``sqrt(floor**2 + (1.96 * standard_error)**2)``; a change larger
than its bound is reported as beyond measurement noise.

References
----------
.. [1] J. M. Bland, D. G. Altman, "Statistical methods for assessing agreement
       between two methods of clinical measurement", Lancet 327(8476):307-310,
       1986 (repeatability coefficient as 1.96 times the SD of differences).
.. [2] G. J. Hahn, W. Q. Meeker, "Statistical Intervals", Wiley, 1991,
       section 4.4 (prediction interval for one future observation).
"""

from __future__ import annotations

import numpy as np

from .metrics import METRICS, MIN_PIXELS, SkinMaps, measure

#: Repeatability floors, from ``validation/validate.py --real`` (module docstring), per tier and scope.
#: A metric whose floor is None has no calibration on real repeated photos: its change gets no bound
#: and no verdict.
# BEGIN NOISE_FLOOR (written by validation/validate.py --real --write-floors)
NOISE_FLOOR: dict[str, dict[str, dict[str, float | None]]] = {
    "clinic": {
        # overall: calibrated on all pairs
        "overall": {"redness_a_star": 1.511, "erythema_index": 2.141, "red_area_pct": 12.476, "brightness_l_star":
                    2.022, "ita_deg": 3.106, "evenness_l_std": 0.870, "texture_roughness": None, "line_density_pct":
                    None, "spot_count": 10.594, "spot_area_pct": 2.957},
        # forehead: calibrated on comparable pairs
        "forehead": {"redness_a_star": 1.391, "erythema_index": 2.003, "red_area_pct": 4.859, "brightness_l_star":
                    1.971, "ita_deg": 3.498, "evenness_l_std": 0.374, "texture_roughness": None, "line_density_pct":
                    None, "spot_count": 2.382, "spot_area_pct": 2.861},
        # left_cheek: calibrated on all pairs
        "left_cheek": {"redness_a_star": 1.755, "erythema_index": 2.617, "red_area_pct": 16.858,
                    "brightness_l_star": 3.567, "ita_deg": 8.521, "evenness_l_std": 1.680, "texture_roughness":
                    None, "line_density_pct": None, "spot_count": 5.294, "spot_area_pct": 6.592},
        # right_cheek: calibrated on all pairs
        "right_cheek": {"redness_a_star": 1.588, "erythema_index": 2.399, "red_area_pct": 16.849,
                    "brightness_l_star": 3.517, "ita_deg": 6.160, "evenness_l_std": 1.688, "texture_roughness":
                    None, "line_density_pct": None, "spot_count": 5.416, "spot_area_pct": 5.055},
        # chin: calibrated on all pairs
        "chin": {"redness_a_star": 2.438, "erythema_index": 3.062, "red_area_pct": 24.212, "brightness_l_star":
                    3.492, "ita_deg": 9.409, "evenness_l_std": 1.323, "texture_roughness": None, "line_density_pct":
                    None, "spot_count": 4.914, "spot_area_pct": 4.544},
        # periorbital: calibrated on all pairs
        "periorbital": {"redness_a_star": 2.383, "erythema_index": 3.517, "red_area_pct": 17.020,
                    "brightness_l_star": 2.677, "ita_deg": 6.489, "evenness_l_std": 0.948, "texture_roughness":
                    None, "line_density_pct": None, "spot_count": 5.077, "spot_area_pct": 4.668},
    },
    "small": {
        # overall: calibrated on all pairs
        "overall": {"redness_a_star": 1.440, "erythema_index": 2.080, "red_area_pct": 12.037, "brightness_l_star":
                    2.143, "ita_deg": 3.627, "evenness_l_std": 0.856, "texture_roughness": None, "line_density_pct":
                    None, "spot_count": None, "spot_area_pct": None},
        # forehead: calibrated on comparable pairs
        "forehead": {"redness_a_star": 1.432, "erythema_index": 2.104, "red_area_pct": 5.568, "brightness_l_star":
                    2.040, "ita_deg": 3.948, "evenness_l_std": 0.272, "texture_roughness": None, "line_density_pct":
                    None, "spot_count": None, "spot_area_pct": None},
        # left_cheek: calibrated on all pairs
        "left_cheek": {"redness_a_star": 1.711, "erythema_index": 2.601, "red_area_pct": 16.619,
                    "brightness_l_star": 3.850, "ita_deg": 9.932, "evenness_l_std": 1.603, "texture_roughness":
                    None, "line_density_pct": None, "spot_count": None, "spot_area_pct": None},
        # right_cheek: calibrated on all pairs
        "right_cheek": {"redness_a_star": 1.546, "erythema_index": 2.416, "red_area_pct": 16.942,
                    "brightness_l_star": 3.927, "ita_deg": 7.477, "evenness_l_std": 1.708, "texture_roughness":
                    None, "line_density_pct": None, "spot_count": None, "spot_area_pct": None},
        # chin: calibrated on all pairs
        "chin": {"redness_a_star": 2.397, "erythema_index": 2.915, "red_area_pct": 25.843, "brightness_l_star":
                    3.448, "ita_deg": 9.405, "evenness_l_std": 1.437, "texture_roughness": None, "line_density_pct":
                    None, "spot_count": None, "spot_area_pct": None},
        # periorbital: calibrated on all pairs
        "periorbital": {"redness_a_star": 2.219, "erythema_index": 3.275, "red_area_pct": 13.787,
                    "brightness_l_star": 2.640, "ita_deg": 6.582, "evenness_l_std": 1.027, "texture_roughness":
                    None, "line_density_pct": None, "spot_count": None, "spot_area_pct": None},
    },
}
# END NOISE_FLOOR
SMALL_FRAME_IOD_PX = 100.0
TILE_IOD = 0.25
_SUMMED = {"spot_count"}
#: Body areas have no real repeated photos yet: their marked region borrows the face's overall floors.
BORROWED_SCOPES = {"marked": "overall"}


def _crop(maps: SkinMaps, rows: slice, cols: slice) -> SkinMaps:
    return SkinMaps(**{k: (v[rows, cols] if isinstance(v, np.ndarray) else v) for k, v in vars(maps).items()})


def floors(iod_px: float, scope: str) -> dict[str, float | None]:
    """The repeatability floor of each metric for a frame of this eye distance and a scope (region)."""
    tier = NOISE_FLOOR.get("clinic" if iod_px >= SMALL_FRAME_IOD_PX else "small", {})
    return tier.get(BORROWED_SCOPES.get(scope, scope), dict.fromkeys(METRICS))


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


def change_noise(photo: SkinMaps, baseline: SkinMaps, scopes: dict[str, np.ndarray], reference_a_star: float,
                 iod_px: float) -> dict[str, dict[str, float | None]]:
    """95 % noise bound of each metric's change in each scope (see module docstring).

    Both maps are in the same frame; each scope's mask is shared skin. A bound
    is None where the scope has fewer than three tiles or the metric has no
    floor calibrated on real photos.
    """
    out = {}
    for name, per_metric in tile_changes(photo, baseline, scopes, reference_a_star, iod_px).items():
        floor = floors(iod_px, name)
        bounds: dict[str, float | None] = {}
        for m, d in per_metric.items():
            if len(d) < 3 or floor.get(m) is None:
                bounds[m] = None
                continue
            spread = d.std(ddof=1)
            standard_error = spread * np.sqrt(len(d)) if m in _SUMMED else spread / np.sqrt(len(d))
            bounds[m] = float(np.hypot(floor[m], 1.96 * standard_error))
        out[name] = bounds
    return out
