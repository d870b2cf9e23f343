"""Skin metrics over a region: redness, brightness, evenness, texture and spots.

All metrics are computed on a face resampled to a canonical scale (see
:mod:`analysis.pipeline`), in which ``px_per_mm`` pixels span one millimetre
of skin, taking the adult mean inter-pupillary distance of
:data:`MEAN_IPD_MM` [1]_ as the ruler. Spatial scales below are therefore in
millimetres of skin, never in pixels, so a photo taken closer does not read
as rougher. A scale smaller than one pixel is clamped to one pixel: fine
texture in a small face is measured as finely as the photo allows, and both
photos of a comparison are resampled to the same scale.

Colour metrics use CIELAB (D65) computed from sRGB [2]_ and leave out
specular highlights and deep shadows. Texture metrics use log luminance,
``ln Y`` with ``Y`` the linear-light luminance of sRGB, in which an exposure
change is an additive constant that a high-pass filter removes: texture does
not change when only the exposure does.

Metric               Units            Meaning
-------------------  ---------------  ------------------------------------------
redness_a_star       CIELAB a*        mean red-green opponent coordinate
erythema_index       EI (x100 log10)  mean ``100 log10(R/G)`` of linear RGB
red_area_pct         % of region      pixels with a* markedly above the median
brightness_l_star    CIELAB L*        mean lightness
ita_deg              degrees          individual typology angle of mean L*, b*
evenness_l_std       CIELAB L*        spread of L* after removing face shading
texture_roughness    % contrast       RMS fine-scale log-luminance variation
line_density_pct     % of region      pixels on a dark line (Hessian ridge)
spot_count           count            dark spots larger than a minimum area
spot_area_pct        % of region      area covered by dark spots

References
----------
.. [1] N. A. Dodgson, "Variation and extrema of human interpupillary
       distance", Proc. SPIE 5291, Stereoscopic Displays and Virtual Reality
       Systems XI, 2004. Adult mean 63 mm.
.. [2] CIE 15:2004, "Colorimetry", 3rd edition.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


MEAN_IPD_MM = 63.0


@dataclass(frozen=True)
class Metric:
    """What a metric is, for everyone who shows it: the one registry of names, labels, units and directions.

    ``better`` says which way is an improvement for a treatment (``"lower"``,
    ``"higher"``, or ``None`` when neither is, as for constitutive skin colour);
    ``word`` is the plain name used in sentences ("redness down 12 %");
    ``summary`` marks the metrics shown in plain-language summaries and charts;
    ``area`` is ``None`` for the skin metrics of this module (faces and marked
    body areas), else the treatment area whose own measures it belongs to
    (``"scalp"``: :mod:`analysis.scalp`, ``"cellulite"``: :mod:`analysis.cellulite`);
    ``clinician`` marks a score recorded by a clinician, not measured from a photo.
    """

    name: str
    label: str
    unit: str
    better: str | None
    word: str
    summary: bool = False
    area: str | None = None
    clinician: bool = False


REGISTRY: dict[str, Metric] = {m.name: m for m in (
    Metric("redness_a_star", "Redness", "a*", "lower", "redness", summary=True),
    Metric("erythema_index", "Erythema index", "EI", "lower", "erythema"),
    Metric("red_area_pct", "Red area", "% of skin", "lower", "red area"),
    Metric("brightness_l_star", "Brightness", "L*", "higher", "brightness", summary=True),
    Metric("ita_deg", "Skin tone angle (ITA)", "degrees", None, "skin tone angle"),
    Metric("evenness_l_std", "Unevenness", "L* spread", "lower", "unevenness", summary=True),
    Metric("texture_roughness", "Texture roughness", "% contrast", "lower", "texture roughness", summary=True),
    Metric("line_density_pct", "Fine lines", "% of skin", "lower", "fine lines"),
    Metric("spot_count", "Dark spots", "count", "lower", "dark spots"),
    Metric("spot_area_pct", "Dark spot area", "% of skin", "lower", "dark spot area"),
    Metric("scalp_visible_pct", "Scalp showing", "% of region", "lower", "scalp showing", summary=True,
           area="scalp"),
    Metric("part_width_mm", "Part width", "mm", "lower", "part width", summary=True, area="scalp"),
    Metric("dimple_shadow_pct", "Dimple shadows", "% of region", "lower", "dimple shadows", summary=True,
           area="cellulite"),
    Metric("hexsel_total", "Hexsel cellulite severity", "points of 15", "lower", "Hexsel score", summary=True,
           area="cellulite", clinician=True),
)}


def area_metrics(area: str | None) -> tuple[str, ...]:
    """The metrics measured from photos of ``area`` (None: the skin metrics of faces and body areas)."""
    return tuple(n for n, m in REGISTRY.items() if m.area == area and not m.clinician)


#: The skin metrics of this module.
METRICS = area_metrics(None)
#: Regions with fewer pixels than this give no metrics (None).
MIN_PIXELS = 30
#: Texture and lines need the analysis frame to resolve this many pixels per mm of skin; spots need the
#: second. Below 5 px/mm the texture band is the frame's finest octave (:func:`texture_band_px`: sigmas 1
#: and 2 px), a difference of Gaussians whose half-power band spans periods of 3.7 to 14 px, peaking at
#: 6.5 px. At 1.5 px/mm that is 2.5 to 9.3 mm of skin (peak 4.4 mm): fine lines, wrinkles and skin relief,
#: still finer than the face's own folds and features (10 mm and more), which a coarser frame lets into
#: the band. The line filter's finest scale (one pixel) is then 0.7 mm. On faces-london's real pairs
#: (``validation/texture.py``, ``validation/results/texture.txt``) a 30 % smoothing of the forehead was
#: seen beyond the other people's no-change p95 in 95 % of pairs as taken (1.8 px/mm), 92 % at
#: 1.5 px/mm and 76 % at 1.2 px/mm, where the cheeks' detection falls to 0-11 %.
MIN_TEXTURE_PX_PER_MM = 1.5
MIN_SPOT_PX_PER_MM = 1.0

RED_MARGIN_A = 4.0            # a* units above the reference median: "markedly redder"
# A Gaussian of sigma s removes detail of period below about 2*pi*s, so these
# sigmas bound a band of periods from about 0.6 to 2.5 mm: pores and fine lines.
FINE_TEXTURE_MM = (0.1, 0.4)  # Gaussian sigmas bounding the fine-texture band
LINE_SIGMAS_MM = (0.15, 0.3)  # ridge-filter scales for fine lines and wrinkles
LINE_THRESHOLD = 1.0          # scale-normalised curvature, % log-luminance contrast
EVENNESS_SHADING_MM = 12.0    # sigma of the face-shading component removed before the L* spread
SPOT_BACKGROUND_MM = 6.0      # sigma of the local skin background for spots
SPOT_DELTA_L = 5.0            # L* below the local background that makes a pixel "dark"
SPOT_MIN_DIAMETER_MM = 1.0    # smaller dark specks (pores, noise) are not spots
_EPS = 1e-4


def _sigma_px(mm: float, px_per_mm: float) -> float:
    return max(1.0, mm * px_per_mm)


def texture_band_px(px_per_mm: float) -> tuple[float, float]:
    """Gaussian sigmas, in pixels, of the fine-texture band at this scale.

    :data:`FINE_TEXTURE_MM` converted to pixels, the finer clamped to one
    pixel and the coarser to at least twice the finer: the top octave of a
    small face holds interpolation and JPEG loss rather than skin.
    """
    fine = _sigma_px(FINE_TEXTURE_MM[0], px_per_mm)
    return fine, max(2.0 * fine, FINE_TEXTURE_MM[1] * px_per_mm)


#: Above this sigma (pixels) smoothing runs on a reduced image: the result is
#: smooth at that scale anyway, and a full-size kernel costs O(sigma) per pixel.
_DIRECT_SIGMA_PX = 6.0


def _blur(image: np.ndarray, sigma_px: float) -> np.ndarray:
    if sigma_px <= _DIRECT_SIGMA_PX:
        return cv2.GaussianBlur(image, (0, 0), sigma_px)
    factor = _DIRECT_SIGMA_PX / 2 / sigma_px
    h, w = image.shape[:2]
    small = cv2.resize(image, (max(1, round(w * factor)), max(1, round(h * factor))), interpolation=cv2.INTER_AREA)
    # Area averaging already blurred by about half a reduced pixel: take that off the kernel.
    small = cv2.GaussianBlur(small, (0, 0), np.sqrt(max((sigma_px * factor) ** 2 - 0.25, 0.25)))
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def masked_smooth(values: np.ndarray, mask: np.ndarray, sigma_px: float) -> np.ndarray:
    """Gaussian smoothing of ``values`` using only pixels in ``mask`` (normalised convolution).

    Pixels outside the mask neither contribute nor receive meaningful values.
    """
    m = mask.astype(np.float32)
    num = _blur(values.astype(np.float32) * m, sigma_px)
    den = _blur(m, sigma_px)
    return num / np.maximum(den, _EPS)


def log_luminance(linear: np.ndarray) -> np.ndarray:
    """Natural log of relative luminance ``Y`` (ITU-R BT.709 weights) of linear sRGB."""
    y = linear @ np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)
    return np.log(np.maximum(y, _EPS))


def erythema_map(linear: np.ndarray) -> np.ndarray:
    """Per-pixel erythema index ``100 * log10(R / G)`` of linear sRGB.

    Haemoglobin absorbs green light strongly and red light weakly, so the
    log-ratio of red to green reflectance rises with blood content; the
    dermatological erythema index is 100 times the difference of the
    apparent absorbances ``log10(1/G) - log10(1/R)`` [1]_. Camera channels
    stand in for the narrow-band reflectances, so values are comparable
    between photos of one camera set-up, not with meter readings.

    References
    ----------
    .. [1] J. B. Dawson, D. J. Barker, D. J. Ellis et al., "A theoretical and
           experimental study of light absorption and scattering by in vivo
           skin", Phys. Med. Biol. 25(4):695-709, 1980.
    """
    r = np.maximum(linear[..., 0], _EPS)
    g = np.maximum(linear[..., 1], _EPS)
    return 100.0 * np.log10(r / g)


def redness_a_star(lab: np.ndarray, mask: np.ndarray) -> float:
    """Mean CIELAB a* over the mask.

    a* is the red(+)/green(-) opponent coordinate of CIELAB (D65). It rises
    with erythema and is the standard colorimetric redness measure in skin
    research [1]_. A change of about 1 a* unit is at the edge of visibility.

    References
    ----------
    .. [1] P. Clarys, K. Alewaeters, R. Lambrecht, A. O. Barel, "Skin color
           measurements: comparison between three instruments: the
           Chromameter, the DermaSpectrometer and the Mexameter", Skin Res.
           Technol. 6(4):230-238, 2000.
    """
    return float(lab[..., 1][mask].mean())


def erythema_index(ei_map: np.ndarray, mask: np.ndarray) -> float:
    """Mean erythema index over the mask, in EI units (see :func:`erythema_map`)."""
    return float(ei_map[mask].mean())


def red_area_pct(lab: np.ndarray, mask: np.ndarray, reference_a_star: float) -> float:
    """Percentage of the mask whose a* exceeds ``reference_a_star`` by more than :data:`RED_MARGIN_A`.

    ``reference_a_star`` is the median a* of the client's skin in the
    *baseline* photo, so that a course-wide fall in redness shows as a smaller
    red area rather than moving the threshold with it. Units: percent of the
    region's pixels. The margin of 4 a* units is about twice the
    just-noticeable colour difference (Delta E*ab ~ 2.3 [1]_).

    References
    ----------
    .. [1] M. Mahy, L. Van Eycken, A. Oosterlinck, "Evaluation of uniform color
           spaces developed after the adoption of CIELAB and CIELUV", Color
           Res. Appl. 19(2):105-121, 1994.
    """
    return float(100.0 * np.mean(lab[..., 1][mask] > reference_a_star + RED_MARGIN_A))


def brightness_l_star(lab: np.ndarray, mask: np.ndarray) -> float:
    """Mean CIELAB L* (lightness, 0 black to 100 white) over the mask [CIE 15:2004]."""
    return float(lab[..., 0][mask].mean())


def ita_deg(lab: np.ndarray, mask: np.ndarray) -> float:
    """Individual typology angle, ``ITA = atan2(L* - 50, b*)`` in degrees, from mean L* and b*.

    ITA classifies constitutive skin colour: above 55 degrees very light,
    41-55 light, 28-41 intermediate, 10-28 tan, -30-10 brown, below -30
    dark [1]_. It rises as skin lightens or yellows less.

    References
    ----------
    .. [1] A. Chardon, I. Cretois, C. Hourseau, "Skin colour typology and
           suntanning pathways", Int. J. Cosmet. Sci. 13(4):191-208, 1991.
    """
    lightness = lab[..., 0][mask].mean()
    b_star = lab[..., 2][mask].mean()
    return float(np.degrees(np.arctan2(lightness - 50.0, b_star)))


def evenness_l_std(shading_free_l: np.ndarray, mask: np.ndarray) -> float:
    """Standard deviation of L* over the mask after removing the face's shading, in L* units.

    The large-scale component (Gaussian, sigma :data:`EVENNESS_SHADING_MM`)
    is the shape of the face under the light, not the skin; what remains is
    mottling and blotchiness, whose spread is the usual image measure of
    colour evenness [1]_. Lower is more even.

    References
    ----------
    .. [1] P. Matts, B. Fink, K. Grammer, M. Burquest, "Color homogeneity and
           visual perception of age, health, and attractiveness of female
           facial skin", J. Am. Acad. Dermatol. 57(6):977-984, 2007.
    """
    return float(shading_free_l[mask].std())


def texture_roughness(fine_log_y: np.ndarray, mask: np.ndarray) -> float:
    """RMS fine-scale log-luminance variation over the mask, in percent.

    ``fine_log_y`` is the band of ``ln Y`` between Gaussian smoothings at the
    two sigmas of :func:`texture_band_px` (0.1 and 0.4 mm of skin, periods
    of about 0.6 to 2.5 mm, a difference of Gaussians; at the usual analysis
    scales both are clamped to the frame's finest octave, 1 and 2 pixels);
    its root mean square is the image analogue of
    the profile roughness Rq of ISO 4287 [1]_, with log luminance standing
    in for height (pores, fine lines and micro-relief cast small shadows).
    ``100 * RMS(d ln Y)`` reads as percent contrast. It is invariant to
    exposure by construction and lower for smoother skin.

    References
    ----------
    .. [1] ISO 4287:1997, "Geometrical Product Specifications (GPS) - Surface
           texture: Profile method - Terms, definitions and surface texture
           parameters", Rq.
    """
    return float(100.0 * np.sqrt(np.mean(fine_log_y[mask] ** 2)))


def ridge_map(log_y: np.ndarray, px_per_mm: float) -> np.ndarray:
    """Dark-line strength: largest scale-normalised Hessian eigenvalue of ``100 ln Y``.

    At each scale sigma in :data:`LINE_SIGMAS_MM` the image is smoothed and
    its Hessian's eigenvalues ``l1 >= l2`` computed. A dark line has strong
    positive curvature across it (``l1 > 0``) and little along it; a dark
    blob curves both ways and is left to the spot metric (``l2 < l1 / 2``).
    The response ``sigma**2 * l1`` is scale-normalised [2]_ and the maximum
    over scales is kept, after Sato et al. [1]_. Units: percent
    log-luminance contrast.

    References
    ----------
    .. [1] Y. Sato, S. Nakajima, N. Shiraga et al., "Three-dimensional
           multi-scale line filter for segmentation and visualization of
           curvilinear structures in medical images", Med. Image Anal.
           2(2):143-168, 1998.
    .. [2] T. Lindeberg, "Edge detection and ridge detection with automatic
           scale selection", Int. J. Comput. Vision 30(2), 1998.
    """
    image = 100.0 * log_y.astype(np.float32)
    best = np.zeros_like(image)
    for mm in LINE_SIGMAS_MM:
        sigma = _sigma_px(mm, px_per_mm)
        smooth = cv2.GaussianBlur(image, (0, 0), sigma)
        dy, dx = np.gradient(smooth)
        dyy, dyx = np.gradient(dy)
        dxy, dxx = np.gradient(dx)
        half_trace = (dxx + dyy) / 2
        root = np.sqrt(((dxx - dyy) / 2) ** 2 + dxy ** 2)
        l1, l2 = half_trace + root, half_trace - root
        response = np.where((l1 > 0) & (l2 < l1 / 2), sigma ** 2 * l1, 0.0)
        best = np.maximum(best, response)
    return best


def line_density_pct(ridges: np.ndarray, mask: np.ndarray) -> float:
    """Percentage of the mask lying on a dark line (ridge response above :data:`LINE_THRESHOLD`).

    A density of lines and wrinkles from a Hessian ridge filter, as in
    automated wrinkle assessment [1]_. Units: percent of the region's pixels.

    References
    ----------
    .. [1] C.-C. Ng, M. H. Yap, N. Costen, B. Li, "Automatic wrinkle
           detection using hybrid Hessian filter", ACCV 2014, LNCS 9005.
    """
    return float(100.0 * np.mean(ridges[mask] > LINE_THRESHOLD))


def dark_spots(lightness: np.ndarray, mask: np.ndarray, px_per_mm: float) -> np.ndarray:
    """Label image of dark spots: connected areas markedly darker than the local skin.

    A pixel is dark when its L* is more than :data:`SPOT_DELTA_L` below the
    local skin background (masked Gaussian, sigma :data:`SPOT_BACKGROUND_MM`);
    8-connected dark areas at least the size of a disc of diameter
    :data:`SPOT_MIN_DIAMETER_MM` are spots. Label 0 is background.
    """
    background = masked_smooth(lightness, mask, _sigma_px(SPOT_BACKGROUND_MM, px_per_mm))
    dark = (mask & (lightness < background - SPOT_DELTA_L)).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(dark, connectivity=8)
    min_area = max(2.0, np.pi / 4 * (SPOT_MIN_DIAMETER_MM * px_per_mm) ** 2)
    keep = np.zeros(n, dtype=np.int32)
    big = np.nonzero(stats[1:, cv2.CC_STAT_AREA] >= min_area)[0] + 1
    keep[big] = np.arange(1, len(big) + 1)
    return keep[labels]


def spot_count(spots: np.ndarray, mask: np.ndarray) -> int:
    """Number of dark spots (see :func:`dark_spots`) with at least one pixel in the mask."""
    return int(np.count_nonzero(np.bincount(spots[mask])[1:]))


def spot_area_pct(spots: np.ndarray, mask: np.ndarray) -> float:
    """Percentage of the mask covered by dark spots (see :func:`dark_spots`)."""
    return float(100.0 * np.mean(spots[mask] > 0))


@dataclass(frozen=True)
class SkinMaps:
    """Per-pixel quantities of one image from which every metric is a reduction over a mask."""

    lab: np.ndarray
    erythema: np.ndarray
    fine_log_y: np.ndarray
    ridges: np.ndarray
    shading_free_l: np.ndarray
    spots: np.ndarray
    px_per_mm: float
    colour_mask: np.ndarray   # skin for colour metrics: no highlights, shadows, hair
    texture_mask: np.ndarray  # skin for texture metrics: no hair, no clipped pixels, away from skin edges


def skin_maps(linear: np.ndarray, lab: np.ndarray, colour_mask: np.ndarray, texture_mask: np.ndarray,
              px_per_mm: float, context: np.ndarray | None = None) -> SkinMaps:
    """Compute every per-pixel map once for an image at the canonical scale.

    Parameters
    ----------
    linear : ndarray of float32, shape (H, W, 3)
        Linear-light sRGB in [0, 1] (:func:`analysis.colour.srgb_to_linear`).
    lab : ndarray of float32, shape (H, W, 3)
        The same image in CIELAB.
    colour_mask, texture_mask : ndarray of bool, shape (H, W)
        All skin usable for colour and for texture metrics.
    px_per_mm : float
        Pixels per millimetre of skin.
    context : ndarray of bool, optional
        All the skin around the regions (e.g. :func:`analysis.regions.face_skin`);
        smoothing filters average over it, so that small regions are not
        judged against their own edges. Defaults to the masks themselves.
    """
    log_y = log_luminance(linear)
    texture_context = texture_mask if context is None else texture_mask | context
    colour_context = colour_mask if context is None else colour_mask | context
    lo, hi = texture_band_px(px_per_mm)
    fine = masked_smooth(log_y, texture_context, lo) - masked_smooth(log_y, texture_context, hi)
    # Near the edge of the skin a masked filter sees one side only and reads the
    # face's shading gradient as texture: keep texture to pixels whose filter
    # window (2 sigma) lies within skin.
    inside = cv2.distanceTransform(texture_context.astype(np.uint8), cv2.DIST_L2, 3) >= 2 * hi
    texture_mask = texture_mask & inside
    lightness = lab[..., 0]
    shading = masked_smooth(lightness, colour_context, _sigma_px(EVENNESS_SHADING_MM, px_per_mm))
    return SkinMaps(
        lab=lab, erythema=erythema_map(linear), fine_log_y=fine, ridges=ridge_map(log_y, px_per_mm),
        shading_free_l=lightness - shading, spots=dark_spots(lightness, colour_context, px_per_mm),
        px_per_mm=px_per_mm, colour_mask=colour_mask, texture_mask=texture_mask,
    )


def measure(maps: SkinMaps, region: np.ndarray, reference_a_star: float) -> dict[str, float | int | None]:
    """All metrics of :data:`METRICS` over one region, plus its pixel count.

    Colour metrics use ``region & maps.colour_mask``, texture metrics
    ``region & maps.texture_mask``. A region with fewer than
    :data:`MIN_PIXELS` usable pixels gives None for its metrics, and so do
    texture, lines and spots in a frame too coarse to resolve them
    (:data:`MIN_TEXTURE_PX_PER_MM`, :data:`MIN_SPOT_PX_PER_MM`).
    """
    colour = region & maps.colour_mask
    texture = region & maps.texture_mask
    out: dict[str, float | int | None] = dict.fromkeys(METRICS)
    out["pixels"] = int(colour.sum())
    if colour.sum() >= MIN_PIXELS:
        out.update(
            redness_a_star=redness_a_star(maps.lab, colour),
            erythema_index=erythema_index(maps.erythema, colour),
            red_area_pct=red_area_pct(maps.lab, colour, reference_a_star),
            brightness_l_star=brightness_l_star(maps.lab, colour),
            ita_deg=ita_deg(maps.lab, colour),
            evenness_l_std=evenness_l_std(maps.shading_free_l, colour),
        )
        if maps.px_per_mm >= MIN_SPOT_PX_PER_MM:
            out.update(spot_count=spot_count(maps.spots, colour), spot_area_pct=spot_area_pct(maps.spots, colour))
    if texture.sum() >= MIN_PIXELS and maps.px_per_mm >= MIN_TEXTURE_PX_PER_MM:
        out.update(
            texture_roughness=texture_roughness(maps.fine_log_y, texture),
            line_density_pct=line_density_pct(maps.ridges, texture),
        )
    return out
