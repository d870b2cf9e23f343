"""Geometric alignment of a session photo to the baseline.

Faces
-----
A similarity transform (rotation, uniform scale, translation) is fitted by
least squares [1]_ to the *stable* landmarks (eye corners and nose ridge,
which move little with expression), then refined by maximising the enhanced
correlation coefficient [2]_ between the two faces, over the face oval. ECC
is invariant to gain and offset, so a change in exposure does not pull the
fit; a refinement that wanders further than
:data:`MAX_REFINEMENT_IOD` from the landmark fit is discarded.

The reported residual is the root-mean-square distance between the baseline's
stable landmarks and the photo's mapped by the landmark fit, in percent of the
baseline's inter-ocular distance: how much of the landmarks' movement a rigid
change of position does not explain (expression, pose, landmark jitter). The
ECC refinement then registers the images more finely than the landmarks can.

Body areas
----------
Neck, hands, scalp and body have no landmarks: AKAZE features [3]_ matched
with a ratio test and a RANSAC homography [4]_ align them.

The backdrop
------------
Whether the backdrop scaled between two face photos (a zoom or a moved
camera) or kept its size (the client moved) is read from ORB features [5]_
outside the client, matched with a ratio test, and a RANSAC similarity
(:func:`similarity_from_features`).

References
----------
.. [1] S. Umeyama, "Least-squares estimation of transformation parameters
       between two point patterns", IEEE TPAMI 13(4):376-380, 1991.
.. [2] G. D. Evangelidis, E. Z. Psarakis, "Parametric Image Alignment Using
       Enhanced Correlation Coefficient Maximization", IEEE TPAMI
       30(10):1858-1865, 2008.
.. [3] P. F. Alcantarilla, J. Nuevo, A. Bartoli, "Fast Explicit Diffusion for
       Accelerated Features in Nonlinear Scale Spaces", BMVC 2013.
.. [4] M. A. Fischler, R. C. Bolles, "Random Sample Consensus", Comm. ACM
       24(6):381-395, 1981.
.. [5] E. Rublee, V. Rabaud, K. Konolige, G. Bradski, "ORB: an efficient
       alternative to SIFT or SURF", ICCV 2011.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: A refinement may move the face by at most this fraction of the inter-ocular distance.
MAX_REFINEMENT_IOD = 0.05
MIN_FEATURE_INLIERS = 12
#: ORB keypoints sought in an image (:func:`orb_features`).
ORB_FEATURES = 3000
#: Lowe's ratio test: a match is kept when its descriptor distance is under this fraction of the next best's.
MATCH_RATIO = 0.8


def fit_similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity transform mapping ``src`` points onto ``dst`` (Umeyama).

    Parameters
    ----------
    src, dst : ndarray, shape (N, 2)

    Returns
    -------
    ndarray, shape (2, 3)
        ``[[a, -b, tx], [b, a, ty]]`` with ``dst ~ M @ [x, y, 1]``.
    """
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    cov = dst_c.T @ src_c / len(src)
    u, s, vt = np.linalg.svd(cov)
    d = np.diag([1.0, np.sign(np.linalg.det(u) * np.linalg.det(vt))])
    rotation = u @ d @ vt
    scale = np.trace(np.diag(s) @ d) / src_c.var(axis=0).sum()
    linear = scale * rotation
    return np.column_stack([linear, dst_mean - linear @ src_mean])


def apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Map ``(N, 2)`` points by a 2 x 3 affine or 3 x 3 projective matrix."""
    if matrix.shape == (3, 3):
        h = np.column_stack([points, np.ones(len(points))]) @ matrix.T
        return h[:, :2] / h[:, 2:3]
    return points @ matrix[:, :2].T + matrix[:, 2]


def compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """The 2 x 3 affine map ``outer(inner(p))``."""
    return (to_3x3(outer) @ to_3x3(inner))[:2]


def to_3x3(matrix: np.ndarray) -> np.ndarray:
    return matrix if matrix.shape == (3, 3) else np.vstack([matrix, [0.0, 0.0, 1.0]])


def scale_of(matrix: np.ndarray) -> float:
    """Mean linear scale factor of an affine map."""
    return float(np.sqrt(abs(np.linalg.det(matrix[:2, :2]))))


def rms_residual(matrix: np.ndarray, src: np.ndarray, dst: np.ndarray) -> float:
    """Root-mean-square distance between ``matrix(src)`` and ``dst``, in pixels of ``dst``."""
    return float(np.sqrt(np.mean(np.sum((apply(matrix, src) - dst) ** 2, axis=1))))


def refine_ecc(moving: np.ndarray, fixed: np.ndarray, mask: np.ndarray, iod_px: float) -> np.ndarray | None:
    """Affine correction that best aligns ``moving`` to ``fixed`` over ``mask`` (ECC).

    Both images are single-channel float32 in the same frame, already roughly
    aligned. Returns the 2 x 3 map from ``fixed`` coordinates to ``moving``
    coordinates (OpenCV's warp convention), or None when ECC does not converge
    or moves further than :data:`MAX_REFINEMENT_IOD` of ``iod_px``.
    """
    warp = np.eye(2, 3, dtype=np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 50, 1e-5)
    try:
        _, warp = cv2.findTransformECC(fixed, moving, warp, cv2.MOTION_AFFINE, criteria,
                                       mask.astype(np.uint8), 1)
    except cv2.error:
        return None
    ys, xs = np.nonzero(mask)
    corners = np.array([[xs.min(), ys.min()], [xs.max(), ys.min()], [xs.min(), ys.max()], [xs.max(), ys.max()]],
                       dtype=np.float64)
    shift = np.linalg.norm(apply(warp.astype(np.float64), corners) - corners, axis=1).max()
    if not np.isfinite(shift) or shift > MAX_REFINEMENT_IOD * iod_px:
        return None
    return warp.astype(np.float64)


@dataclass(frozen=True)
class FeatureAlignment:
    """A projective map of photo pixels onto baseline pixels, from image features."""

    matrix: np.ndarray  # 3 x 3
    inliers: int
    matches: int
    residual_px: float  # RMS reprojection error of the inliers
    spread_px: float | None = None  # RMS distance of the baseline's inliers from their centroid

    @property
    def scale_uncertainty(self) -> float | None:
        """Standard uncertainty of a similarity's scale, as a fraction: ``residual / (spread * sqrt(2 n))``.

        The least-squares scale of ``n`` points at RMS radius ``spread`` with a
        2-D RMS residual ``residual`` (``residual / sqrt(2)`` per coordinate).
        """
        if self.spread_px is None or not self.spread_px:
            return None
        return float(self.residual_px / (self.spread_px * np.sqrt(2.0 * self.inliers)))


@dataclass(frozen=True)
class Features:
    """ORB keypoints of an image, ``points`` (N x 2) in the pixels of the photo they were found in."""

    points: np.ndarray
    descriptors: np.ndarray | None
    #: The size of one pixel of the image searched, in the photo's pixels (a photo shrunk by 4: 4).
    pixel_px: float = 1.0


def orb_features(grey: np.ndarray, mask: np.ndarray | None = None, to_photo: np.ndarray | None = None) -> Features:
    """ORB keypoints and descriptors of ``grey`` within ``mask``.

    ``to_photo`` (2 x 3 or 3 x 3) maps ``grey``'s pixels to the photo's, in which the points are given.
    """
    orb = cv2.ORB_create(ORB_FEATURES)
    keypoints, descriptors = orb.detectAndCompute(grey, None if mask is None else mask.astype(np.uint8) * 255)
    points = np.float64([k.pt for k in keypoints]).reshape(-1, 2)
    pixel = 1.0
    if to_photo is not None:
        points = apply(to_photo[:2], points) if len(points) else points
        pixel = float(np.sqrt(abs(np.linalg.det(to_photo[:2, :2]))))
    return Features(points, descriptors, pixel)


def similarity_from_features(photo: Features, baseline: Features) -> FeatureAlignment | None:
    """Similarity (rotation, uniform scale, shift) from photo pixels to baseline pixels, from matched features.

    Matches pass Lowe's ratio test (:data:`MATCH_RATIO`) and a RANSAC fit
    with a threshold of two pixels of the coarser search, refined on its
    inliers. Returns None with fewer than :data:`MIN_FEATURE_INLIERS` inliers.
    """
    if (photo.descriptors is None or baseline.descriptors is None or len(photo.points) < 2
            or len(baseline.points) < 2):
        return None
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(photo.descriptors, baseline.descriptors, k=2)
    good = [m for m, n in (p for p in pairs if len(p) == 2) if m.distance < MATCH_RATIO * n.distance]
    if len(good) < MIN_FEATURE_INLIERS:
        return None
    src = photo.points[[m.queryIdx for m in good]]
    dst = baseline.points[[m.trainIdx for m in good]]
    threshold = 2.0 * max(photo.pixel_px, baseline.pixel_px)
    matrix, inlier_mask = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=threshold,
                                                      maxIters=5000, confidence=0.999, refineIters=20)
    if matrix is None or int(inlier_mask.sum()) < MIN_FEATURE_INLIERS:
        return None
    keep = inlier_mask.ravel().astype(bool)
    spread = float(np.sqrt(((dst[keep] - dst[keep].mean(axis=0)) ** 2).sum(axis=1).mean()))
    return FeatureAlignment(to_3x3(matrix), int(keep.sum()), len(good), rms_residual(matrix, src[keep], dst[keep]),
                            spread)


def align_by_features(photo_grey: np.ndarray, baseline_grey: np.ndarray,
                      baseline_mask: np.ndarray | None = None) -> FeatureAlignment | None:
    """Homography mapping photo pixels to baseline pixels, from AKAZE matches and RANSAC.

    Parameters
    ----------
    photo_grey, baseline_grey : ndarray of uint8, 2-D
    baseline_mask : ndarray of bool, optional
        Where in the baseline to look for features.

    Returns
    -------
    FeatureAlignment or None
        None when fewer than :data:`MIN_FEATURE_INLIERS` matches agree.
    """
    akaze = cv2.AKAZE_create()
    mask_u8 = None if baseline_mask is None else baseline_mask.astype(np.uint8) * 255
    kp_p, des_p = akaze.detectAndCompute(photo_grey, None)
    kp_b, des_b = akaze.detectAndCompute(baseline_grey, mask_u8)
    if des_p is None or des_b is None or len(kp_p) < 4 or len(kp_b) < 4:
        return None
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(des_p, des_b, k=2)
    good = [m for m, n in (p for p in pairs if len(p) == 2) if m.distance < 0.8 * n.distance]
    if len(good) < MIN_FEATURE_INLIERS:
        return None
    src = np.float64([kp_p[m.queryIdx].pt for m in good])
    dst = np.float64([kp_b[m.trainIdx].pt for m in good])
    matrix, inlier_mask = cv2.findHomography(src, dst, cv2.RANSAC, 3.0)
    if matrix is None or int(inlier_mask.sum()) < MIN_FEATURE_INLIERS:
        return None
    keep = inlier_mask.ravel().astype(bool)
    return FeatureAlignment(matrix, int(keep.sum()), len(good), rms_residual(matrix, src[keep], dst[keep]))
