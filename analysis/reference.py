"""Colour references in frame: a colour checker or a grey card.

A backdrop tells how the light changed between two photos; a reference of
known colour tells what the light *is*. When both photos of a pair show the
same kind of reference, each is corrected to the reference's published
values, so the two land in one absolute colour space (linear sRGB, D65) and
photos of a course taken under different lights, or cameras, become
comparable in absolute colour, not only relative to the baseline.

* **Colour checker.** The X-Rite / Calibrite ColorChecker Classic (24
  patches) is found by OpenCV's ``mcc`` module [1]_ and a 3 x 3 colour-
  correction matrix in linear light is fitted by OpenCV's ``ccm`` module [2]_,
  minimising CIEDE2000 [3]_ between the corrected patches and the published
  sRGB values of the chart (:data:`CHART_SRGB`). A 3 x 3 matrix on linear
  values scales with exposure, so it corrects exposure, white balance and the
  camera's colour rendering at once; clipped and black-crushed patches are
  left out of the fit.
* **Grey card.** A photographic 18 % grey card, found by the rule in
  :func:`find_grey_card` or marked by the user (:func:`grey_card_from_polygon`),
  gives per-channel gains that make it neutral at L* = :data:`GREY_CARD_L_STAR`
  (a von Kries diagonal correction: exposure and white balance, not the
  camera's colour rendering).

:func:`reference_normalisation` is the one entry point for a pair: chart,
else grey card, else the backdrop (:func:`analysis.colour.backdrop_gains`),
which itself falls back to one exposure gain on a dark or noisy backdrop.

The pin ``opencv-contrib-python==4.11.0.86`` matters here: OpenCV 4.13
returns the chart's patches in a different order and 5.x moved the ``mcc``
and ``ccm`` API (see ``pyproject.toml``).

References
----------
.. [1] OpenCV, "Macbeth Chart module (mcc)", opencv_contrib 4.11,
       https://docs.opencv.org/4.11.0/dd/d19/group__mcc.html
.. [2] OpenCV, "Color Correction Model (ccm)", opencv_contrib 4.11,
       https://docs.opencv.org/4.11.0/de/df4/group__color__correction.html
.. [3] G. Sharma, W. Wu, E. N. Dalal, "The CIEDE2000 color-difference
       formula", Color Res. Appl. 30 (2005) 21-30.
.. [4] X-Rite, "ColorChecker Classic" sRGB values (D65) of the 24 patches, as
       published by X-Rite and tabulated by BabelColor (D. Pascale, "RGB
       coordinates of the Macbeth ColorChecker", 2006) and in Wikipedia's
       "ColorChecker" article.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np
from skimage.color import deltaE_ciede2000

from .resample import Pyramid
from .colour import (Normalisation, Reason, backdrop_gains, lab_from_linear, linear_to_srgb, srgb_to_linear,
                     to_lab)

#: The ColorChecker Classic's 24 patches in reading order (dark skin at top left, black at bottom
#: right, chart upright with the neutral row at the bottom): name and 8-bit sRGB (D65) [4]_.
CHART_PATCHES = (
    ("dark skin", (115, 82, 68)), ("light skin", (194, 150, 130)), ("blue sky", (98, 122, 157)),
    ("foliage", (87, 108, 67)), ("blue flower", (133, 128, 177)), ("bluish green", (103, 189, 170)),
    ("orange", (214, 126, 44)), ("purplish blue", (80, 91, 166)), ("moderate red", (193, 90, 99)),
    ("purple", (94, 60, 108)), ("yellow green", (157, 188, 64)), ("orange yellow", (224, 163, 46)),
    ("blue", (56, 61, 150)), ("green", (70, 148, 73)), ("red", (175, 54, 60)),
    ("yellow", (231, 199, 31)), ("magenta", (187, 86, 149)), ("cyan", (8, 133, 161)),
    ("white 9.5", (243, 243, 242)), ("neutral 8", (200, 200, 200)), ("neutral 6.5", (160, 160, 160)),
    ("neutral 5", (122, 122, 121)), ("neutral 3.5", (85, 85, 85)), ("black 2", (52, 52, 52)),
)
CHART_SRGB = np.array([rgb for _, rgb in CHART_PATCHES], dtype=np.float64) / 255.0
_NEUTRALS = slice(18, 24)

#: The chart is searched in a copy of the photo at most this many pixels on its longer side:
#: about 1 s for a hand-held 1024 x 768 photo on one core, and a chart filling a tenth of the
#: frame still has patches of 30 pixels or more.
CHART_DETECT_MAX_SIDE = 1024
#: Patches with an 8-bit code outside this range in some channel are clipped or crushed: not fitted.
_PATCH_CODE_RANGE = (3.0, 250.0)
#: A fit needs this many unclipped patches, and a detection whose corrected patches miss their
#: published values by more than this median CIEDE2000 is not a ColorChecker Classic (or not lit
#: evenly enough to serve as one).
MIN_CHART_PATCHES = 12
MAX_CHART_DELTA_E = 6.0

#: Grey card: the lightness it is corrected to (a photographic 18 % card) and the search rule.
GREY_CARD_L_STAR = 50.0
GREY_CARD_LINEAR = ((GREY_CARD_L_STAR + 16.0) / 116.0) ** 3  # its luminance Y (CIE 15 inverse of L*): 0.184
GREY_CARD_MAX_SIDE = 512
GREY_CARD_MAX_CHROMA = 12.0  # C*ab: neutral up to a cast of about 10 % between channels
GREY_CARD_L_RANGE = (20.0, 90.0)
GREY_CARD_MAX_STD = (2.0, 1.5)  # local standard deviation of L* and of a*, b* over 7 x 7 pixels
GREY_CARD_AREA = (0.01, 0.25)  # share of the frame
GREY_CARD_MIN_RECTANGULARITY = 0.85  # area over the area of the smallest enclosing rectangle
GREY_CARD_MAX_ASPECT = 3.0

_Matrix = tuple[tuple[float, float, float], ...]


@dataclass(frozen=True)
class ColourReference:
    """A colour reference found in a photo, and the correction it gives.

    Attributes
    ----------
    kind : str
        ``"colour_chart"`` or ``"grey_card"`` (names of :data:`analysis.colour.METHODS`).
    polygon : tuple of (x, y)
        The reference's outline in the photo's pixels (four corners), to keep
        it out of backdrop and skin masks.
    patches_rgb : tuple of (r, g, b)
        Measured mean sRGB in [0, 1] of each patch (24 for a chart in
        :data:`CHART_PATCHES` order, 1 for a grey card).
    correction : 3 x 3 tuple
        Linear sRGB row vectors times this matrix give the photo in the
        reference's standard: the chart's published values, or the grey card
        neutral at L* = :data:`GREY_CARD_L_STAR`.
    residual_delta_e : float
        Median CIEDE2000 between the corrected patches and their standard
        (0 for a grey card, neutral by construction).
    patches_used : int
        Patches in the fit (clipped ones are left out).
    """

    kind: str
    polygon: tuple[tuple[float, float], ...]
    patches_rgb: tuple[tuple[float, float, float], ...]
    correction: _Matrix
    residual_delta_e: float
    patches_used: int

    def to_dict(self) -> dict:
        return {
            "kind": self.kind, "polygon": [list(p) for p in self.polygon],
            "patches_rgb": [list(p) for p in self.patches_rgb], "correction": [list(r) for r in self.correction],
            "residual_delta_e": self.residual_delta_e, "patches_used": self.patches_used,
        }

    def polygon_array(self) -> np.ndarray:
        return np.asarray(self.polygon, dtype=np.float64)


def _as_matrix(m: np.ndarray) -> _Matrix:
    return tuple(tuple(float(v) for v in row) for row in np.asarray(m, dtype=np.float64).reshape(3, 3))


def _shrink(rgb: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    h, w = rgb.shape[:2]
    s = min(1.0, max_side / max(h, w))
    if s == 1.0:
        return rgb, 1.0
    return cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA), s


def fit_chart_correction(patches_srgb: np.ndarray) -> tuple[np.ndarray, float, int] | None:
    """Fit the 3 x 3 linear-light correction from measured chart patches to :data:`CHART_SRGB`.

    Parameters
    ----------
    patches_srgb : ndarray, shape (24, 3)
        Measured mean sRGB in [0, 1], in :data:`CHART_PATCHES` order.

    Returns
    -------
    (matrix, median CIEDE2000 after correction, patches used), or None when
    fewer than :data:`MIN_CHART_PATCHES` patches are unclipped.
    """
    codes = patches_srgb * 255.0
    lo, hi = _PATCH_CODE_RANGE
    keep = np.all((codes > lo) & (codes < hi), axis=1)
    if keep.sum() < MIN_CHART_PATCHES:
        return None
    src = srgb_to_linear(patches_srgb[keep]).astype(np.float64).reshape(-1, 1, 3)
    model = cv2.ccm.ColorCorrectionModel(src, CHART_SRGB[keep].reshape(-1, 1, 3), cv2.ccm.COLOR_SPACE_sRGB)
    model.setColorSpace(cv2.ccm.COLOR_SPACE_sRGB)
    model.setCCM_TYPE(cv2.ccm.CCM_3x3)
    model.setLinear(cv2.ccm.LINEARIZATION_IDENTITY)  # src is already linear: our own IEC 61966-2-1 decoding
    model.setDistance(cv2.ccm.DISTANCE_CIE2000)
    model.setSaturatedThreshold(0.0, 1.0)  # clipping is judged above, on the codes
    model.run()
    matrix = np.asarray(model.getCCM(), dtype=np.float64)
    corrected = np.clip(srgb_to_linear(patches_srgb[keep]) @ matrix, 0, 1)
    delta_e = deltaE_ciede2000(lab_from_linear(corrected.astype(np.float32)),
                               to_lab(CHART_SRGB[keep].astype(np.float32)))
    return matrix, float(np.median(delta_e)), int(keep.sum())


def find_colour_chart(rgb: np.ndarray, max_side: int = CHART_DETECT_MAX_SIDE) -> ColourReference | None:
    """Find a ColorChecker Classic and fit the correction to its published values.

    Parameters
    ----------
    rgb : ndarray of uint8, shape (H, W, 3)
        The photo, sRGB.
    max_side : int
        Search in a copy at most this large (area-averaged), for speed.

    Returns
    -------
    ColourReference of kind ``"colour_chart"``, or None when no chart is
    found, too many patches are clipped, the neutral row grows lighter
    somewhere from white to black (a wrong orientation or a false detection), or the fit
    leaves a median CIEDE2000 above :data:`MAX_CHART_DELTA_E`.
    """
    small, s = _shrink(rgb, max_side)
    detector = cv2.mcc.CCheckerDetector_create()
    if not detector.process(np.ascontiguousarray(small[:, :, ::-1]), cv2.mcc.MCC24, 1):
        return None
    checker = detector.getBestColorChecker()
    # getChartsRGB: one row per patch and channel (R, G, B), columns pixel count, mean, std, max, min.
    stats = np.asarray(checker.getChartsRGB(), dtype=np.float64)
    if stats.shape[0] != 3 * len(CHART_PATCHES):
        return None
    patches = stats[:, 1].reshape(len(CHART_PATCHES), 3) / 255.0
    if np.any(np.diff(patches[_NEUTRALS].mean(axis=1)) > 0):  # equal when both clip: allowed
        return None
    fit = fit_chart_correction(patches)
    if fit is None or fit[1] > MAX_CHART_DELTA_E:
        return None
    matrix, delta_e, used = fit
    polygon = np.asarray(checker.getBox(), dtype=np.float64) / s
    return ColourReference("colour_chart", tuple(tuple(map(float, p)) for p in polygon),
                           tuple(tuple(map(float, p)) for p in patches), _as_matrix(matrix), delta_e, used)


def _grey_card_gains(mean_linear: np.ndarray) -> np.ndarray:
    return GREY_CARD_LINEAR / np.maximum(mean_linear, 1e-6)


def _grey_card(mean_srgb: np.ndarray, polygon: np.ndarray) -> ColourReference:
    gains = _grey_card_gains(srgb_to_linear(mean_srgb.astype(np.float32)).astype(np.float64))
    return ColourReference("grey_card", tuple(tuple(map(float, p)) for p in polygon),
                           (tuple(map(float, mean_srgb)),), _as_matrix(np.diag(gains)), 0.0, 1)


def _local_std(x: np.ndarray, size: int = 7) -> np.ndarray:
    mean = cv2.blur(x, (size, size))
    return np.sqrt(np.maximum(cv2.blur(x * x, (size, size)) - mean * mean, 0.0))


def find_grey_card(rgb: np.ndarray, exclude: list[np.ndarray] | None = None) -> ColourReference | None:
    """Find a grey card: the largest uniform, near-neutral rectangle that is not the backdrop.

    The rule, on a copy at most :data:`GREY_CARD_MAX_SIDE` pixels long:

    1. *uniform*: the local standard deviation over 7 x 7 pixels is below
       :data:`GREY_CARD_MAX_STD` in L* and in both a* and b* (a card's edge
       and any texture fail it, so a card stands apart from a backdrop of
       the same colour);
    2. *near-neutral and well exposed*: chroma C*ab below
       :data:`GREY_CARD_MAX_CHROMA` (a card under a colour cast is not
       neutral as captured) and L* within :data:`GREY_CARD_L_RANGE`;
    3. a connected region of such pixels that covers
       :data:`GREY_CARD_AREA` of the frame, fills at least
       :data:`GREY_CARD_MIN_RECTANGULARITY` of its smallest enclosing
       rectangle, is at most :data:`GREY_CARD_MAX_ASPECT` times longer than
       wide, and does *not touch the frame's edge* (a backdrop or a wall
       does); regions inside ``exclude`` polygons (a colour chart's grey
       patches) are left out.

    Of the regions that pass, the largest is the card. Its mean colour is
    taken inside the region shrunk by 2 pixels, away from its edge.

    Parameters
    ----------
    rgb : ndarray of uint8, shape (H, W, 3)
    exclude : list of ndarray (K, 2), optional
        Polygons, in the photo's pixels, that are not a grey card.

    Returns
    -------
    ColourReference of kind ``"grey_card"``, or None.
    """
    small, s = _shrink(rgb, GREY_CARD_MAX_SIDE)
    h, w = small.shape[:2]
    srgb = small.astype(np.float32) / 255.0
    lab = to_lab(srgb)
    std_l, std_a, std_b = (_local_std(lab[..., i]) for i in range(3))
    chroma = np.hypot(lab[..., 1], lab[..., 2])
    max_std_l, max_std_ab = GREY_CARD_MAX_STD
    candidate = ((std_l < max_std_l) & (std_a < max_std_ab) & (std_b < max_std_ab)
                 & (chroma < GREY_CARD_MAX_CHROMA)
                 & (lab[..., 0] > GREY_CARD_L_RANGE[0]) & (lab[..., 0] < GREY_CARD_L_RANGE[1])).astype(np.uint8)
    for polygon in exclude or []:
        cv2.fillPoly(candidate, [np.round(np.asarray(polygon) * s).astype(np.int32)], 0)
    candidate = cv2.morphologyEx(candidate, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(candidate, connectivity=4)
    best = None
    lo_area, hi_area = (a * h * w for a in GREY_CARD_AREA)
    for i in range(1, count):
        x, y, bw, bh, area = stats[i]
        if not lo_area <= area <= hi_area or x == 0 or y == 0 or x + bw >= w or y + bh >= h:
            continue
        points = np.column_stack(np.nonzero(labels == i)[::-1]).astype(np.float32)
        rect = cv2.minAreaRect(points)
        (rw, rh) = rect[1]
        if min(rw, rh) < 1 or area / (rw * rh) < GREY_CARD_MIN_RECTANGULARITY \
                or max(rw, rh) / min(rw, rh) > GREY_CARD_MAX_ASPECT:
            continue
        if best is None or area > best[0]:
            best = (area, i, rect)
    if best is None:
        return None
    _, i, rect = best
    inner = cv2.erode((labels == i).astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    mean = linear_to_srgb(srgb_to_linear(srgb[inner]).mean(axis=0))
    return _grey_card(np.asarray(mean, np.float64), cv2.boxPoints(rect).astype(np.float64) / s)


def grey_card_from_polygon(rgb: np.ndarray, polygon: np.ndarray) -> ColourReference | None:
    """A grey card the user marked: ``polygon`` (K, 2) in the photo's pixels.

    Its mean colour is taken inside the polygon shrunk by a tenth of its
    smaller side. Returns None when fewer than 100 pixels remain or some are
    clipped (an 8-bit code of 250 or more), since gains from a clipped card
    would be wrong.
    """
    polygon = np.asarray(polygon, dtype=np.float64)
    mask = np.zeros(rgb.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(polygon).astype(np.int32)], 1)
    side = min(np.ptp(polygon, axis=0))
    margin = max(1, int(side / 10))
    mask = cv2.erode(mask, np.ones((2 * margin + 1, 2 * margin + 1), np.uint8)).astype(bool)
    pixels = rgb[mask]
    if len(pixels) < 100 or np.any(pixels >= _PATCH_CODE_RANGE[1]):
        return None
    mean = linear_to_srgb(srgb_to_linear(pixels.astype(np.float32) / 255.0).mean(axis=0))
    return _grey_card(np.asarray(mean, np.float64), polygon)


def render_chart(patch_px: int = 40) -> np.ndarray:
    """A ColorChecker Classic as published (:data:`CHART_SRGB`): 6 x 4 square patches on black, uint8 sRGB.

    The gaps are a fifth of a patch and the surround is the chart's black
    frame, as on the printed chart; for tests, validation and a screen target.
    """
    gap = max(2, patch_px // 5)
    image = np.full((4 * patch_px + 5 * gap, 6 * patch_px + 7 * gap, 3), 20, np.uint8)
    for i, rgb in enumerate(np.round(CHART_SRGB * 255).astype(np.uint8)):
        row, col = divmod(i, 6)
        y, x = gap + row * (patch_px + gap), gap + col * (patch_px + gap)
        image[y:y + patch_px, x:x + patch_px] = rgb
    return image


class _Unsearched:
    def __repr__(self) -> str:
        return "UNSEARCHED"


#: A reference not searched for yet, as opposed to None: searched for, and none found.
UNSEARCHED = _Unsearched()


def _in_photo(found: ColourReference | None, to_level: np.ndarray) -> ColourReference | None:
    """A reference found in a pyramid level, its outline mapped back to the photo's pixels."""
    if found is None:
        return None
    polygon = _map_points(np.linalg.inv(to_level), found.polygon_array())
    return replace(found, polygon=tuple(tuple(map(float, p)) for p in polygon))


