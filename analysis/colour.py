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

On a dark or noisy backdrop the per-channel ratios measure 8-bit
quantisation and noise more than the light; there one exposure gain is used
instead (:func:`backdrop_gains` gives the rule).

A colour checker or a grey card in frame is a better reference, and is
preferred when both photos show one (:mod:`analysis.reference`); the
backdrop needs no extra step at capture time, which is why it is the
fallback. :class:`Normalisation` records which method was used
(:data:`METHODS`).

References
----------
.. [1] G. D. Finlayson, M. S. Drew, B. V. Funt, "Diagonal transforms suffice
       for color constancy", ICCV 1993.
.. [2] IEC 61966-2-1:1999, "Default RGB colour space - sRGB" (transfer function).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .reasons import Reason

if TYPE_CHECKING:
    from .reference import ColourReference

MIN_BACKDROP_PIXELS = 400
MAX_RATIO_SPREAD = 0.10
MAX_EXPOSURE_FACTOR = 2.0
#: A backdrop is "dark or noisy" when some channel's log gain is less certain than this (1 %).
MAX_CHANNEL_UNCERTAINTY = 0.01
#: ... and its white balance is left alone when no channel departs from the exposure by more
#: than this many standard uncertainties.
CHROMATIC_SIGNIFICANCE = 2.0
#: Pixels that share one noise sample in a backdrop at overview resolution (demosaicking, JPEG).
CORRELATED_PIXELS = 16
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


#: How a photo's lighting was normalised, best first (see :func:`analysis.reference.reference_normalisation`).
METHODS = {
    "colour_chart": "both photos corrected to a colour checker's published values in frame",
    "grey_card": "both photos corrected to a neutral grey card in frame",
    "backdrop": "per-channel gains matched on the backdrop",
    "backdrop_exposure_only": "one exposure gain matched on the backdrop (too dark or noisy for white balance)",
    "none": "not normalised",
}

_IDENTITY = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))
_LUMINANCE = np.array([0.2126, 0.7152, 0.0722], np.float32)  # Rec. 709 / sRGB Y from linear RGB


@dataclass(frozen=True)
class Normalisation:
    """How a photo and its baseline are brought to one lighting before any metric.

    Corrections act on linear sRGB row vectors: ``corrected = linear @ matrix``.
    ``matrix`` corrects the photo and ``baseline_matrix`` the baseline. With
    the backdrop methods the photo is brought to the baseline's lighting
    (``matrix`` is ``diag(gains)``, ``baseline_matrix`` the identity); with a
    colour reference in both photos each is corrected to the reference's
    published values, so both land in absolute linear sRGB (D65).
    ``gains`` holds the per-channel gains of the backdrop methods and is
    ``(1, 1, 1)`` otherwise; use :meth:`correct_photo` and
    :meth:`correct_baseline`, which hold for every method.

    When ``applied`` is False both corrections are the identity, ``method``
    names the method that refused, and ``reason`` says why, with one of the
    codes ``no_reference_photo`` (a single photo), ``no_reference`` (neither
    a shared reference nor a backdrop), ``too_little_backdrop``,
    ``backdrop_changed``, ``exposure_out_of_range``.

    Attributes
    ----------
    chromatic_uncertainty : float or None
        Backdrop methods: the largest per-channel standard uncertainty of a
        log gain (quantisation and noise, see :func:`backdrop_gains`).
    photo_reference, baseline_reference : ColourReference or None
        The chart or grey card found in each photo (with its polygon, in
        that photo's pixels), whether or not it was used.
    """

    applied: bool
    method: str
    gains: tuple[float, float, float] = (1.0, 1.0, 1.0)
    exposure_factor: float = 1.0
    ratio_spread: float | None = None
    backdrop_pixels: int = 0
    reason: Reason | None = None
    matrix: tuple[tuple[float, float, float], ...] = _IDENTITY
    baseline_matrix: tuple[tuple[float, float, float], ...] = _IDENTITY
    chromatic_uncertainty: float | None = None
    photo_reference: ColourReference | None = None
    baseline_reference: ColourReference | None = None

    def correct_photo(self, linear: np.ndarray) -> np.ndarray:
        """The photo's linear sRGB, corrected (clipped to [0, 1])."""
        return apply_matrix(linear, self.matrix)

    def correct_baseline(self, linear: np.ndarray) -> np.ndarray:
        """The baseline's linear sRGB, corrected (clipped to [0, 1])."""
        return apply_matrix(linear, self.baseline_matrix)

    def to_dict(self) -> dict:
        return {
            "applied": self.applied, "method": self.method, "gains_rgb": list(self.gains),
            "exposure_factor": self.exposure_factor, "ratio_spread": self.ratio_spread,
            "backdrop_pixels": self.backdrop_pixels,
            "reason": None if self.reason is None else self.reason.to_dict(),
            "matrix": [list(r) for r in self.matrix], "baseline_matrix": [list(r) for r in self.baseline_matrix],
            "chromatic_uncertainty": self.chromatic_uncertainty,
            "photo_reference": None if self.photo_reference is None else self.photo_reference.to_dict(),
            "baseline_reference": None if self.baseline_reference is None else self.baseline_reference.to_dict(),
        }


