"""What the hair-loss and cellulite measures share: the comparison of two sessions and its noise bound.

A change between sessions is reported with its 95 % noise bound, as for the
face (:mod:`analysis.noise`), from two parts:

* a *repeatability floor* per metric, the 95 % prediction bound of the
  absolute change for one more nuisance-only re-capture (``t * RMS * sqrt(1 + 1/n)``,
  as for the face) over re-captures (rotation, scale, shift, exposure,
  white balance, JPEG; nothing on the skin or hair changes) of rendered
  scalps and skin surfaces, measured by ``validation/body_measures.py`` and
  kept in each module's ``NOISE_FLOOR``;
* the *local* spread within the pair: the region is cut into square tiles,
  each gives its own change, and the standard error of their mean captures
  misregistration and noise that vary from place to place.

The bound is ``sqrt(floor**2 + (1.96 * standard_error)**2)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .reasons import Reason

#: Linear value of sRGB 250/255: brighter pixels may be clipped.
CLIPPED_LINEAR = 0.955
MIN_TILE_PIXELS = 100


@dataclass(frozen=True)
class Change:
    """One metric's change since the baseline (photo minus baseline), or why there is none."""

    change: float | None
    noise: float | None
    refused: Reason | None = None

    @property
    def beyond_noise(self) -> bool | None:
        return None if self.change is None or self.noise is None else abs(self.change) > self.noise

    def to_dict(self) -> dict:
        return {"change": self.change, "noise": self.noise, "beyond_noise": self.beyond_noise,
                "refused": None if self.refused is None else self.refused.to_dict()}


def tiled_bound(photo: np.ndarray, baseline: np.ndarray, region: np.ndarray, tile_px: int, floor: float,
                scale: float = 100.0) -> float:
    """95 % bound of the change of ``scale * mean(map)`` over ``region`` (module docstring).

    ``photo`` and ``baseline`` are per-pixel maps in the same frame (for
    example the share of scalp, or 1 for a shadowed pixel).
    """
    tile_px = max(8, int(tile_px))
    ys, xs = np.nonzero(region)
    diffs = []
    for y0 in range(ys.min(), ys.max() + 1, tile_px):
        for x0 in range(xs.min(), xs.max() + 1, tile_px):
            part = region[y0:y0 + tile_px, x0:x0 + tile_px]
            if part.sum() >= MIN_TILE_PIXELS:
                p = photo[y0:y0 + tile_px, x0:x0 + tile_px][part]
                b = baseline[y0:y0 + tile_px, x0:x0 + tile_px][part]
                diffs.append(scale * (float(np.mean(p)) - float(np.mean(b))))
    if len(diffs) < 3:
        return float(floor)
    standard_error = np.std(diffs, ddof=1) / np.sqrt(len(diffs))
    return float(np.hypot(floor, 1.96 * standard_error))


def change(photo: float | None, baseline: float | None, noise: float | None,
           refused: Reason | None = None) -> Change:
    """The change photo minus baseline, None when either is missing or the change is refused."""
    if refused is not None or photo is None or baseline is None:
        return Change(None, None, refused)
    return Change(photo - baseline, noise)
