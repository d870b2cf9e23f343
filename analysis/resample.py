"""Resampling photos into the analysis frame without aliasing.

Metrics are computed on a face resampled so that its inter-ocular distance is
a fixed number of pixels (:mod:`analysis.pipeline`). A 12-megapixel photo is
shrunk several-fold to reach it, and a plain bilinear warp would alias fine
texture into false roughness, so shrinking is done first by pixel-area
averaging (``cv2.INTER_AREA``) on only the part of the photo the frame needs,
and the remaining rotation and sub-pixel shift by a bilinear warp.
"""

from __future__ import annotations

import cv2
import numpy as np

from .align import apply, compose, fit_similarity, scale_of, to_3x3

#: Below this scale factor the photo is first shrunk by area averaging.
PRESHRINK_BELOW = 0.8


def resize_matrix(size: tuple[int, int], new_size: tuple[int, int]) -> np.ndarray:
    """3 x 3 map of pixel centres from an image of ``size`` to it resized to ``new_size`` (width, height)."""
    sx, sy = new_size[0] / size[0], new_size[1] / size[1]
    return np.array([[sx, 0, 0.5 * sx - 0.5], [0, sy, 0.5 * sy - 0.5], [0, 0, 1.0]])


def _as_float(image: np.ndarray) -> np.ndarray:
    return image.astype(np.float32) / 255.0 if image.dtype == np.uint8 else image.astype(np.float32, copy=False)


def _local_scale(matrix: np.ndarray, at: np.ndarray) -> float:
    """Linear scale of an affine or projective map near the point ``at``."""
    if matrix.shape == (2, 3):
        return scale_of(matrix)
    probe = np.array([at, at + [1.0, 0.0], at + [0.0, 1.0]])
    p = apply(matrix, probe)
    return float(np.sqrt(abs(np.linalg.det(np.array([p[1] - p[0], p[2] - p[0]])))))


