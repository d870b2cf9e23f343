"""Hair loss: how much scalp shows through the hair, and the width of the part.

Clinics follow hair loss on standard global views of the scalp (vertex,
frontal hairline, midline part, temporal), judging how much scalp shows
through the hair. Counting single hairs needs a dermoscope; from an ordinary
camera the published approach is the *share of scalp visible*, by segmenting
hair from scalp (HairComb [1]_: percentage hair loss from clinic and phone
photographs, R^2 about 0.8 against the clinical alopecia scores). We follow
that idea with a segmentation that needs no trained model:

**Linear unmixing of luminance.** At an ordinary camera's resolution a hair
is about a pixel wide or less, so most hair pixels are *mixtures* of hair and
scalp, and a hard threshold would miscount them by how the photo happened to
be resampled. A pixel's linear-light luminance ``Y`` (sRGB, IEC 61966-2-1,
Rec. 709 weights) is the area-weighted mean of what it covers, so with the
luminance of pure hair ``Y_h`` and of bare scalp ``Y_s`` the share of scalp
in the pixel is ``(Y - Y_h) / (Y_s - Y_h)``. Its mean over the region is
preserved by any resampling, rotation or blur (each is a weighted average),
and it does not change with exposure, which scales ``Y``, ``Y_h`` and
``Y_s`` alike. The two endpoints are taken from each photo itself: Otsu's
threshold [2]_ on ``ln Y`` over the region splits dark (hair) from light
(scalp) pixels. The hair endpoint is the :data:`HAIR_PERCENTILE` th
percentile of the *pure* dark pixels, those whose whole
:data:`PURE_NEIGHBOURHOOD`-pixel neighbourhood is dark: a low percentile,
because a dark pixel beside a gap still holds some scalp, and how many such
pixels look pure depends on how the photo was resampled (the median moved
by 1.4 L* when a re-capture was aligned to its baseline, and the share with
it by 0.85 points; the 10th percentile by a third of that). The scalp
endpoint is the :data:`SCALP_PERCENTILE` th percentile of the
light pixels whose neighbourhood is light and flat (brightest over darkest
below :data:`PURE_MAX_RANGE`: skin texture, not a hair's edge); the brightest
of them because hair finer than a pixel, spread evenly, is flat too, but
darker. Texture lifts that percentile by about 1.3 of its spread (about 4 %
on the renders), which lowers the share by as much, relatively. When fewer than
:data:`MIN_PURE_SHARE` of a class is pure (dense hair over a little scalp,
photographed from too far to resolve the gaps) the share is refused
(``hair_unresolved``) rather than guessed from mixed pixels. Shares are clipped to [0, 1]: skin
texture scatters pure scalp pixels around 1, and clipping that scatter
lowers their mean by about 0.4 times its spread (under 2 % of the contrast
on the validation renders).

**Refusals.** The share is refused, with a reason code, when hair and scalp
are too alike in lightness to be told apart (``low_hair_contrast``: blond,
grey or white hair on light skin, or black hair on dark skin: CIELAB L* of
the endpoints less than :data:`MIN_CONTRAST_L` apart), when the region shows
almost only hair or only scalp so an endpoint cannot be found
(``one_class``), or when too much of it is clipped (``region_clipped``).
Those are honest limits of a photo-based measure, not failures to hide.

**Part width.** On the midline view the part is the longest connected
band of scalp (share above one half) crossing the region. Rotated along its
own axis, its width on each line across it is the sum of the scalp share
over the band's pixels on that line (so the band's soft edges count by how
much scalp they show); ``part_width_mm`` is the median over the lines, at
the photo's scale. No such band (elongation below :data:`MIN_PART_ELONGATION`
or shorter than :data:`MIN_PART_LENGTH` of the region, or a width as uneven as
a patch of thin hair's, :data:`MAX_PART_IRREGULARITY`) gives
``no_part``.

Metric                 Units           Region and meaning
---------------------  --------------  -------------------------------------------
scalp_visible_pct      % of region     share of the marked region where scalp shows
part_width_mm          mm (or nominal) median width of the midline part

References
----------
.. [1] C. Gudobba, T. Mane, A. Bayramova, et al., E. Bernardis, "Automating
       Hair Loss Labels for Universally Scoring Alopecia From Images:
       Rethinking Alopecia Scores", JAMA Dermatology, published online
       14 December 2022 (HairComb).
.. [2] N. Otsu, "A threshold selection method from gray-level histograms",
       IEEE Trans. SMC 9(1):62-66, 1979.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from skimage.filters import threshold_otsu

from .areas import CLIPPED_LINEAR, Change, change, tiled_bound
from .colour import srgb_to_linear
from .metrics import area_metrics
from .reasons import Reason

METRICS = area_metrics("scalp")

PURE_NEIGHBOURHOOD = 3
PURE_MAX_RANGE = 1.2
HAIR_PERCENTILE = 10.0
SCALP_PERCENTILE = 75.0
MIN_PURE_SHARE = 0.005
MIN_CONTRAST_L = 25.0
MIN_CLASS_SHARE = 0.02
MAX_CLIPPED_SHARE = 0.05
MIN_PIXELS = 400
MIN_PART_ELONGATION = 4.0
MIN_PART_LENGTH = 0.5
#: A part has a steady width: interquartile range of the widths at most this fraction of the median.
MAX_PART_IRREGULARITY = 0.5


def _luminance(linear: np.ndarray) -> np.ndarray:
    return linear @ np.array([0.2126, 0.7152, 0.0722], np.float32)


def _l_star(y: float) -> float:
    return float(116 * np.cbrt(y) - 16 if y > 0.008856 else 903.3 * y)


@dataclass(frozen=True, eq=False)
class ScalpMeasurement:
    """Hair and scalp in one photo's marked region (in the analysis frame).

    ``scalp`` is the per-pixel share of scalp (0 to 1, NaN outside the
    region); ``values`` the metrics (None where refused) and ``refused`` the
    reason for each refused metric.
    """

    values: dict
    refused: dict
    hair_l_star: float | None
    scalp_l_star: float | None
    scalp: np.ndarray | None
    part_axis: tuple | None  # (centre x, centre y, angle in radians) of the part, in the frame: to draw it

    def to_dict(self) -> dict:
        return {"metrics": dict(self.values), "refused": {m: r.to_dict() for m, r in self.refused.items()},
                "hair_l_star": self.hair_l_star, "scalp_l_star": self.scalp_l_star,
                "part_axis": None if self.part_axis is None else list(self.part_axis)}


def _refuse_all(code: str, message: str, hair_l=None, scalp_l=None) -> ScalpMeasurement:
    reason = Reason(code, message)
    return ScalpMeasurement(dict.fromkeys(METRICS), dict.fromkeys(METRICS, reason), hair_l, scalp_l, None, None)


def _endpoint(y: np.ndarray, cls: np.ndarray, flat: bool) -> float | None:
    """Luminance of pure hair or pure scalp, from pixels whose whole neighbourhood is of the class, and
    ``flat`` if asked (no mixed pixel, and unbiased by texture); None when too few are."""
    kernel = np.ones((PURE_NEIGHBOURHOOD,) * 2, np.uint8)
    pure = cv2.erode(cls.astype(np.uint8), kernel).astype(bool)
    if not flat:
        enough = pure.sum() >= MIN_PURE_SHARE * cls.sum()
        return float(np.percentile(y[pure], HAIR_PERCENTILE)) if enough else None
    # No hair's edge nearby, only skin texture. Hair finer than a pixel, evenly spread, is flat too but
    # darker: the brightest flat pixels are bare scalp.
    pure &= cv2.dilate(y, kernel) < PURE_MAX_RANGE * cv2.erode(y, kernel)
    return float(np.percentile(y[pure], SCALP_PERCENTILE)) if pure.sum() >= MIN_PURE_SHARE * cls.sum() else None


def scalp_share(linear: np.ndarray, region: np.ndarray) -> tuple[np.ndarray | None, float, float, Reason | None]:
    """Per-pixel share of visible scalp by linear unmixing (module docstring).

    Parameters
    ----------
    linear : ndarray of float32, shape (H, W, 3)
        Linear-light sRGB in [0, 1] (resampled in linear light: see :func:`as_linear`).
    region : ndarray of bool, shape (H, W)

    Returns
    -------
    share : ndarray of float32 or None
        0 (hair) to 1 (scalp) in the region, NaN elsewhere; None when refused.
    hair_l, scalp_l : float
        CIELAB L* of the hair and scalp endpoints (NaN when not found).
    refusal : Reason or None
    """
    clipped = (linear >= CLIPPED_LINEAR).any(axis=2) & region
    if region.sum() < MIN_PIXELS:
        return None, np.nan, np.nan, Reason("region_hidden", "the marked region is too small or outside the photo")
    if clipped.sum() > MAX_CLIPPED_SHARE * region.sum():
        return None, np.nan, np.nan, Reason("over_exposed", f"{clipped.sum() / region.sum():.0%} of the region "
                                                           "is over-exposed (clipped)")
    y = np.maximum(_luminance(linear), 1e-5)
    usable = region & ~clipped
    t = threshold_otsu(np.log(y[usable]))
    dark, light = usable & (y < np.exp(t)), usable & (y >= np.exp(t))
    share_dark = dark.sum() / usable.sum()
    if min(share_dark, 1 - share_dark) < MIN_CLASS_SHARE:
        return None, np.nan, np.nan, Reason("one_class", "the region shows almost only hair or only scalp: "
                                                         "mark a region where both are seen")
    y_h, y_s = _endpoint(y, dark, False), _endpoint(y, light, True)
    if y_h is None or y_s is None:
        return None, np.nan, np.nan, Reason(
            "hair_unresolved", f"too few pixels of pure {'hair' if y_h is None else 'scalp'} are resolved to "
                               "calibrate the segmentation: take the photo closer")
    hair_l, scalp_l = _l_star(y_h), _l_star(y_s)
    if scalp_l - hair_l < MIN_CONTRAST_L:
        return None, hair_l, scalp_l, Reason(
            "low_hair_contrast", f"hair and scalp differ by only {scalp_l - hair_l:.0f} L* (at least "
                                 f"{MIN_CONTRAST_L:.0f} needed): light hair on light skin, or dark on dark, "
                                 "cannot be segmented from a photo")
    share = np.clip((y - y_h) / (y_s - y_h), 0.0, 1.0).astype(np.float32)
    share[~region] = np.nan
    return share, hair_l, scalp_l, None


def scalp_visible_pct(share: np.ndarray, region: np.ndarray) -> float:
    """Share of the marked region where scalp shows through the hair.

    Units: percent of the region's area (0 = fully covered by hair, 100 = bare
    scalp). Colour space: linear-light sRGB luminance, unmixed between the
    photo's own hair and scalp endpoints (module docstring), so independent of
    exposure and of resampling. Region: the marked scalp region in the
    analysis frame, minus the scale marker. Reference: the share-of-scalp
    approach of HairComb (Gudobba et al., JAMA Dermatology 2022).
    """
    return float(100.0 * np.nanmean(share[region]))


def _part(share: np.ndarray, region: np.ndarray) -> tuple[np.ndarray, float] | None:
    """The part's mask and axis angle: the longest scalp band crossing the region, or None."""
    scalp = ((share > 0.5) & region).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(scalp, connectivity=8)
    if n < 2:
        return None
    ys, xs = np.nonzero(region)
    best = None
    for k in range(1, n):
        if stats[k, cv2.CC_STAT_AREA] < 50:
            continue
        py, px = np.nonzero(labels == k)
        pts = np.column_stack([px, py]).astype(np.float64)
        centred = pts - pts.mean(axis=0)
        evals, evecs = np.linalg.eigh(np.cov(centred.T))
        axis = evecs[:, 1]
        along = centred @ axis
        length = np.ptp(along)
        width = len(pts) / max(length, 1)
        extent = np.ptp(np.column_stack([xs, ys]) @ axis)
        if length / width >= MIN_PART_ELONGATION and length >= MIN_PART_LENGTH * extent:
            if best is None or length > best[2]:
                best = (labels == k, float(np.arctan2(axis[1], axis[0])), length)
    return None if best is None else (best[0], best[1])


