"""How much of a change between two sessions is measurement noise.

A change is reported with its 95 % noise bound, the combination of two parts:

*Local noise*, estimated from the pair itself. The shared skin is cut into
square tiles about a quarter of the inter-ocular distance wide; each tile
gives its own change, and the standard error of the mean change over tiles
(the sum, for counts) captures landmark jitter, sensor noise, JPEG loss and
small misregistration, all of which vary from place to place [1]_.

*A repeatability floor* per metric (:data:`NOISE_FLOOR`) for errors that shift
every tile alike: residual exposure and white-balance error after
normalisation, interpolation, and JPEG recompression. It is the 95th
percentile of the absolute change measured between nuisance-only
re-captures judged comparable (rotation, scale, shift, exposure, white
balance and JPEG, with no change to the skin), in two tiers by the analysis
frame's eye distance: ``clinic`` (at least :data:`SMALL_FRAME_IOD_PX`
pixels), measured on the clinic-resolution portrait, and ``small``, measured
on the astronaut and 150 official portraits, whose faces are a few dozen
pixels wide. ``validation/validate.py --faces DIR`` re-measures both and
prints the values to put here.

The bound is ``sqrt(floor**2 + (1.96 * standard_error)**2)``; a change larger
than its bound is reported as beyond measurement noise.

References
----------
.. [1] J. M. Bland, D. G. Altman, "Statistical methods for assessing agreement
       between two methods of clinical measurement", Lancet 327(8476):307-310,
       1986 (repeatability coefficient as 1.96 times the SD of differences).
"""

from __future__ import annotations

import numpy as np

from .metrics import METRICS, MIN_PIXELS, SkinMaps, measure

#: 95th percentile |change| over comparable nuisance-only re-captures (module docstring).
NOISE_FLOOR = {
    # clinic-resolution portrait, 24 comparable re-captures
    "clinic": {"redness_a_star": 0.200, "erythema_index": 0.237, "red_area_pct": 0.820, "brightness_l_star": 0.051,
               "ita_deg": 0.170, "evenness_l_std": 0.037, "texture_roughness": 0.029, "line_density_pct": 1.126,
               "spot_count": 3.0, "spot_area_pct": 0.133},
    # astronaut and 150 official portraits, 911 comparable re-captures; texture, lines and
    # spots are not measured at this resolution
    "small": {"redness_a_star": 0.840, "erythema_index": 1.062, "red_area_pct": 5.740, "brightness_l_star": 0.264,
              "ita_deg": 0.847, "evenness_l_std": 0.101, "texture_roughness": 0.0, "line_density_pct": 0.0,
              "spot_count": 0.0, "spot_area_pct": 0.0},
}
SMALL_FRAME_IOD_PX = 100.0
TILE_IOD = 0.25
_SUMMED = {"spot_count"}


def _crop(maps: SkinMaps, rows: slice, cols: slice) -> SkinMaps:
    return SkinMaps(**{k: (v[rows, cols] if isinstance(v, np.ndarray) else v) for k, v in vars(maps).items()})


def change_noise(photo: SkinMaps, baseline: SkinMaps, region: np.ndarray, reference_a_star: float,
                 iod_px: float) -> dict[str, float | None]:
    """95 % noise bound of each metric's change over ``region`` (see module docstring).

    Both maps are in the same frame; ``region`` is the shared skin.
    """
    tile = max(4, int(round(TILE_IOD * iod_px)))
    floor = NOISE_FLOOR["clinic" if iod_px >= SMALL_FRAME_IOD_PX else "small"]
    diffs: dict[str, list[float]] = {m: [] for m in METRICS}
    ys, xs = np.nonzero(region)
    if len(ys) == 0:
        return dict.fromkeys(METRICS)
    for y0 in range(ys.min(), ys.max() + 1, tile):
        for x0 in range(xs.min(), xs.max() + 1, tile):
            rows, cols = slice(y0, y0 + tile), slice(x0, x0 + tile)
            part = region[rows, cols]
            if part.sum() < MIN_PIXELS:
                continue
            a = measure(_crop(photo, rows, cols), part, reference_a_star)
            b = measure(_crop(baseline, rows, cols), part, reference_a_star)
            for m in METRICS:
                if a[m] is not None and b[m] is not None:
                    diffs[m].append(a[m] - b[m])
    out: dict[str, float | None] = {}
    for m in METRICS:
        d = np.asarray(diffs[m])
        if len(d) < 3:
            out[m] = None
            continue
        spread = d.std(ddof=1)
        standard_error = spread * np.sqrt(len(d)) if m in _SUMMED else spread / np.sqrt(len(d))
        out[m] = float(np.hypot(floor[m], 1.96 * standard_error))
    return out
