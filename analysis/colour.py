"""Colour spaces and lighting normalisation.

Why normalise against the backdrop
----------------------------------
Two photos of the same skin taken a month apart differ in exposure and white
balance: the camera's automatic modes, a flash that aged, daylight through a
window. Read naively, a 30 % exposure change moves L* by several units, more
than any treatment. The skin itself cannot be the reference, because the
skin is what we measure.

Standardised clinical photography uses a fixed backdrop, so the backdrop is
the reference. After the session photo is aligned to the baseline, each
colour channel's gain is the median, over backdrop pixels, of the ratio of
baseline to photo in *linear* sRGB, where exposure and white balance act as
per-channel multipliers (a von Kries-type diagonal model [1]_). The photo is
multiplied by these gains before any metric is computed.

The normalisation is refused, with a reason, when

* too few backdrop pixels are visible and unclipped (:data:`MIN_BACKDROP_PIXELS`);
* the ratios disagree across the backdrop (median absolute deviation of the
  log-ratios above :data:`MAX_RATIO_SPREAD`): the backdrop or the lighting
  geometry changed, and one gain per channel cannot describe it;
* the exposure differs by more than a factor :data:`MAX_EXPOSURE_FACTOR`.

A grey card in frame would be a better reference; the backdrop needs no
extra step at capture time, which is why it is the default here.

References
----------
.. [1] G. D. Finlayson, M. S. Drew, B. V. Funt, "Diagonal transforms suffice
       for color constancy", ICCV 1993.
.. [2] IEC 61966-2-1:1999, "Default RGB colour space - sRGB" (transfer function).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_BACKDROP_PIXELS = 400
MAX_RATIO_SPREAD = 0.10
MAX_EXPOSURE_FACTOR = 2.0
# Linear values outside this range are too dark to trust or possibly clipped.
_RATIO_RANGE = (0.01, 0.9)


def srgb_to_linear(rgb: np.ndarray) -> np.ndarray:
    """sRGB values in [0, 1] to linear-light values in [0, 1] (IEC 61966-2-1)."""
    rgb = np.asarray(rgb, dtype=np.float32)
    return np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    """Linear-light values in [0, 1] to sRGB values in [0, 1] (clipped)."""
    linear = np.clip(np.asarray(linear, dtype=np.float32), 0.0, 1.0)
    return np.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1 / 2.4) - 0.055)


# Linear sRGB to CIE XYZ (D65), IEC 61966-2-1, and the D65 white point (CIE 15:2004).
_RGB_TO_XYZ = np.array([[0.412453, 0.357580, 0.180423],
                        [0.212671, 0.715160, 0.072169],
                        [0.019334, 0.119193, 0.950227]], dtype=np.float32)
_WHITE_D65 = np.array([0.95047, 1.0, 1.08883], dtype=np.float32)


def lab_from_linear(linear: np.ndarray) -> np.ndarray:
    """Linear sRGB in [0, 1] to CIELAB (D65, 2 degree observer), float32.

    The CIE 15:2004 formulas, with the same matrix and white point as
    ``skimage.color.rgb2lab``, in single precision for speed.
    """
    xyz = linear @ (_RGB_TO_XYZ.T / _WHITE_D65[None, :])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16.0 / 116.0)
    lab = np.empty_like(f)
    lab[..., 0] = 116.0 * f[..., 1] - 16.0
    lab[..., 1] = 500.0 * (f[..., 0] - f[..., 1])
    lab[..., 2] = 200.0 * (f[..., 1] - f[..., 2])
    return lab


def to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB in [0, 1] to CIELAB (D65, 2 degree observer), float32."""
    return lab_from_linear(srgb_to_linear(rgb))


def as_float(rgb_u8: np.ndarray) -> np.ndarray:
    return rgb_u8.astype(np.float32) / 255.0


@dataclass(frozen=True)
class Normalisation:
    """Per-channel gains applied to a photo's linear RGB to match the baseline's lighting.

    ``gains`` is ``(1, 1, 1)`` when ``applied`` is False, and ``reason`` says why.
    """

    applied: bool
    method: str
    gains: tuple[float, float, float] = (1.0, 1.0, 1.0)
    exposure_factor: float = 1.0
    ratio_spread: float | None = None
    backdrop_pixels: int = 0
    reason: str | None = None

    def to_dict(self) -> dict:
        return {
            "applied": self.applied, "method": self.method, "gains_rgb": list(self.gains),
            "exposure_factor": self.exposure_factor, "ratio_spread": self.ratio_spread,
            "backdrop_pixels": self.backdrop_pixels, "reason": self.reason,
        }


NOT_APPLIED_SINGLE = Normalisation(
    applied=False, method="none",
    reason="no reference photo: values are as captured, comparable only with photos under the same lighting",
)


def backdrop_gains(photo_linear: np.ndarray, baseline_linear: np.ndarray, backdrop: np.ndarray) -> Normalisation:
    """Estimate per-channel gains that map the photo's lighting onto the baseline's.

    Parameters
    ----------
    photo_linear : ndarray, shape (H, W, 3)
        The photo in linear sRGB, aligned to the baseline.
    baseline_linear : ndarray, shape (H, W, 3)
        The baseline in linear sRGB.
    backdrop : ndarray of bool, shape (H, W)
        Backdrop pixels valid in both images.

    Returns
    -------
    Normalisation
    """
    lo, hi = _RATIO_RANGE
    usable = backdrop & np.all((photo_linear > lo) & (photo_linear < hi), axis=2) \
        & np.all((baseline_linear > lo) & (baseline_linear < hi), axis=2)
    n = int(usable.sum())
    if n < MIN_BACKDROP_PIXELS:
        return Normalisation(False, "backdrop", backdrop_pixels=n,
                             reason=f"only {n} unclipped backdrop pixels are visible in both photos")
    log_ratio = np.log(baseline_linear[usable]) - np.log(photo_linear[usable])
    median = np.median(log_ratio, axis=0)
    spread = float(np.median(np.abs(log_ratio - median)))
    gains = tuple(float(g) for g in np.exp(median))
    exposure = float(np.exp(median.mean()))
    common = dict(method="backdrop", gains=gains, exposure_factor=exposure, ratio_spread=spread, backdrop_pixels=n)
    if spread > MAX_RATIO_SPREAD:
        return Normalisation(False, **{**common, "gains": (1.0, 1.0, 1.0)},
                             reason=f"the backdrop's brightness ratio varies by {spread:.0%} across the frame: "
                                    "the backdrop or the light's direction changed")
    if not 1 / MAX_EXPOSURE_FACTOR <= exposure <= MAX_EXPOSURE_FACTOR:
        return Normalisation(False, **{**common, "gains": (1.0, 1.0, 1.0)},
                             reason=f"exposure differs by a factor {exposure:.2f}, beyond honest correction")
    return Normalisation(True, **common)


def apply_gains(rgb: np.ndarray, gains: tuple[float, float, float]) -> np.ndarray:
    """Multiply sRGB values in [0, 1] by per-channel gains in linear light."""
    if gains == (1.0, 1.0, 1.0):
        return rgb
    return linear_to_srgb(srgb_to_linear(rgb) * np.asarray(gains, dtype=np.float32))
