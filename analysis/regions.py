"""Skin regions of the face, as pixel masks.

Each region starts as a polygon of face-mesh landmarks
(:data:`analysis.facemesh.REGION_POLYGONS`), so it follows the face through
pose and expression. Two guards then keep it on skin:

1. *Geometry.* The polygon is clipped to the face oval, shrunk by
   :data:`OVAL_MARGIN_IOD`, and the eyes, brows, lips and nose (with the
   nostrils) are cut out with margins proportional to the inter-ocular
   distance (:data:`FEATURE_MARGINS_IOD`). A region can therefore never hold
   those features, whatever the landmark jitter.
2. *Colour.* Hair over the forehead, a beard shadow or a background corner are
   removed by their CIELAB colour difference from the client's own cheek skin
   (:func:`skin_colour_mask`). Specular highlights and deep shadows are kept
   out of the colour metrics (:func:`well_exposed_mask`) but stay in the
   texture metrics, whose log-luminance is insensitive to them.

The colour rules use CIEDE76 differences [1]_, robust statistics and thresholds
in CIELAB units, so they mean the same on every skin tone.

References
----------
.. [1] CIE 15:2004, "Colorimetry", 3rd edition. CIELAB and Delta E*ab.
"""

from __future__ import annotations

import cv2
import numpy as np

from .facemesh import FACE_OVAL, LEFT_BROW, LEFT_EYE, LIPS, NOSE, REGION_POLYGONS, RIGHT_BROW, RIGHT_EYE

REGIONS = ("forehead", "left_cheek", "right_cheek", "chin", "periorbital")
OVAL_MARGIN_IOD = 0.06
FEATURE_MARGINS_IOD = {
    RIGHT_EYE: 0.10, LEFT_EYE: 0.10, RIGHT_BROW: 0.07, LEFT_BROW: 0.07, LIPS: 0.07, NOSE: 0.04,
}
#: A pixel further than this (Delta E*ab) from the cheek skin's median colour is not skin.
MAX_SKIN_DELTA_E = 14.0
#: Specular highlights: L* this far above the skin's median, or a clipped channel.
HIGHLIGHT_DELTA_L = 18.0
#: Deep shadows: L* this far below the skin's median.
SHADOW_DELTA_L = 25.0
CLIPPED = 250


def _polygon_mask(shape: tuple[int, int], points: np.ndarray) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(points * 16).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)
    return mask


def within(mask: np.ndarray, radius: float) -> np.ndarray:
    """Pixels within ``radius`` of the mask (a round dilation, by distance transform)."""
    return cv2.distanceTransform((mask == 0).astype(np.uint8), cv2.DIST_L2, 5) <= radius


def feature_mask(landmarks: np.ndarray, shape: tuple[int, int], iod_px: float) -> np.ndarray:
    """Eyes, brows, lips and nose with their margins: never skin for the metrics."""
    out = np.zeros(shape, bool)
    for group, margin in FEATURE_MARGINS_IOD.items():
        hull = cv2.convexHull(landmarks[list(group)].astype(np.float32))[:, 0, :]
        out |= within(_polygon_mask(shape, hull), margin * iod_px)
    return out


def face_skin(landmarks: np.ndarray, shape: tuple[int, int], iod_px: float) -> np.ndarray:
    """All of the face inside the oval except the features themselves (no margins).

    The context over which smoothing filters run, so that a region's texture
    and shading are judged against the surrounding skin rather than against
    the edge of a small island.
    """
    oval = _polygon_mask(shape, landmarks[list(FACE_OVAL)]).astype(bool)
    features = np.zeros(shape, np.uint8)
    for group in FEATURE_MARGINS_IOD:
        features |= _polygon_mask(shape, cv2.convexHull(landmarks[list(group)].astype(np.float32))[:, 0, :])
    return oval & ~features.astype(bool)


def region_masks(landmarks: np.ndarray, shape: tuple[int, int], iod_px: float) -> dict[str, np.ndarray]:
    """Geometric skin-region masks from landmarks.

    Parameters
    ----------
    landmarks : ndarray, shape (478, 2)
        Landmark ``x, y`` in the pixel frame of the masks.
    shape : (int, int)
        ``(height, width)`` of the masks.
    iod_px : float
        Inter-ocular distance in that frame, for the margins.

    Returns
    -------
    dict of str to ndarray of bool
        One mask per name in :data:`REGIONS`.
    """
    oval = _polygon_mask(shape, landmarks[list(FACE_OVAL)])
    oval = cv2.distanceTransform(oval, cv2.DIST_L2, 5) > OVAL_MARGIN_IOD * iod_px
    allowed = oval & ~feature_mask(landmarks, shape, iod_px)
    polygons = {name: _polygon_mask(shape, landmarks[list(idx)]).astype(bool) for name, idx in REGION_POLYGONS.items()}
    masks = {name: polygons[name] & allowed for name in ("forehead", "left_cheek", "right_cheek", "chin")}
    periorbital = (polygons["right_periorbital"] | polygons["left_periorbital"]) & allowed
    masks["periorbital"] = periorbital & ~(masks["left_cheek"] | masks["right_cheek"])
    return masks


def skin_colour_mask(lab: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Pixels whose colour is that of the client's skin.

    Parameters
    ----------
    lab : ndarray, shape (H, W, 3)
        CIELAB (D65) image.
    reference : ndarray of bool, shape (H, W)
        Pixels known to be mostly skin (the cheeks); their median colour is
        the client's skin colour.

    Returns
    -------
    ndarray of bool
        True where Delta E*ab to the median skin colour is at most
        :data:`MAX_SKIN_DELTA_E`.
    """
    median = np.median(lab[reference], axis=0).astype(np.float32)
    difference = lab - median
    return np.einsum("ijk,ijk->ij", difference, difference) <= MAX_SKIN_DELTA_E ** 2


def well_exposed_mask(lab: np.ndarray, skin: np.ndarray) -> np.ndarray:
    """Pixels that are neither specular highlights nor deep shadows, by lightness.

    A highlight has an L* more than :data:`HIGHLIGHT_DELTA_L` above the median
    L* of ``skin``, a deep shadow one more than :data:`SHADOW_DELTA_L` below
    it. Clipped channels (>= :data:`CLIPPED` of 255) are highlights too; the
    caller judges them on the pixels as captured, before any normalisation.
    """
    lightness = lab[..., 0]
    median = np.median(lightness[skin])
    return (lightness <= median + HIGHLIGHT_DELTA_L) & (lightness >= median - SHADOW_DELTA_L)