NOT_APPLIED_SINGLE = Normalisation(
    applied=False, method="none",
    reason=Reason("no_reference_photo", "no reference photo: values are as captured, "
                                        "comparable only with photos under the same lighting"),
)


def apply_matrix(linear: np.ndarray, matrix) -> np.ndarray:
    """Linear sRGB row vectors times a 3 x 3 correction, clipped to [0, 1]."""
    m = np.asarray(matrix, dtype=np.float32)
    if np.array_equal(m, np.eye(3, dtype=np.float32)):
        return linear
    return np.clip(np.asarray(linear, np.float32) @ m, 0.0, 1.0)


def _code_step(code: np.ndarray) -> np.ndarray:
    """Relative change of linear light per 8-bit sRGB code at ``code``: d ln(linear) / d code."""
    code = np.maximum(np.asarray(code, np.float64), 1.0)
    # The sRGB curve's derivative in log form: 2.4 / (code + 0.055 * 255) on the power segment, 1 / code below.
    return np.where(code > 0.04045 * 255, 2.4 / (code + 0.055 * 255), 1.0 / code)


def channel_uncertainty(photo_linear: np.ndarray, baseline_linear: np.ndarray, log_ratio: np.ndarray) -> np.ndarray:
    """Standard uncertainty of each channel's median log-ratio (natural log units).

    Two sources, added in quadrature:

    * quantisation: a uniform backdrop sits on one or two 8-bit codes, so
      its median carries the rounding of that code in each photo,
      ``step / sqrt(12)`` where ``step`` is the relative change of linear light
      per code at the backdrop's median level (2.4 / (code + 14) on the sRGB
      curve: 5.5 % at code 30, 1.5 % at code 150);
    * noise: the standard error of a median, ``1.2533 * sigma / sqrt(n_eff)``,
      sigma from the median absolute deviation and ``n_eff`` the pixel count
      over :data:`CORRELATED_PIXELS` (demosaicking, denoising and JPEG make
      neighbouring pixels share their noise).

    ``photo_linear`` and ``baseline_linear`` are the backdrop pixels, shape (N, 3).
    """
    steps = [_code_step(np.median(linear_to_srgb(x), axis=0) * 255.0) for x in (photo_linear, baseline_linear)]
    quantisation = np.sqrt(steps[0] ** 2 + steps[1] ** 2) / np.sqrt(12.0)
    sigma = 1.4826 * np.median(np.abs(log_ratio - np.median(log_ratio, axis=0)), axis=0)
    n_eff = max(1.0, len(log_ratio) / CORRELATED_PIXELS)
    return np.sqrt(quantisation ** 2 + (1.2533 * sigma / np.sqrt(n_eff)) ** 2)


