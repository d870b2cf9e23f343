"""Checking a marked region before it is measured.

A practitioner marks a body area's region as a polygon in a photo's pixels.
Whatever arrives (typed by hand, from a stored record, from a browser) is
checked here, once, before any geometry is computed from it: a polygon that
is not finite, lies outside the photo, has no area or crosses itself has no
inside to measure, and is refused with :class:`~analysis.errors.UnsupportedImage`
saying why, instead of failing later in array arithmetic.
"""

from __future__ import annotations

import numpy as np

from .errors import UnsupportedImage

#: More vertices than anyone marks by hand; the self-intersection test is quadratic in them.
MAX_VERTICES = 256
#: The smallest region worth measuring, in square pixels of the photo it is marked on.
MIN_AREA_PX = 100.0


def polygon_area(polygon: np.ndarray) -> float:
    """Unsigned area of a simple polygon, shoelace formula, in square pixels."""
    x, y = polygon[:, 0], polygon[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2.0)


def _segments_cross(p1, p2, q1, q2) -> bool:
    """Whether the closed segments p1-p2 and q1-q2 meet (touching counts)."""
    def orient(a, b, c):
        value = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
        return 0 if value == 0 else (1 if value > 0 else -1)

    def on_segment(a, b, c):
        return min(a[0], b[0]) <= c[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= c[1] <= max(a[1], b[1])

    o1, o2, o3, o4 = orient(p1, p2, q1), orient(p1, p2, q2), orient(q1, q2, p1), orient(q1, q2, p2)
    if o1 != o2 and o3 != o4:
        return True
    return ((o1 == 0 and on_segment(p1, p2, q1)) or (o2 == 0 and on_segment(p1, p2, q2))
            or (o3 == 0 and on_segment(q1, q2, p1)) or (o4 == 0 and on_segment(q1, q2, p2)))


def self_intersects(polygon: np.ndarray) -> bool:
    """Whether any two non-adjacent edges of the closed polygon meet."""
    n = len(polygon)
    edges = [(polygon[i], polygon[(i + 1) % n]) for i in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            if j == i + 1 or (i == 0 and j == n - 1):
                continue  # adjacent edges share a vertex
            if _segments_cross(*edges[i], *edges[j]):
                return True
    return False


def validate_polygon(points, width: int, height: int) -> np.ndarray:
    """A marked region as an ``(N, 2)`` float array, or a typed refusal.

    Parameters
    ----------
    points : array-like of shape (N, 2)
        ``x, y`` vertices in pixels of a ``width`` x ``height`` photo.

    Returns
    -------
    ndarray of float64, shape (N, 2)

    Raises
    ------
    UnsupportedImage
        Fewer than 3 or more than :data:`MAX_VERTICES` points; a value that is
        not a finite number; a vertex outside the photo; an area under
        :data:`MIN_AREA_PX`; edges that cross (checked first: a crossing outline's
        signed areas cancel).
    """
    try:
        polygon = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise UnsupportedImage("the region must be a list of (x, y) points") from exc
    if polygon.ndim != 2 or polygon.shape[1] != 2 or not 3 <= len(polygon) <= MAX_VERTICES:
        raise UnsupportedImage(f"the region must be a polygon of 3 to {MAX_VERTICES} (x, y) points")
    if not np.isfinite(polygon).all():
        raise UnsupportedImage("the region has a point that is not a finite number")
    if (polygon < 0).any() or (polygon[:, 0] > width).any() or (polygon[:, 1] > height).any():
        raise UnsupportedImage(f"the region reaches outside the photo ({width} x {height} pixels)")
    if self_intersects(polygon):
        raise UnsupportedImage("the region's edges cross: mark its outline in order, without crossing")
    if polygon_area(polygon) < MIN_AREA_PX:
        raise UnsupportedImage("the region is too small to measure")
    return polygon
