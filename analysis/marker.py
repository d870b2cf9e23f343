"""Scale from a printed marker of known size in the frame.

Body and scalp photos have no anatomical ruler (a face has its eye distance),
so a millimetre is only known when something of known size is in the photo.
We detect one robust kind: a printed **ArUco marker** [1]_ from OpenCV's
``DICT_4X4_50`` dictionary (any of its 50 ids), printed with a white border
at least one cell wide, its black square :data:`DEFAULT_MARKER_MM` mm on a
side unless the caller says otherwise. It is stuck flat on the skin (or held
in the plane of the skin) beside the marked region, and kept out of the region.

The scale is the marker's mean side length in pixels divided by its side in
millimetres; the marker's four corners are located to sub-pixel precision
(OpenCV's corner refinement). A marker seen obliquely gives the scale of its
own plane only, so the mean of its four sides is used; more than
:data:`MAX_SIDE_SPREAD` between its longest and shortest side means it is
too oblique to trust, and the scale falls back to nominal.

Without a marker the scale is *nominal*: an assumed pixels-per-millimetre
that keeps every spatial scale consistent between sessions of one course
(the same region of the same baseline), but is not a measurement. Every
result says which (``scale.nominal``).

References
----------
.. [1] S. Garrido-Jurado, R. Munoz-Salinas, F. J. Madrid-Cuevas,
       M. J. Marin-Jimenez, "Automatic generation and detection of highly
       reliable fiducial markers under occlusion", Pattern Recognition
       47(6):2280-2292, 2014.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .align import apply, to_3x3

DICTIONARY = cv2.aruco.DICT_4X4_50
DEFAULT_MARKER_MM = 10.0
#: Longest over shortest side, beyond which the marker is too oblique to give a scale.
MAX_SIDE_SPREAD = 1.15
#: Markers are looked for at up to this many pixels on the longer side (then mapped back).
SEARCH_MAX_SIDE = 2048


@dataclass(frozen=True)
class Scale:
    """Pixels per millimetre of skin in a photo, measured from a marker or nominal."""

    px_per_mm: float
    nominal: bool
    source: str  # "aruco" or "nominal"
    marker_mm: float | None = None
    marker_corners: tuple | None = None  # ((x, y) * 4) in the photo's pixels

    def to_dict(self) -> dict:
        return {"px_per_mm": self.px_per_mm, "nominal": self.nominal, "source": self.source,
                "marker_mm": self.marker_mm,
                "marker_corners": None if self.marker_corners is None else [list(p) for p in self.marker_corners]}

    def scaled(self, factor: float) -> Scale:
        """The same scale in an image resampled by ``factor``."""
        corners = None if self.marker_corners is None else tuple(
            (float(x * factor), float(y * factor)) for x, y in self.marker_corners)
        return Scale(self.px_per_mm * factor, self.nominal, self.source, self.marker_mm, corners)


def find_marker(rgb: np.ndarray) -> np.ndarray | None:
    """The corners, shape (4, 2), of the largest ``DICT_4X4_50`` marker in the photo, or None."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    s = min(1.0, SEARCH_MAX_SIDE / max(grey.shape))
    if s < 1:
        grey = cv2.resize(grey, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    params = cv2.aruco.DetectorParameters()
    params.cornerRefinementMethod = cv2.aruco.CORNER_REFINE_SUBPIX
    detector = cv2.aruco.ArucoDetector(cv2.aruco.getPredefinedDictionary(DICTIONARY), params)
    corners, ids, _ = detector.detectMarkers(grey)
    if ids is None or not len(corners):
        return None
    quads = [c.reshape(4, 2).astype(np.float64) for c in corners]
    largest = max(quads, key=lambda q: cv2.contourArea(q.astype(np.float32)))
    return (largest + 0.5) / s - 0.5  # pixel centres back to the photo's pixels


def measure_scale(rgb: np.ndarray, marker_mm: float = DEFAULT_MARKER_MM, nominal_px_per_mm: float = 4.0) -> Scale:
    """The photo's scale from a marker of side ``marker_mm``, else ``nominal_px_per_mm`` (nominal)."""
    corners = find_marker(rgb)
    if corners is not None:
        sides = np.linalg.norm(np.roll(corners, -1, axis=0) - corners, axis=1)
        if sides.max() <= MAX_SIDE_SPREAD * sides.min():
            return Scale(float(sides.mean() / marker_mm), False, "aruco", float(marker_mm),
                         tuple((float(x), float(y)) for x, y in corners))
    return Scale(float(nominal_px_per_mm), True, "nominal")


def marker_mask(scale: Scale, to_frame: np.ndarray, shape: tuple[int, int], margin: float = 0.5) -> np.ndarray:
    """Frame pixels covered by the marker and its white border (grown by ``margin`` sides), to leave out."""
    mask = np.zeros(shape, np.uint8)
    if scale.marker_corners is None:
        return mask.astype(bool)
    corners = np.asarray(scale.marker_corners)
    centre = corners.mean(axis=0)
    grown = centre + (corners - centre) * (1 + 2 * margin)
    cv2.fillConvexPoly(mask, np.round(apply(to_3x3(to_frame), grown)).astype(np.int32), 1)
    return mask.astype(bool)
