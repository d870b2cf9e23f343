"""Pictures for people: aligned before/after pairs, change heat maps, capture checks.

The numbers come from :func:`analysis.analyse`; this module makes the images
that let a practitioner or client see them: the session photo resampled onto
the baseline and matched to its lighting, so that a side-by-side or a wipe
compares like with like, and maps of *where* redness and texture changed.

Heat maps are smoothed over 2 mm of skin and shown only on skin usable in
both photos; a pixel's value is the local change, photo minus baseline, in the
metric's units (CIELAB a* for redness, percent log-luminance contrast for
texture).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .align import apply, compose
from .colour import apply_matrix, lab_from_linear, linear_to_srgb, srgb_to_linear
from .metrics import MEAN_IPD_MM, log_luminance, masked_smooth, texture_band_px
from .pipeline import FacePhoto, align_faces, face_lighting, frame_of, locate_face, region_masks
from .resample import Pyramid

HEAT_SMOOTHING_MM = 2.0
#: Sharpness below this fraction of the baseline's reads as a blurred retake.
MIN_RELATIVE_SHARPNESS = 0.7
EXPOSURE_CODES = {"over_exposed", "under_exposed", "greyscale"}
LIGHT_CODES = {"lighting", "light_direction"}


@dataclass(frozen=True)
class AlignedPair:
    """Baseline and session photo in one frame (the baseline's), lighting matched.

    ``redness_change`` and ``texture_change`` are float maps (NaN off skin).
    """

    before: np.ndarray  # uint8 RGB
    after: np.ndarray  # uint8 RGB, resampled onto the baseline and normalised to its lighting
    skin: np.ndarray  # bool
    redness_change: np.ndarray
    texture_change: np.ndarray
    lighting_matched: bool


def _to_uint8(rgb: np.ndarray) -> np.ndarray:
    return np.clip(np.round(rgb * 255), 0, 255).astype(np.uint8)


def aligned_pair(photo, baseline, iod_px: float = 200.0) -> AlignedPair:
    """Resample ``photo`` onto ``baseline`` at an eye distance of ``iod_px`` and map the changes."""
    photo, baseline = locate_face(photo), locate_face(baseline)
    matrix, _, _ = align_faces(photo, baseline)
    iod = min(iod_px, baseline.face.inter_ocular_px, photo.face.inter_ocular_px)  # never enlarged
    to_frame, size = frame_of(baseline, iod)
    photo_source, base_source = photo.pyramid, baseline.pyramid
    before, before_valid = base_source.warp(to_frame, size)
    after, after_valid = photo_source.warp(compose(to_frame, matrix), size)
    light = face_lighting(photo, baseline, photo_source, base_source, matrix)
    after = linear_to_srgb(apply_matrix(srgb_to_linear(after), light.photo_matrix))
    before = linear_to_srgb(apply_matrix(srgb_to_linear(before), light.normalisation.baseline_matrix))
    masks = region_masks(apply(to_frame, baseline.face.xy), before_valid.shape, iod)
    skin = np.logical_or.reduce(list(masks.values())) & before_valid & after_valid
    px_per_mm = iod / MEAN_IPD_MM
    sigma = max(1.0, HEAT_SMOOTHING_MM * px_per_mm)
    lin_before, lin_after = srgb_to_linear(before), srgb_to_linear(after)
    d_a = lab_from_linear(lin_after)[..., 1] - lab_from_linear(lin_before)[..., 1]
    lo, hi = texture_band_px(px_per_mm)

    def local_roughness(linear):
        log_y = log_luminance(linear)
        band = masked_smooth(log_y, skin, lo) - masked_smooth(log_y, skin, hi)
        return 100 * np.sqrt(masked_smooth(band ** 2, skin, sigma))

    d_texture = local_roughness(lin_after) - local_roughness(lin_before)
    off_skin = ~skin
    redness = masked_smooth(d_a, skin, sigma)
    redness[off_skin] = np.nan
    d_texture[off_skin] = np.nan
    return AlignedPair(_to_uint8(before), _to_uint8(after), skin, redness, d_texture, light.normalisation.applied)


def aligned_by_matrix(photo: np.ndarray, baseline: np.ndarray, matrix) -> tuple[np.ndarray, np.ndarray]:
    """``photo`` resampled onto ``baseline`` by a body area's feature alignment, for a side-by-side or a wipe.

    ``matrix`` is the analysis result's ``alignment.matrix`` (3 x 3, photo to
    baseline pixels). The pixels are only moved, not lighting matched: the
    hair-loss and cellulite measures are ratios within each photo. Outside
    the photo is black. Returns ``(before, after)`` as uint8 RGB.
    """
    height, width = baseline.shape[:2]
    after = cv2.warpPerspective(photo, np.asarray(matrix, dtype=np.float64), (width, height),
                                flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    return baseline, after


def heat_overlay(base: np.ndarray, change: np.ndarray, limit: float) -> np.ndarray:
    """``base`` (uint8 RGB) with ``change`` painted on it: blue where it fell, red where it rose."""
    value = np.clip(np.nan_to_num(change) / limit, -1, 1)
    colour = np.zeros_like(base, dtype=np.float32)
    colour[..., 0] = np.clip(value, 0, 1) * 255
    colour[..., 2] = np.clip(-value, 0, 1) * 255
    alpha = (np.abs(value) * 0.75 * ~np.isnan(change))[..., None]
    grey = cv2.cvtColor(cv2.cvtColor(base, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB).astype(np.float32)
    return np.clip(grey * (1 - alpha) + colour * alpha, 0, 255).astype(np.uint8)


def wipe(before: np.ndarray, after: np.ndarray, position: float) -> np.ndarray:
    """``before`` on the left of ``position`` (0 to 1 of the width), ``after`` on the right, with a divider."""
    out = after.copy()
    cut = int(round(np.clip(position, 0, 1) * before.shape[1]))
    out[:, :cut] = before[:, :cut]
    out[:, max(cut - 1, 0):cut + 1] = 255
    return out


def ghost(photo: np.ndarray, baseline: np.ndarray, opacity: float = 0.4) -> np.ndarray:
    """The baseline laid over a new photo at ``opacity``, to line up a retake by eye."""
    ghosted = cv2.resize(baseline, (photo.shape[1], photo.shape[0]), interpolation=cv2.INTER_AREA)
    return cv2.addWeighted(photo, 1 - opacity, ghosted, opacity, 0)


def sharpness(photo: FacePhoto) -> float:
    """Fine-detail energy of the face: variance of the Laplacian of grey levels, at 100 px between the eyes.

    Comparable between photos of one person, not across people or cameras
    [1]_; :func:`capture_checks` therefore judges it against the baseline.

    References
    ----------
    .. [1] J. L. Pech-Pacheco, G. Cristobal, J. Chamorro-Martinez,
           J. Fernandez-Valdivia, "Diatom autofocusing in brightfield
           microscopy: a comparative study", ICPR 2000.
    """
    to_frame, size = frame_of(photo, 100.0)
    frame, valid = Pyramid(photo.rgb).warp(to_frame, size)
    grey = cv2.cvtColor((frame * 255).astype(np.uint8), cv2.COLOR_RGB2GRAY).astype(np.float32)
    lap = cv2.Laplacian(grey, cv2.CV_32F)
    inside = cv2.erode(valid.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    return float(lap[inside].var())


#: A capture check's outcome: fine, worth a look, or a retake needed.
CHECK_STATUSES = ("pass", "warn", "fail")


@dataclass(frozen=True)
class Check:
    """One capture check: ``label`` says what was found (e.g. "pose differs from the baseline"), ``status`` is
    one of CHECK_STATUSES and ``detail`` gives the measurement."""

    label: str
    status: str
    detail: str

    def __post_init__(self):
        if self.status not in CHECK_STATUSES:
            raise ValueError(f"status is one of {CHECK_STATUSES}, not {self.status!r}")

    def to_dict(self) -> dict:
        return {"label": self.label, "status": self.status, "detail": self.detail}


def _check(passed: bool, good: str, bad: str, detail: str, failing: str = "fail") -> Check:
    return Check(good, "pass", detail) if passed else Check(bad, failing, detail)


def capture_checks(result: dict, photo: FacePhoto, baseline: FacePhoto | None = None) -> list[Check]:
    """What a practitioner needs to know at capture time, from an :func:`analyse` result.

    A check fails when the photo cannot be compared as it is (view, exposure,
    a different person, pose beyond 10 degrees from the baseline, sharpness
    under MIN_RELATIVE_SHARPNESS of the baseline's, not comparable); it warns
    when the photo can be used but a retake would be better (quality
    warnings, lighting that could not be matched).
    """
    face, quality = result["face"], result["quality"]
    checks = [Check("face found", "pass", f"eyes {face['inter_ocular_px']:.0f} px apart"),
              _check(face["view"] is not None, "view recognised", "view not recognised",
                     face["view"] or "head turned too far for a front or 45-degree view")]
    exposure = [p["message"] for p in quality["problems"] if p["code"] in EXPOSURE_CODES]
    checks.append(_check(not exposure, "exposure good", "exposure problem",
                         "; ".join(exposure) or "skin neither clipped nor too dark"))
    if baseline is None:
        if not quality["usable"]:
            checks.append(Check("not usable", "fail",
                                "; ".join(p["message"] for p in quality["problems"]) or "see the problems"))
        else:
            checks.append(_check(not quality["warnings"], "usable", "usable, with warnings",
                                 "; ".join(w["message"] for w in quality["warnings"]) or "no warnings",
                                 failing="warn"))
        return checks
    identity = result["identity"]
    checks.append(_check(identity["same"] is not False, "same person as the baseline", "a different person",
                         identity["reason"]["message"] if identity["reason"] else "identity confirmed"))
    d_yaw = face["yaw_deg"] - baseline.pose.yaw_deg
    d_pitch = face["pitch_deg"] - baseline.pose.pitch_deg
    checks.append(_check(abs(d_yaw) <= 10 and abs(d_pitch) <= 10, "pose matches the baseline",
                         "pose differs from the baseline",
                         f"turn {round(d_yaw):+d} deg, tilt {round(d_pitch):+d} deg from the baseline"))
    ratio = sharpness(photo) / max(sharpness(baseline), 1e-6)
    checks.append(_check(ratio >= MIN_RELATIVE_SHARPNESS, "as sharp as the baseline", "blurred against the baseline",
                         f"{ratio:.0%} of the baseline's sharpness"))
    reasons = result["alignment"]["reasons"]
    light = [r["message"] for r in reasons if r["code"] in LIGHT_CODES]
    checks.append(_check(not light, "lighting consistent with the baseline", "lighting differs from the baseline",
                         "; ".join(light) or "lighting matched", failing="warn"))
    checks.append(_check(result["alignment"]["comparable"], "comparable with the baseline",
                         "not comparable with the baseline",
                         "; ".join(r["message"] for r in reasons) or "aligned within tolerance"))
    return checks
