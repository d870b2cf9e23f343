"""Cellulite: the share of the skin in shadowed dimples, under consistent light.

The validated measure of cellulite is the clinician's: the Hexsel Cellulite
Severity Scale [1]_ scores five items 0-3 (number of evident depressions,
their depth, the morphological appearance of raised lesions, laxity or
flaccidity, and the Nürnberger-Müller grade), total 0-15, from standard photos
of the thighs and buttocks, relaxed, lit from above (ICC about 0.9). The
analysis does not and cannot produce that score: the clinician records it
per session beside the aligned before/after (the tracker stores it). What the
photo can give, under the same light, is an objective companion measure of
the surface's irregularity:

**dimple_shadow_pct.** Light from above leaves the upper wall of each
depression in shadow. On log luminance ``ln Y`` (linear-light sRGB, Rec. 709
weights; an exposure change is a constant, so nothing below depends on
exposure) the *dimple band* is the difference of two Gaussian smoothings
over the region (normalised convolution, so the region's edge adds nothing):
sigma :data:`FINE_MM` takes out pores and fine texture, sigma
:data:`BACKGROUND_MM` is the local background of limb shading and slow
colour. A pixel is in a shadowed depression when the band is below
``ln(1 - SHADOW_CONTRAST)``, at least :data:`SHADOW_CONTRAST` darker than its
surroundings. Sizes are in millimetres of skin: from a printed marker in
frame, or nominal (``scale.nominal``).

**Light direction.** The measure only means something when the light falls
the same way as in the baseline: a light moved towards the camera erases the
shadows and would read as a cure. It is estimated twice over the region, in
the baseline's frame:

* the *shading gradient*: a plane fitted by least squares to the background
  (``ln Y`` smoothed at :data:`BACKGROUND_MM`) over the region, in log units
  per 100 mm. A curved limb lit from above is brighter towards the light, so
  the gradient points towards the light in the image plane;
* the *shading axis* at the dimple scale: the dominant orientation of the
  gradient of ``ln Y`` smoothed at :data:`AXIS_MM` minus the background
  (structure tensor [2]_), with its coherence. A dimple lit
  obliquely is dark on one side and bright on the other, along the light's
  direction in the image plane, so the axis (modulo 180 degrees) is the
  light's, whatever the surface's shape.

A pair is refused with ``light_direction`` when the shading gradient moved by
more than :data:`MAX_GRADIENT_CHANGE`, or when both axes are coherent and
differ by more than :data:`MAX_AXIS_CHANGE_DEG`. The light's elevation cannot
be separated from the dimples' depth in one photo (a deeper dimple under a
higher light shades alike; the tilt-slant ambiguity of shape from shading
[3]_); the capture protocol (a fixed light above) has to hold it. The limb's
shading gradient does change with the elevation (on the validation renders by
0.05 for a light lowered from 55 to 45 degrees off the camera axis, 0.10 to 35
degrees, and under 0.01 for nuisance-only re-captures), but it changes as much
when half the dimples go (by 0.07: their shadows darken the background), so a
tighter limit would refuse real improvement; the gradient catches only
a light moved round, not lowered.

Metric             Units         Region and meaning
-----------------  ------------  ---------------------------------------------
dimple_shadow_pct  % of region   share of the marked skin in shadowed dimples

References
----------
.. [1] D. M. Hexsel, T. Dal'Forno, C. L. Hexsel, "A validated photonumeric
       cellulite severity scale", J. Eur. Acad. Dermatol. Venereol.
       23(5):523-528, 2009.
.. [2] J. Bigun, G. H. Granlund, "Optimal orientation detection of linear
       symmetry", Proc. 1st ICCV, 433-438, 1987.
.. [3] A. P. Pentland, "Finding the illuminant direction", J. Opt. Soc. Am.
       72(4):448-455, 1982.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .areas import CLIPPED_LINEAR, Change, change, tiled_bound
from .metrics import area_metrics, log_luminance, masked_smooth
from .reasons import Reason

METRICS = area_metrics("cellulite")

FINE_MM = 2.0
BACKGROUND_MM = 12.0
AXIS_MM = 2.5
SHADOW_CONTRAST = 0.08
MAX_GRADIENT_CHANGE = 0.15      # ln Y per 100 mm
MAX_AXIS_CHANGE_DEG = 30.0
MIN_COHERENCE = 0.15
MAX_CLIPPED_SHARE = 0.05
MIN_PIXELS = 400


@dataclass(frozen=True)
class Light:
    """How the light falls on the region, from its shading (module docstring).

    ``gradient`` is ``(d/dx, d/dy)`` of the background log luminance per
    100 mm of skin (image axes: x right, y down); ``azimuth_deg`` its
    direction (towards the brighter side; -90 is the image's top);
    ``axis_deg`` the dimple-scale shading axis (0-180) and ``coherence`` its
    strength (0 isotropic, 1 one direction).
    """

    gradient: tuple[float, float]
    azimuth_deg: float
    axis_deg: float
    coherence: float

    def to_dict(self) -> dict:
        return {"gradient_per_100mm": list(self.gradient), "azimuth_deg": self.azimuth_deg,
                "axis_deg": self.axis_deg, "coherence": self.coherence}


@dataclass(frozen=True, eq=False)
class CelluliteMeasurement:
    """Dimple shadows in one photo's marked region (in the analysis frame)."""

    values: dict
    refused: dict
    light: Light | None
    shadow: np.ndarray | None  # bool, shadowed-depression pixels

    def to_dict(self) -> dict:
        return {"metrics": dict(self.values), "refused": {m: r.to_dict() for m, r in self.refused.items()},
                "light": None if self.light is None else self.light.to_dict()}


def dimple_band(log_y: np.ndarray, region: np.ndarray, px_per_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """The dimple band of log luminance and its background, over the region (module docstring)."""
    fine = masked_smooth(log_y, region, max(0.5, FINE_MM * px_per_mm))
    background = masked_smooth(log_y, region, BACKGROUND_MM * px_per_mm)
    return fine - background, background


def dimple_shadow_pct(band: np.ndarray, region: np.ndarray) -> float:
    """Share of the region in shadowed depressions at the dimple scale.

    Units: percent of the region's area. Colour space: log of linear-light
    sRGB luminance, band-passed between Gaussian sigmas of :data:`FINE_MM` and
    :data:`BACKGROUND_MM` millimetres of skin; a pixel counts when it is at
    least :data:`SHADOW_CONTRAST` darker than its surroundings. Region: the
    marked skin of the thighs or buttocks, minus the scale marker and clipped
    pixels. Reference: an image companion to the Hexsel Cellulite Severity
    Scale (Hexsel et al., JEADV 2009), whose depressions it measures under
    the scale's standard light from above; the clinician's score is recorded
    separately.
    """
    return float(100.0 * (band[region] < np.log(1 - SHADOW_CONTRAST)).mean())


def estimate_light(log_y: np.ndarray, background: np.ndarray, region: np.ndarray, px_per_mm: float) -> Light:
    """The light's direction in the image plane from the region's shading (module docstring)."""
    ys, xs = np.nonzero(region)
    design = np.column_stack([xs / px_per_mm, ys / px_per_mm, np.ones(len(xs))])
    (gx, gy, _), *_ = np.linalg.lstsq(design, background[ys, xs], rcond=None)
    gx, gy = 100 * gx, 100 * gy
    dimples = masked_smooth(log_y, region, AXIS_MM * px_per_mm) - background  # no texture, only dimples
    dy, dx = np.gradient(np.where(region, dimples, 0.0))
    inner = region & np.roll(region, 1, 0) & np.roll(region, -1, 0) & np.roll(region, 1, 1) & np.roll(region, -1, 1)
    jxx, jyy, jxy = (dx[inner] ** 2).sum(), (dy[inner] ** 2).sum(), (dx[inner] * dy[inner]).sum()
    axis = 0.5 * np.degrees(np.arctan2(2 * jxy, jxx - jyy)) % 180
    coherence = np.hypot(jxx - jyy, 2 * jxy) / max(jxx + jyy, 1e-12)
    return Light((float(gx), float(gy)), float(np.degrees(np.arctan2(gy, gx))), float(axis), float(coherence))


def light_changed(photo: Light, baseline: Light) -> Reason | None:
    """``light_direction`` when the photo's light falls differently from the baseline's, else None."""
    moved = float(np.hypot(photo.gradient[0] - baseline.gradient[0], photo.gradient[1] - baseline.gradient[1]))
    if moved > MAX_GRADIENT_CHANGE:
        return Reason("light_direction", f"the shading across the region changed by {moved:.2f} ln Y per 100 mm "
                                         f"(at most {MAX_GRADIENT_CHANGE} allowed): the light comes from "
                                         "elsewhere than in the baseline")
    turn = abs((photo.axis_deg - baseline.axis_deg + 90) % 180 - 90)
    if min(photo.coherence, baseline.coherence) >= MIN_COHERENCE and turn > MAX_AXIS_CHANGE_DEG:
        return Reason("light_direction", f"the dimples are shaded along an axis turned {turn:.0f} degrees from "
                                         "the baseline's: the light comes from elsewhere")
    return None


def measure(linear: np.ndarray, region: np.ndarray, px_per_mm: float) -> CelluliteMeasurement:
    """``dimple_shadow_pct`` and the light's direction over the region of one linear-light image
    (float32, H x W x 3) in the analysis frame."""
    clipped = (linear >= CLIPPED_LINEAR).any(axis=2) & region
    if region.sum() < MIN_PIXELS:
        reason = Reason("region_hidden", "the marked region is too small or outside the photo")
        return CelluliteMeasurement({"dimple_shadow_pct": None}, {"dimple_shadow_pct": reason}, None, None)
    if clipped.sum() > MAX_CLIPPED_SHARE * region.sum():
        reason = Reason("over_exposed", f"{clipped.sum() / region.sum():.0%} of the region is over-exposed (clipped)")
        return CelluliteMeasurement({"dimple_shadow_pct": None}, {"dimple_shadow_pct": reason}, None, None)
    usable = region & ~clipped
    log_y = log_luminance(linear)
    band, background = dimple_band(log_y, usable, px_per_mm)
    light = estimate_light(log_y, background, usable, px_per_mm)
    shadow = (band < np.log(1 - SHADOW_CONTRAST)) & usable
    return CelluliteMeasurement({"dimple_shadow_pct": dimple_shadow_pct(band, usable)}, {}, light, shadow)


#: 95 % prediction bound of |change| for one more nuisance-only re-capture (``validation/body_measures.py
#: --recaptures 16``, set A: 0.361 points over 45 pairs).
NOISE_FLOOR = {"dimple_shadow_pct": 0.36}
#: Tiles of the local noise estimate, in mm of skin.
TILE_MM = 25.0


def compare(photo: CelluliteMeasurement, baseline: CelluliteMeasurement, region: np.ndarray,
            px_per_mm: float) -> dict[str, Change]:
    """The change of ``dimple_shadow_pct`` since the baseline with its 95 % noise bound, refused when the
    light's direction changed (:func:`light_changed`)."""
    m = "dimple_shadow_pct"
    refused = photo.refused.get(m) or baseline.refused.get(m)
    if refused is None:
        refused = light_changed(photo.light, baseline.light)
    noise = None
    if refused is None:
        noise = tiled_bound(photo.shadow, baseline.shadow, region, round(TILE_MM * px_per_mm), NOISE_FLOOR[m])
    return {m: change(photo.values[m], baseline.values[m], noise, refused)}