def warp(rgb: np.ndarray, matrix: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Resample an image into a frame.

    Parameters
    ----------
    rgb : ndarray of uint8 or float32, shape (H, W, 3)
    matrix : ndarray, shape (2, 3) or (3, 3)
        Maps source pixel coordinates to frame pixel coordinates.
    size : (int, int)
        Frame ``(width, height)``.

    Returns
    -------
    image : ndarray of float32, shape (height, width, 3)
        sRGB in [0, 1].
    valid : ndarray of bool, shape (height, width)
        Frame pixels that came from inside the source, away from its border.
    """
    width, height = size
    full = to_3x3(matrix)
    inverse = np.linalg.inv(full)
    corners = apply(inverse, np.array([[0, 0], [width, 0], [0, height], [width, height]], np.float64))
    x0, y0 = np.floor(corners.min(axis=0)).astype(int) - 2
    x1, y1 = np.ceil(corners.max(axis=0)).astype(int) + 2
    x0, y0 = max(x0, 0), max(y0, 0)
    x1, y1 = min(x1, rgb.shape[1]), min(y1, rgb.shape[0])
    if x1 <= x0 or y1 <= y0:
        return np.zeros((height, width, 3), np.float32), np.zeros((height, width), bool)
    crop = rgb[y0:y1, x0:x1]
    to_crop = np.array([[1.0, 0, x0], [0, 1.0, y0], [0, 0, 1.0]])  # crop -> source
    scale = _local_scale(matrix, corners.mean(axis=0))
    if scale < PRESHRINK_BELOW:
        # Area averaging in 8 bits: rounding the average adds noise of 0.3 grey
        # levels, far below a JPEG's own, and saves converting megapixels to float.
        ch, cw = crop.shape[:2]
        new_w, new_h = max(1, round(cw * scale)), max(1, round(ch * scale))
        crop = cv2.resize(crop, (new_w, new_h), interpolation=cv2.INTER_AREA)
        to_crop = to_crop @ np.linalg.inv(resize_matrix((cw, ch), (new_w, new_h)))
    crop = _as_float(crop)
    m = full @ to_crop
    ones = np.ones(crop.shape[:2], np.uint8)
    flags = cv2.INTER_LINEAR
    if matrix.shape == (3, 3):
        out = cv2.warpPerspective(crop, m, (width, height), flags=flags, borderMode=cv2.BORDER_REPLICATE)
        valid = cv2.warpPerspective(ones, m, (width, height), flags=cv2.INTER_NEAREST)
    else:
        out = cv2.warpAffine(crop, m[:2], (width, height), flags=flags, borderMode=cv2.BORDER_REPLICATE)
        valid = cv2.warpAffine(ones, m[:2], (width, height), flags=cv2.INTER_NEAREST)
    valid = cv2.erode(valid, np.ones((5, 5), np.uint8)).astype(bool)
    return out, valid


def level_eyes_frame(right_eye: np.ndarray, left_eye: np.ndarray, points: np.ndarray, iod_px: float,
                     margin_iod: float = 0.1) -> tuple[np.ndarray, tuple[int, int]]:
    """The frame in which the eyes are level, ``iod_px`` apart, and ``points`` fit with a margin.

    Returns the 2 x 3 map from image pixels to frame pixels and the frame's ``(width, height)``.
    """
    level = fit_similarity(np.array([right_eye, left_eye]), np.array([[0.0, 0.0], [iod_px, 0.0]]))
    mapped = apply(level, points)
    lo = mapped.min(axis=0) - margin_iod * iod_px
    hi = mapped.max(axis=0) + margin_iod * iod_px
    shift = np.array([[1.0, 0, -lo[0]], [0, 1.0, -lo[1]]])
    width, height = np.ceil(hi - lo).astype(int)
    return compose(shift, level), (int(width), int(height))


class Pyramid:
    """A photo and its 2x area-averaged halvings, built on demand.

    A comparison resamples each photo into three frames (ECC, analysis and
    backdrop overview). Halving by exactly two is OpenCV's fast path (a few ms
    for 12 megapixels, against tens of ms for an arbitrary factor), so each
    frame is taken from the smallest level that still has enough pixels, and
    only its own crop is shrunk the rest of the way.
    """

    MIN_SIDE = 64
    #: Frames kept: a baseline is resampled into the same ECC, analysis and overview frames for every
    #: session compared with it (the frames depend on its own landmarks and the eye distance, capped).
    KEEP_FRAMES = 4

    def __init__(self, rgb: np.ndarray):
        h, w = rgb.shape[:2]
        self.photo_size = (w, h)
        self.levels = [(rgb, np.eye(3))]  # (image, 3 x 3 photo pixels -> level pixels)
        self._frames: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}

    def level_for(self, scale: float) -> tuple[np.ndarray, np.ndarray]:
        """The smallest level at least ``scale`` times the photo's size: (image, 3 x 3 photo -> level pixels)."""
        while True:
            image, to_level = self.levels[-1]
            if to_level[0, 0] / 2 < scale or min(image.shape[:2]) // 2 < self.MIN_SIDE:
                break
            h2, w2 = image.shape[0] // 2, image.shape[1] // 2
            half = cv2.resize(image[:2 * h2, :2 * w2], (w2, h2), interpolation=cv2.INTER_AREA)
            self.levels.append((half, resize_matrix((2 * w2, 2 * h2), (w2, h2)) @ to_level))
        for image, to_level in reversed(self.levels):
            if to_level[0, 0] >= scale:
                return image, to_level
        return self.levels[0]

    def warp(self, matrix: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """:func:`warp` with ``matrix`` mapping the original photo's pixels into the frame.

        The last :data:`KEEP_FRAMES` frames are kept, read-only, and given again for the same matrix and size.
        """
        matrix = np.asarray(matrix, dtype=np.float64)
        key = (matrix.shape, matrix.tobytes(), tuple(size))
        if key in self._frames:
            return self._frames[key]
        w, h = self.photo_size
        image, to_level = self.level_for(_local_scale(matrix, np.array([w / 2, h / 2])))
        mapped = to_3x3(matrix) @ np.linalg.inv(to_level)
        found = warp(image, mapped if matrix.shape == (3, 3) else mapped[:2], size)
        for array in found:
            array.flags.writeable = False
        self._frames[key] = found
        while len(self._frames) > self.KEEP_FRAMES:
            del self._frames[next(iter(self._frames))]
        return found