def find_reference(rgb: np.ndarray, pyramid: Pyramid | None = None) -> ColourReference | None:
    """The best colour reference in a photo: a colour chart, else a grey card, else None.

    With the photo's ``pyramid`` (:class:`analysis.resample.Pyramid`) each search shrinks its copy from
    the smallest halving still larger than it needs, instead of from the whole photo.
    """
    def search(find, max_side: int) -> ColourReference | None:
        if pyramid is None:
            return find(rgb)
        level, to_level = pyramid.level_for(max_side / max(rgb.shape[:2]))
        return _in_photo(find(level), to_level)
    chart = search(find_colour_chart, CHART_DETECT_MAX_SIDE)
    if chart is not None:
        return chart
    return search(find_grey_card, GREY_CARD_MAX_SIDE)


@dataclass(frozen=True, eq=False)
class BackdropSample:
    """The backdrop of a pair, sampled in one frame of the baseline (usually a small overview).

    Attributes
    ----------
    photo_linear, baseline_linear : ndarray, shape (H, W, 3)
        Linear sRGB; the photo resampled onto the baseline.
    mask : ndarray of bool, shape (H, W)
        Backdrop pixels valid in both.
    baseline_to_sample : ndarray, shape (2, 3)
        Affine map from the baseline's pixels to the sample's.
    """

    photo_linear: np.ndarray
    baseline_linear: np.ndarray
    mask: np.ndarray
    baseline_to_sample: np.ndarray