def backdrop_gains(photo_linear: np.ndarray, baseline_linear: np.ndarray, backdrop: np.ndarray,
                   method: str | None = None) -> Normalisation:
    """Estimate the gains that map the photo's lighting onto the baseline's, on the backdrop.

    Per-channel gains (method ``"backdrop"``) are the median log-ratios,
    baseline over photo, of the usable backdrop pixels. On a dark or noisy
    backdrop these ratios are dominated by 8-bit quantisation and noise
    rather than by the light, and one exposure gain is used instead (method
    ``"backdrop_exposure_only"``), from the median log-ratio of luminance Y,
    which pools the three channels. The rule, from the data:

    1. *dark or noisy*: some channel's gain has a standard uncertainty above
       :data:`MAX_CHANNEL_UNCERTAINTY` (:func:`channel_uncertainty`; on a
       clean backdrop this is a median code below about 84);
    2. and *no white-balance shift beyond that uncertainty*: every channel's
       log gain is within :data:`CHROMATIC_SIGNIFICANCE` uncertainties of the
       exposure's. A clear shift (a changed camera white balance) is still
       corrected per channel, since leaving it would err more than the
       quantisation does.

    Parameters
    ----------
    photo_linear : ndarray, shape (H, W, 3)
        The photo in linear sRGB, aligned to the baseline.
    baseline_linear : ndarray, shape (H, W, 3)
        The baseline in linear sRGB.
    backdrop : ndarray of bool, shape (H, W)
        Backdrop pixels valid in both images.
    method : {None, "backdrop", "backdrop_exposure_only"}
        None chooses by the rule above; a name forces that method (to
        compare them in validation).

    Returns
    -------
    Normalisation
        Refused (``applied`` False) with reason codes ``too_little_backdrop``,
        ``backdrop_changed`` or ``exposure_out_of_range``.
    """
    lo, hi = _RATIO_RANGE
    usable = backdrop & np.all((photo_linear > lo) & (photo_linear < hi), axis=2) \
        & np.all((baseline_linear > lo) & (baseline_linear < hi), axis=2)
    n = int(usable.sum())
    if n < MIN_BACKDROP_PIXELS:
        return Normalisation(False, "backdrop", backdrop_pixels=n, reason=Reason(
            "too_little_backdrop", f"only {n} unclipped backdrop pixels are visible in both photos"))
    photo_px, base_px = photo_linear[usable], baseline_linear[usable]
    log_ratio = np.log(base_px) - np.log(photo_px)
    median = np.median(log_ratio, axis=0)
    uncertainty = channel_uncertainty(photo_px, base_px, log_ratio)
    log_y = np.log(base_px @ _LUMINANCE) - np.log(photo_px @ _LUMINANCE)
    log_exposure = float(np.median(log_y))
    if method is None:
        exposure_only = bool(uncertainty.max() > MAX_CHANNEL_UNCERTAINTY
                             and np.all(np.abs(median - log_exposure) <= CHROMATIC_SIGNIFICANCE * uncertainty))
    else:
        exposure_only = method == "backdrop_exposure_only"
    if exposure_only:
        method, log_gains = "backdrop_exposure_only", np.full(3, log_exposure)
        spread = float(np.median(np.abs(log_y - log_exposure)))
    else:
        method, log_gains = "backdrop", median
        spread = float(np.median(np.abs(log_ratio - median)))
    gains = tuple(float(g) for g in np.exp(log_gains))
    exposure = float(np.exp(log_gains.mean()))
    common = dict(method=method, exposure_factor=exposure, ratio_spread=spread, backdrop_pixels=n,
                  chromatic_uncertainty=float(uncertainty.max()))
    if spread > MAX_RATIO_SPREAD:
        return Normalisation(False, **common, reason=Reason(
            "backdrop_changed", f"the backdrop's brightness ratio varies by {spread:.0%} across the frame: "
                                "the backdrop or the light's direction changed"))
    if not 1 / MAX_EXPOSURE_FACTOR <= exposure <= MAX_EXPOSURE_FACTOR:
        return Normalisation(False, **common, reason=Reason(
            "exposure_out_of_range", f"exposure differs by a factor {exposure:.2f}, beyond honest correction"))
    return Normalisation(True, **common, gains=gains, matrix=tuple(tuple(float(v) for v in row)
                                                                    for row in np.diag(gains)))