def part_widths_px(share: np.ndarray, region: np.ndarray) -> tuple[np.ndarray, tuple] | None:
    """Width of the part, in pixels, on each line across it (module docstring), and its axis.

    Returns None when no part is found.
    """
    found = _part(share, region)
    if found is None:
        return None
    mask, angle = found
    band = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool) & region
    py, px = np.nonzero(mask)
    centre = (float(px.mean()), float(py.mean()))
    # rotate so that the part runs down the rows
    rotation = cv2.getRotationMatrix2D(centre, np.degrees(angle) - 90.0, 1.0)
    h, w = share.shape
    weights = np.where(band, np.nan_to_num(share), 0.0).astype(np.float32)
    turned = cv2.warpAffine(weights, rotation, (w, h), flags=cv2.INTER_LINEAR)
    inside = cv2.warpAffine(region.astype(np.float32), rotation, (w, h), flags=cv2.INTER_NEAREST) > 0.5
    on_part = cv2.warpAffine(mask.astype(np.float32), rotation, (w, h), flags=cv2.INTER_NEAREST) > 0.5
    rows = np.nonzero(on_part.any(axis=1))[0]
    # only lines the part crosses fully inside the region: its ends are cut by the region's edge
    full = [r for r in rows if inside[r, np.nonzero(on_part[r])[0]].all() and inside[r].sum() > 0]
    keep = np.asarray(full[len(full) // 10: len(full) - len(full) // 10], dtype=int)
    if len(keep) < 5:
        return None
    widths = turned[keep].sum(axis=1)
    q1, median, q3 = np.percentile(widths, [25, 50, 75])
    if q3 - q1 > MAX_PART_IRREGULARITY * median:
        return None  # a patch of thin hair, not a combed part
    return widths, (centre[0], centre[1], angle)


def part_width_mm(widths_px: np.ndarray, px_per_mm: float) -> float:
    """Median width of the midline part.

    Units: millimetres of scalp at the photo's scale (from a printed marker,
    or nominal when there is none: ``scale.nominal``). Colour space: linear
    luminance unmixed into scalp share. Region: the part, the longest band of
    visible scalp crossing the marked region on the midline view. Reference:
    the midline-part view of standard global scalp photography and the share
    of scalp visible of HairComb (Gudobba et al., JAMA Dermatology 2022).
    """
    return float(np.median(widths_px) / px_per_mm)


def as_linear(rgb: np.ndarray) -> np.ndarray:
    """uint8 sRGB to linear light, float32: resample in linear light, where a pixel's value is the
    area-weighted mean of what it covers (resampling sRGB values would darken every mixed pixel)."""
    return srgb_to_linear(rgb.astype(np.float32) / 255.0)


def measure(linear: np.ndarray, region: np.ndarray, px_per_mm: float) -> ScalpMeasurement:
    """Both scalp metrics over the region of one linear-light image in the analysis frame."""
    share, hair_l, scalp_l, refusal = scalp_share(linear, region)
    hl = None if np.isnan(hair_l) else hair_l
    sl = None if np.isnan(scalp_l) else scalp_l
    if refusal is not None:
        return _refuse_all(refusal.code, refusal.message, hl, sl)
    values = {"scalp_visible_pct": scalp_visible_pct(share, region), "part_width_mm": None}
    refused = {}
    part = part_widths_px(share, region)
    if part is None:
        refused["part_width_mm"] = Reason("no_part", "no part line crosses the marked region")
    else:
        values["part_width_mm"] = part_width_mm(part[0], px_per_mm)
    return ScalpMeasurement(values, refused, hl, sl, share, None if part is None else part[1])


#: 95 % prediction bound of |change| for one more nuisance-only re-capture (``validation/body_measures.py
#: --recaptures 16``, set A: 0.457 points over 48 pairs; part width 0.008 mm over 16 pairs, kept at 0.05 mm,
#: under a pixel of the renders).
NOISE_FLOOR = {"scalp_visible_pct": 0.46, "part_width_mm": 0.05}
#: Tiles of the local noise estimate, in mm of scalp.
TILE_MM = 5.0


def compare(photo: ScalpMeasurement, baseline: ScalpMeasurement, region: np.ndarray,
            px_per_mm: float) -> dict[str, Change]:
    """Each metric's change since the baseline with its 95 % noise bound (:mod:`analysis.areas`)."""
    out = {}
    for m in METRICS:
        refused = photo.refused.get(m) or baseline.refused.get(m)
        noise = NOISE_FLOOR[m]
        if m == "scalp_visible_pct" and refused is None:
            noise = tiled_bound(photo.scalp, baseline.scalp, region, round(TILE_MM * px_per_mm), NOISE_FLOOR[m])
        out[m] = change(photo.values[m], baseline.values[m], noise, refused)
    return out