def _map_points(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    m = np.asarray(matrix, dtype=np.float64)
    h = np.column_stack([points, np.ones(len(points))]) @ (m if m.shape == (3, 3) else np.vstack([m, [0, 0, 1]])).T
    return h[:, :2] / h[:, 2:3]


def _without_references(sample: BackdropSample, photo_to_baseline: np.ndarray,
                        photo_ref: ColourReference | None, base_ref: ColourReference | None) -> np.ndarray:
    """The backdrop mask minus both references' polygons (grown by a tenth), in the sample's frame."""
    mask = sample.mask.astype(np.uint8)
    for ref, to_baseline in ((photo_ref, photo_to_baseline), (base_ref, np.eye(3))):
        if ref is None:
            continue
        polygon = _map_points(sample.baseline_to_sample, _map_points(to_baseline, ref.polygon_array()))
        centre = polygon.mean(axis=0)
        grown = centre + 1.1 * (polygon - centre)
        cv2.fillPoly(mask, [np.round(grown).astype(np.int32)], 0)
    return mask.astype(bool)


def reference_normalisation(photo_rgb: np.ndarray, baseline_rgb: np.ndarray, photo_to_baseline: np.ndarray,
                            backdrop: BackdropSample | None = None, *,
                            photo_reference: ColourReference | None | _Unsearched = UNSEARCHED,
                            baseline_reference: ColourReference | None | _Unsearched = UNSEARCHED) -> Normalisation:
    """Normalise a pair's lighting by the best reference both photos share.

    Chart, then grey card: when both photos show the same kind, each is
    corrected to the standard (``matrix`` and ``baseline_matrix``). Mixed
    kinds (a chart in one, a card in the other) are not combined, since a
    card's 18 % and the chart's patches are different physical standards.
    Otherwise the backdrop (:func:`analysis.colour.backdrop_gains`, with the
    references' outlines removed from its mask), per channel or, when dark or
    noisy, by exposure alone. Without a backdrop sample, nothing is applied.

    Parameters
    ----------
    photo_rgb, baseline_rgb : ndarray of uint8, shape (H, W, 3)
        Both photos as captured (not resampled): the references are found in them.
    photo_to_baseline : ndarray, shape (2, 3) or (3, 3)
        Maps the photo's pixels to the baseline's.
    backdrop : BackdropSample, optional
    photo_reference, baseline_reference : ColourReference or None, optional
        References already found or marked by the user, or None when a search found none (a photo is
        searched once: :attr:`analysis.pipeline.FacePhoto.colour_reference`); searched for when
        :data:`UNSEARCHED`.

    Returns
    -------
    Normalisation
        ``photo_reference`` and ``baseline_reference`` are set whenever found.
    """
    photo_ref = find_reference(photo_rgb) if photo_reference is UNSEARCHED else photo_reference
    base_ref = find_reference(baseline_rgb) if baseline_reference is UNSEARCHED else baseline_reference
    refs = dict(photo_reference=photo_ref, baseline_reference=base_ref)
    if photo_ref is not None and base_ref is not None and photo_ref.kind == base_ref.kind:
        photo_m, base_m = np.asarray(photo_ref.correction), np.asarray(base_ref.correction)
        exposure = float(np.exp(np.mean(np.log(np.maximum(np.diag(photo_m @ np.linalg.inv(base_m)), 1e-6)))))
        return Normalisation(True, photo_ref.kind, exposure_factor=exposure, matrix=photo_ref.correction,
                             baseline_matrix=base_ref.correction, **refs)
    if backdrop is None:
        return Normalisation(False, "none", reason=Reason(
            "no_reference", "neither a colour reference in both photos nor a backdrop to match"), **refs)
    mask = _without_references(backdrop, photo_to_baseline, photo_ref, base_ref)
    norm = backdrop_gains(backdrop.photo_linear, backdrop.baseline_linear, mask)
    return replace(norm, **refs)
