"""The analysis of one photo, alone or against the course's baseline.

Face photos
-----------
1. Landmarks and head pose (:mod:`analysis.facemesh`, :mod:`analysis.pose`).
2. With a baseline: a similarity transform from the photo to the baseline on
   the stable landmarks, refined by ECC (:mod:`analysis.align`).
3. Both photos are resampled into one *analysis frame*: the baseline's face
   with level eyes and an inter-ocular distance of
   ``D = min(CANONICAL_IOD_PX, SCALE_MARGIN * smaller IOD)`` pixels. Neither
   photo is ever enlarged, so both carry the same detail, and texture is
   measured at the same scale in millimetres of skin.
4. Lighting: both photos are corrected to a colour chart or grey card they
   both show (:mod:`analysis.reference`), else the photo's exposure and white
   balance are matched to the baseline's on the backdrop
   (:mod:`analysis.colour`), and, only where the photos show that the client
   moved nearer or farther from fixed lights (the face changed size while the
   backdrop kept its own), to the change of distance (:func:`distance_gain`,
   :func:`face_lighting`). A face whose size changed beyond
   :data:`MAX_FRAMING_CHANGE` for any other reason (a zoom, a moved camera, a
   backdrop that cannot be measured) makes the pair not comparable
   (``framing``).
5. Skin regions come from the baseline's landmarks; a pixel counts only if it
   is skin, unclipped and well exposed in *both* photos, so the two sets of
   metrics describe the same skin.
6. Metrics per region and over all skin (:mod:`analysis.metrics`), the change
   (photo minus baseline) and its 95 % noise bound (:mod:`analysis.noise`),
   overall and per region.
7. Verdicts with reasons as codes (:mod:`analysis.reasons`): the pair is
   comparable only if it shows the same person (:mod:`analysis.identity`),
   view, pose, distance, lighting and expression; each region is comparable
   unless the pair is not or the expression that moves it changed
   (:mod:`analysis.expression`).

Without a baseline the same steps run on the photo alone; nothing is
normalised and the result says so.

Body, hand and scalp photos
---------------------------
There is no face: the practitioner marks the region as a polygon (in the
baseline's pixels when there is a baseline, else in the photo's). The photo
is aligned to the baseline by image features and a homography, lighting is
matched on the surroundings of the region, and the metrics are computed over
the region at a nominal :data:`BODY_PX_PER_MM`.

Hair loss (``area="scalp"``) and cellulite (``area="cellulite"``) get their
own measures over the marked region instead (:func:`_area`): the share of
scalp visible and the part's width, or the share of skin in shadowed dimples,
at the scale of a printed marker when one is in frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np

from . import __version__, cellulite, scalp
from .align import (FeatureAlignment, Features, align_by_features, apply, compose, fit_similarity, orb_features,
                    refine_ecc, rms_residual, scale_of, similarity_from_features, to_3x3)
from .calibration import Floors
from .colour import NOT_APPLIED_SINGLE, Normalisation, apply_matrix, lab_from_linear, srgb_to_linear
from .decoding import DecodedImage
from .errors import UnsupportedImage
from .expression import ExpressionChange, compare_expressions
from .facemesh import CHIN, FACE_OVAL, NOSE_BRIDGE, STABLE, Face, detect_faces, select_subject
from .identity import FaceDescriptor, face_descriptor, same_person
from .marker import DEFAULT_MARKER_MM, Scale, marker_mask, measure_scale
from .metrics import MEAN_IPD_MM, METRICS, MIN_PIXELS, MIN_TEXTURE_PX_PER_MM, SkinMaps, measure, skin_maps
from .noise import Noise, change_noise
from .polygon import validate_polygon
from .reference import UNSEARCHED, BackdropSample, ColourReference, find_reference, reference_normalisation
from .pose import HeadPose, head_pose
from .reasons import Reason, face_small
from .regions import CLIPPED, REGIONS, face_skin, region_masks, skin_colour_mask, well_exposed_mask, within
from .resample import Pyramid, level_eyes_frame, resize_matrix, warp

CANONICAL_IOD_PX = 256.0
#: Both photos are resampled to at most this fraction of the smaller one's
#: resolution, so that interpolation blur (from any re-capture or from our own
#: warp) stays out of the finest texture band: at 0.8, simulated re-captures
#: moved texture by up to 10 %; at 0.6, by under 2 %.
SCALE_MARGIN = 0.6
OVERVIEW_MAX_SIDE = 512
BACKDROP_CLEARANCE_IOD = 1.0
BODY_PX_PER_MM = 4.0
ECC_IOD_PX = 160.0
BODY_MAX_REGION_SIDE = 512

# A pair is not comparable beyond these limits.
MAX_YAW_DIFF_DEG = 10.0
MAX_PITCH_DIFF_DEG = 10.0
MAX_SCALE_RATIO = 1.15
MAX_RESIDUAL_IOD_PCT = 3.0
MAX_LIGHT_ASYMMETRY_DIFF_L = 3.0
MIN_SHARED_SKIN = 0.5
MAX_FEATURE_RESIDUAL_PX = 3.0

#: Normalisations that match the lighting on the backdrop, which does not move with the client.
BACKDROP_METHODS = ("backdrop", "backdrop_exposure_only")
#: Exponent of the face's light on its distance ratio (:func:`distance_gain`): the inverse-square law.
DISTANCE_EXPONENT = 2.0
#: The client moved only if the face's size changed by more than this fraction (the size's error on simulated
#: re-captures is 0.4-0.55 % RMS, :func:`distance_ratio`, and correcting a smaller change would add that error
#: to still faces) ...
MIN_FACE_SIZE_CHANGE = 0.01
#: ... while the backdrop's scale stayed within this fraction of its own (a zoom or a moved camera scales
#: both; on simulated re-captures the backdrop's scale was read within 0.1 %).
MAX_BACKDROP_SCALE_CHANGE = 0.005
#: The backdrop's scale is measured only when its standard uncertainty is at most this fraction.
MAX_BACKDROP_SCALE_UNCERTAINTY = 0.0025
#: Without a chart or card at the face or a confirmed move of the client, a face size changed by more than
#: this fraction is a change of framing the floors (:mod:`analysis.noise`) were not calibrated on.
MAX_FRAMING_CHANGE = 0.05
#: The backdrop's features are sought in a copy of the photo at most this many pixels on its longer side ...
BACKDROP_FEATURES_MAX_SIDE = 1024
#: ... and not above the head nor within this many eye distances beside the face oval: hair moves with the
#: head (on faces-london's plain studio backdrop, the features left by the normalisation's backdrop mask lay
#: on the top of the hair, and read the head's scale as the backdrop's).
HAIR_CLEARANCE_IOD = 1.5

# Photo quality limits.
MIN_SKIN_CHROMA = 3.0
MAX_CLIPPED_SKIN = 0.05
MIN_SKIN_L_STAR = 20.0
MIN_VISIBLE_SKIN = 0.3


@dataclass(frozen=True)
class FacePhoto:
    """A photo with its subject's landmarks and head pose."""

    rgb: np.ndarray
    face: Face
    pose: HeadPose

    @cached_property
    def colour_reference(self) -> ColourReference | None:
        """A colour chart or grey card in the photo (:mod:`analysis.reference`), searched for once."""
        return find_reference(self.rgb, self.pyramid)

    @cached_property
    def pyramid(self) -> Pyramid:
        """The photo's area-averaged halvings (:class:`analysis.resample.Pyramid`), built once per photo:
        a baseline kept by the records serves every later session's comparison."""
        return Pyramid(self.rgb)

    @cached_property
    def descriptor(self) -> FaceDescriptor:
        """The face's identity descriptor (:mod:`analysis.identity`), computed once per photo."""
        return face_descriptor(self.rgb, self.face, self.pyramid)

    @cached_property
    def backdrop_features(self) -> Features:
        """ORB features of the backdrop (:func:`backdrop_motion`), found once per photo in a copy at most
        :data:`BACKDROP_FEATURES_MAX_SIDE` pixels wide, outside the client as the backdrop normalisation
        samples it (:func:`_client_mask`) and beside the head's column (:data:`HAIR_CLEARANCE_IOD`)."""
        w, h = self.pyramid.photo_size
        s = min(1.0, BACKDROP_FEATURES_MAX_SIDE / max(w, h))
        level, to_level = self.pyramid.level_for(s)
        size = (max(1, round(w * s)), max(1, round(h * s)))
        grey = cv2.cvtColor(level, cv2.COLOR_RGB2GRAY)
        if grey.shape[::-1] != size:
            to_level = resize_matrix(grey.shape[::-1], size) @ to_level
            grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
        iod = self.face.inter_ocular_px * to_level[0, 0]
        backdrop = ~within(_client_mask(self.face, grey.shape, to_level), BACKDROP_CLEARANCE_IOD * iod)
        oval_x = apply(to_level[:2], self.face.xy[list(FACE_OVAL)])[:, 0]
        hair = HAIR_CLEARANCE_IOD * iod
        backdrop[:, max(0, int(oval_x.min() - hair)):int(oval_x.max() + hair) + 1] = False
        return orb_features(grey, backdrop, np.linalg.inv(to_level))


def _client_mask(face: Face, shape: tuple[int, int], to_image: np.ndarray) -> np.ndarray:
    """The client in an image of ``shape``: the face oval and everything below the chin (neck, shoulders
    and clothes change between sessions), uint8; ``to_image`` maps the face's pixels to the image's."""
    subject = np.zeros(shape, np.uint8)
    cv2.fillPoly(subject, [np.round(apply(to_image[:2], face.xy[list(FACE_OVAL)])).astype(np.int32)], 1)
    subject[max(0, int(apply(to_image[:2], face.xy[[CHIN]])[0, 1])):] = 1
    return subject


def _pixels(image) -> np.ndarray:
    rgb = image.rgb if isinstance(image, (DecodedImage, FacePhoto)) else np.asarray(image)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise TypeError("expected an H x W x 3 uint8 RGB array or a DecodedImage")
    return rgb


def locate_face(image) -> FacePhoto:
    """Find the subject's face and head pose; raises ``NoFace`` or ``MultipleFaces``."""
    if isinstance(image, FacePhoto):
        return image
    rgb = _pixels(image)
    face = select_subject(detect_faces(rgb))
    return FacePhoto(rgb, face, head_pose(face.points))


# --- masks and metrics shared by both modes ----------------------------------

@dataclass(frozen=True)
class _Measured:
    maps: SkinMaps
    overall: dict
    regions: dict


@dataclass(frozen=True)
class _Frame:
    """One image in the analysis frame, with the skin masks it supports on its own.

    ``colour`` and ``texture`` lie within the region geometry, ``context``
    within the whole face (the smoothing context of :func:`skin_maps`). A
    comparison uses the intersection over both images (:func:`_shared`).
    """

    linear: np.ndarray
    lab: np.ndarray
    valid: np.ndarray
    clipped: np.ndarray
    colour: np.ndarray
    texture: np.ndarray
    context: np.ndarray


def _frame(rgb: np.ndarray, valid: np.ndarray, geometry: np.ndarray, skin_reference: np.ndarray,
           face: np.ndarray, correction=None) -> _Frame:
    """Masks and colour of one image in the frame; ``correction`` (3 x 3, on linear sRGB row vectors,
    :mod:`analysis.colour`) normalises its lighting.

    Clipping is judged on the pixels as captured: a clipped highlight scaled
    down by the normalisation is still clipped.
    """
    clipped = (rgb >= CLIPPED / 255).any(axis=2)
    linear = srgb_to_linear(rgb)
    if correction is not None:
        linear = apply_matrix(linear, correction)
    lab = lab_from_linear(linear)
    reference = skin_reference & valid
    skin = valid & skin_colour_mask(lab, reference if reference.sum() >= 10 else valid)
    colour = geometry & skin & ~clipped & well_exposed_mask(lab, geometry & skin)
    return _Frame(linear, lab, valid, clipped, colour, geometry & skin & ~clipped, face & skin & ~clipped)


def _shared(*frames: _Frame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Colour, texture and context masks valid in every frame."""
    return tuple(np.logical_and.reduce([getattr(f, k) for f in frames]) for k in ("colour", "texture", "context"))


def _measure(frame: _Frame, masks: dict, skin: tuple, px_per_mm: float, reference_a_star: float) -> _Measured:
    colour, texture, context = skin
    maps = skin_maps(frame.linear, frame.lab, colour, texture, px_per_mm, context)
    union = np.logical_or.reduce(list(masks.values()))
    return _Measured(maps, measure(maps, union, reference_a_star),
                     {name: measure(maps, m, reference_a_star) for name, m in masks.items()})


def _median_a_star(lab: np.ndarray, mask: np.ndarray) -> float:
    return float(np.median(lab[..., 1][mask])) if mask.any() else 0.0


def _difference(a: dict, b: dict) -> dict:
    return {m: (None if a[m] is None or b[m] is None else a[m] - b[m]) for m in METRICS}


def _relative(change: dict, base: dict) -> dict:
    return {m: (None if change[m] is None or not base[m] else 100.0 * change[m] / abs(base[m])) for m in METRICS}


def _beyond(change: dict, noise: dict) -> dict:
    return {m: (None if change[m] is None or noise.get(m) is None else abs(change[m]) > noise[m]) for m in METRICS}


def _comparison(photo: _Measured, baseline: _Measured, found: Noise, region_verdict: dict) -> dict:
    """Change (photo minus baseline), relative change, noise bound and its floor's source, and verdict,
    overall and per region.

    ``found`` holds the bounds of "overall" and each region. A region's change
    and bounds are given whatever its verdict; whoever shows them follows
    ``region_verdict``.
    """
    noise, source = found.bounds, found.sources
    change = _difference(photo.overall, baseline.overall)
    region_change = {name: _difference(photo.regions[name], baseline.regions[name]) for name in baseline.regions}
    return {
        "reference_metrics": baseline.overall,
        "reference_regions": baseline.regions,
        "change": change,
        "change_pct": _relative(change, baseline.overall),
        "noise": noise["overall"],
        "noise_source": source["overall"],
        "noise_tier": found.tier,
        "beyond_noise": _beyond(change, noise["overall"]),
        "region_change": region_change,
        "region_noise": {name: noise[name] for name in region_change},
        "region_noise_source": {name: source[name] for name in region_change},
        "region_beyond_noise": {name: _beyond(region_change[name], noise[name]) for name in region_change},
        "region_verdict": region_verdict,
    }


# --- quality ------------------------------------------------------------------

def _quality(photo: FacePhoto, frame: _Frame, geometry: np.ndarray) -> dict:
    """Usability of one face photo: ``warnings`` for people, of which ``problems`` make it unusable.

    Both are lists of ``{"code", "message"}`` (:mod:`analysis.reasons`).
    """
    found = []
    h, w = photo.rgb.shape[:2]
    xy = photo.face.xy
    if (xy < 0).any() or (xy[:, 0] >= w).any() or (xy[:, 1] >= h).any():
        found.append(Reason("face_cut_off", "the face is cut off by the edge of the photo"))
    if photo.pose.view is None:
        found.append(Reason("not_standard_view",
                            f"the head is turned {abs(photo.pose.yaw_deg):.0f} degrees: not a standard view"))
    iod = photo.face.inter_ocular_px
    if iod < eyes_needed_px(MIN_TEXTURE_PX_PER_MM):
        found.append(face_small(iod, eyes_needed_px(MIN_TEXTURE_PX_PER_MM)))
    lab, colour = frame.lab, frame.colour
    if geometry.sum() and colour.sum() < MIN_VISIBLE_SKIN * geometry.sum():
        found.append(Reason("skin_hidden", "most of the skin is hidden by hair, highlights or shadow"))
    if colour.any():
        chroma = np.hypot(lab[..., 1][colour], lab[..., 2][colour])
        if np.median(chroma) < MIN_SKIN_CHROMA:
            found.append(Reason("greyscale", "the photo is greyscale: colour metrics are meaningless"))
        if np.median(lab[..., 0][colour]) < MIN_SKIN_L_STAR:
            found.append(Reason("under_exposed", "the skin is under-exposed"))
    clipped = frame.clipped[geometry].mean() if geometry.any() else 0.0
    if clipped > MAX_CLIPPED_SKIN:
        found.append(Reason("over_exposed", f"{clipped:.0%} of the skin is over-exposed (clipped)"))
    problems = [r for r in found if r.blocking]
    return {"usable": not problems, "warnings": [r.to_dict() for r in found],
            "problems": [r.to_dict() for r in problems]}


# --- face mode ----------------------------------------------------------------

def _face_dict(photo: FacePhoto) -> dict:
    return {
        "landmarks": np.round(photo.face.xy, 2).tolist(),
        "inter_ocular_px": photo.face.inter_ocular_px,
        "yaw_deg": photo.pose.yaw_deg, "pitch_deg": photo.pose.pitch_deg, "roll_deg": photo.pose.roll_deg,
        "view": photo.pose.view,
    }


def eyes_needed_px(px_per_mm: float) -> float:
    """How far apart a photo's eyes must be, in pixels, for its analysis frame to resolve ``px_per_mm``
    pixels per mm of skin (:data:`SCALE_MARGIN`, :data:`analysis.metrics.MEAN_IPD_MM`)."""
    return px_per_mm * MEAN_IPD_MM / SCALE_MARGIN


def _analysis_iod(*photos: FacePhoto) -> float:
    return float(min(CANONICAL_IOD_PX, SCALE_MARGIN * min(p.face.inter_ocular_px for p in photos)))


def frame_of(photo: FacePhoto, iod: float):
    """The frame with the photo's eyes level and ``iod`` pixels apart: (2 x 3 map, (width, height))."""
    face = photo.face
    return level_eyes_frame(face.right_eye_centre, face.left_eye_centre, face.xy, iod)


def _cheeks(masks: dict) -> np.ndarray:
    return masks["left_cheek"] | masks["right_cheek"]


def _single_face(photo: FacePhoto) -> dict:
    iod = _analysis_iod(photo)
    to_frame, size = frame_of(photo, iod)
    rgb, valid = warp(photo.rgb, to_frame, size)
    landmarks = apply(to_frame, photo.face.xy)
    masks = region_masks(landmarks, valid.shape, iod)
    geometry = np.logical_or.reduce(list(masks.values())) & valid
    f = _frame(rgb, valid, geometry, _cheeks(masks), face_skin(landmarks, valid.shape, iod))
    measured = _measure(f, masks, _shared(f), iod / MEAN_IPD_MM, _median_a_star(f.lab, f.colour))
    return {
        "face": _face_dict(photo),
        "quality": _quality(photo, f, geometry),
        "scale": {"iod_px": iod, "px_per_mm": iod / MEAN_IPD_MM},
        "normalisation": NOT_APPLIED_SINGLE.to_dict(),
        "metrics": measured.overall,
        "regions": measured.regions,
    }


def backdrop_normalisation(photo: Pyramid, base: Pyramid, photo_to_base: np.ndarray, base_face: Face | None,
                           exclude_polygon: np.ndarray | None = None, clearance_px: float = 0.0, *,
                           photo_reference=UNSEARCHED, baseline_reference=UNSEARCHED) -> Normalisation:
    """The pair's lighting normalisation: by a colour chart or grey card both photos show, else on the
    backdrop, sampled at overview resolution (:func:`analysis.reference.reference_normalisation`)."""
    w, h = base.photo_size
    s = min(1.0, OVERVIEW_MAX_SIDE / max(h, w))
    size = (max(1, round(w * s)), max(1, round(h * s)))
    overview = np.diag([s, s, 1.0])
    base_small, base_valid = base.warp(overview[:2], size)
    photo_small, photo_valid = photo.warp(overview @ to_3x3(photo_to_base) if photo_to_base.shape == (3, 3)
                                          else compose(overview[:2], photo_to_base), size)
    if base_face is not None:
        subject = _client_mask(base_face, base_small.shape[:2], overview)
        clearance_px = BACKDROP_CLEARANCE_IOD * base_face.inter_ocular_px
    else:
        subject = np.zeros(base_small.shape[:2], np.uint8)
        cv2.fillPoly(subject, [np.round(exclude_polygon * s).astype(np.int32)], 1)
    backdrop = ~within(subject, clearance_px * s) & base_valid & photo_valid
    sample = BackdropSample(srgb_to_linear(photo_small), srgb_to_linear(base_small), backdrop, overview[:2])
    return reference_normalisation(photo.levels[0][0], base.levels[0][0], photo_to_base, sample,
                                   photo_reference=photo_reference, baseline_reference=baseline_reference)


def align_faces(photo: FacePhoto, baseline: FacePhoto, photo_source: Pyramid | None = None,
                baseline_source: Pyramid | None = None) -> tuple[np.ndarray, float, float]:
    """Similarity from photo pixels to baseline pixels: landmark fit refined by ECC.

    ECC runs over the whole face oval, whose eyes, brows and nose give it the
    gradients that smooth skin lacks, in a frame at twice the smaller face's
    scale (at most :data:`ECC_IOD_PX`): on the validation re-captures this
    takes the true misregistration from about 1 % to about 0.1 % of the
    inter-ocular distance.

    Returns the 2 x 3 matrix; the residual of the similarity fit on the
    stable landmarks, in % of the baseline's inter-ocular distance (how much
    of the landmarks' movement a rigid change of position does not explain:
    expression, pose and landmark jitter); and how far ECC moved the face,
    in % of that distance (0 when the refinement was discarded).
    """
    src, dst = photo.face.xy[list(STABLE)], baseline.face.xy[list(STABLE)]
    matrix = fit_similarity(src, dst)
    residual = 100.0 * rms_residual(matrix, src, dst) / baseline.face.inter_ocular_px
    iod = min(ECC_IOD_PX, 2.0 * min(photo.face.inter_ocular_px, baseline.face.inter_ocular_px))
    to_frame, size = frame_of(baseline, iod)
    base_rgb, base_valid = (baseline_source or baseline.pyramid).warp(to_frame, size)
    photo_rgb, photo_valid = (photo_source or photo.pyramid).warp(compose(to_frame, matrix), size)
    oval = np.zeros(base_rgb.shape[:2], np.uint8)
    cv2.fillPoly(oval, [np.round(apply(to_frame, baseline.face.xy[list(FACE_OVAL)])).astype(np.int32)], 1)
    face = oval.astype(bool) & base_valid & photo_valid
    correction = refine_ecc(photo_rgb[..., 1], base_rgb[..., 1], face, iod) if face.sum() > 100 else None
    if correction is None:
        return matrix, residual, 0.0
    # correction maps frame -> photo-in-frame; its inverse fixes the photo
    inverse = np.linalg.inv(to_3x3(correction))[:2]
    refined = compose(np.linalg.inv(to_3x3(to_frame))[:2], compose(inverse, compose(to_frame, matrix)))
    moved = np.linalg.norm(apply(refined, src) - apply(matrix, src), axis=1).mean()
    return refined, residual, 100.0 * moved / baseline.face.inter_ocular_px


def _light_asymmetry(lab: np.ndarray, skin: np.ndarray, midline_x: float) -> float | None:
    """Mean L* of the skin on the image's left of the face's midline minus that on its right."""
    left = skin.copy()
    left[:, int(round(midline_x)):] = False
    right = skin & ~left
    if left.sum() < MIN_PIXELS or right.sum() < MIN_PIXELS:
        return None
    return float(lab[..., 0][left].mean() - lab[..., 0][right].mean())


def _pair_reasons(photo: FacePhoto, baseline: FacePhoto, residual: float, light: FaceLighting, quality: dict,
                  asymmetry: tuple, shared: float) -> list[Reason]:
    """What makes the whole pair not comparable, whatever the region."""
    reasons = [Reason(p["code"], f"photo: {p['message']}") for p in quality["problems"]]
    if photo.pose.view != baseline.pose.view:
        reasons.append(Reason("view", f"view differs: {photo.pose.view} vs baseline {baseline.pose.view}"))
    d_yaw = photo.pose.yaw_deg - baseline.pose.yaw_deg
    d_pitch = photo.pose.pitch_deg - baseline.pose.pitch_deg
    if abs(d_yaw) > MAX_YAW_DIFF_DEG:
        reasons.append(Reason("head_turned", f"head turned {d_yaw:+.0f} degrees more than in the baseline"))
    if abs(d_pitch) > MAX_PITCH_DIFF_DEG:
        reasons.append(Reason("head_tilted", f"head tilted {d_pitch:+.0f} degrees more than in the baseline"))
    ratio = light.distance_ratio
    if not 1 / MAX_SCALE_RATIO <= ratio <= MAX_SCALE_RATIO:
        reasons.append(Reason("distance", f"taken at a different distance: the face is {ratio:.2f} times "
                                          "the baseline's size"))
    elif light.framing is not None:
        reasons.append(light.framing)
    norm = light.normalisation
    if residual > MAX_RESIDUAL_IOD_PCT:
        reasons.append(Reason("alignment", f"alignment residual {residual:.1f}% of the eye distance: "
                                           "pose or expression differs"))
    if not norm.applied:
        reasons.append(Reason("lighting", f"lighting not normalised: {norm.reason}"))
    if None not in asymmetry and abs(asymmetry[0] - asymmetry[1]) > MAX_LIGHT_ASYMMETRY_DIFF_L:
        reasons.append(Reason("light_direction", f"the light falls differently: left-right lightness differs "
                                                 f"by {asymmetry[0] - asymmetry[1]:+.1f} L* from the baseline's"))
    if shared < MIN_SHARED_SKIN:
        reasons.append(Reason("too_little_skin", f"only {shared:.0%} of the baseline's skin is usable in both "
                                                 "photos"))
    return reasons


def _region_verdicts(pair: list[Reason], expression: ExpressionChange, regions: dict) -> dict:
    """Each region's verdict: the pair's reasons, its own expression change, and whether it is visible."""
    verdicts = {}
    for name, values in regions.items():
        reasons = pair + expression.reasons(name)
        if values["pixels"] < MIN_PIXELS:
            reasons.append(Reason("region_hidden", f"the {name.replace('_', ' ')} is not visible in both photos"))
        verdicts[name] = {"comparable": not reasons, "reasons": [r.to_dict() for r in reasons]}
    return verdicts


def distance_ratio(photo: Face, baseline: Face) -> float:
    """How much nearer the camera the photo's face is than the baseline's: the ratio of their sizes.

    The size is the root-mean-square distance of the stable landmarks (eye
    corners and nose ridge, :data:`analysis.facemesh.STABLE`) from their
    centroid in 3-D, with the face mesh's depth, so that neither expression
    nor a small turn of the head changes it. On simulated re-captures (scale
    0.9-1.1, rotation up to 8 degrees) its error was 0.4-0.55 % RMS, against
    up to 1.6 % for the eye distance alone.
    """
    def size(face: Face) -> float:
        points = face.points[list(STABLE)]
        return float(np.sqrt(((points - points.mean(axis=0)) ** 2).sum(axis=1).mean()))
    return size(photo) / size(baseline)


def distance_gain(ratio: float) -> float:
    """Linear-light gain that undoes the change in light on a face that moved nearer by ``ratio``.

    When the camera and lights stand still and the client sits a little
    nearer or farther, the light on the face falls with the square of its
    distance from the lights (inverse-square law), and the face's size in the
    photo with its distance from the camera. With the lights beside the
    camera both distances change alike, so the face receives ``ratio ** 2``
    times the light: the gain is ``ratio ** -DISTANCE_EXPONENT``. The backdrop
    does not move, so backdrop normalisation cannot see this. On the real
    re-captures of faces-london, face lightness rose with face size at
    0.49 L* per percent, as the law predicts (0.5 L* per percent at L* 60).
    The premise must be seen in the photos before the gain is applied
    (:func:`distance_correction`): a zoom or a moved camera changes the face's
    size and not its light.
    """
    return float(ratio ** -DISTANCE_EXPONENT)


def backdrop_motion(photo: FacePhoto, baseline: FacePhoto) -> FeatureAlignment | None:
    """The backdrop's similarity from the photo's pixels to the baseline's, from ORB features outside the
    client (:attr:`FacePhoto.backdrop_features`, :func:`analysis.align.similarity_from_features`); None
    when too few features match."""
    return similarity_from_features(photo.backdrop_features, baseline.backdrop_features)


def backdrop_scale(motion: FeatureAlignment | None) -> float | None:
    """How much larger the backdrop is in the photo than in the baseline (1: the same size), or None when
    it was not measured to :data:`MAX_BACKDROP_SCALE_UNCERTAINTY`."""
    if motion is None or motion.scale_uncertainty is None or motion.scale_uncertainty > MAX_BACKDROP_SCALE_UNCERTAINTY:
        return None
    return 1.0 / scale_of(motion.matrix)


def _percent(ratio: float) -> str:
    return f"{abs(ratio - 1):.0%}".replace("%", " %")


def distance_correction(ratio: float, backdrop: float | None, norm: Normalisation) -> tuple[float, Reason,
                                                                                               Reason | None]:
    """Whether the light on the face is corrected for a change of distance: (gain, why, framing).

    Only when the photos show the premise of :func:`distance_gain`: the
    lighting was matched on the backdrop, which cannot see the light at the
    face (a chart or card at the face does, and its correction stands); the
    face's size changed by more than :data:`MIN_FACE_SIZE_CHANGE`; and the
    backdrop (``backdrop``, :func:`backdrop_scale`) kept its size within
    :data:`MAX_BACKDROP_SCALE_CHANGE`, so the camera did not zoom or move and
    the client did. Otherwise the gain is 1 and, when the face's size changed
    by more than :data:`MAX_FRAMING_CHANGE`, ``framing`` says why the pair
    is not comparable and how to retake it (else None).

    Parameters
    ----------
    ratio : float
        The face's size in the photo over the baseline's (:func:`distance_ratio`).
    backdrop : float or None
        The backdrop's, or None when it could not be measured.
    norm : Normalisation
        The pair's lighting normalisation.
    """
    if not norm.applied:
        return 1.0, norm.reason, None
    if norm.method not in BACKDROP_METHODS:
        return 1.0, Reason("light_measured_at_face", f"the {norm.method.replace('_', ' ')} measured the light at "
                                                     "the face: no correction for distance"), None
    larger = "larger" if ratio > 1 else "smaller"
    if abs(ratio - 1) <= MIN_FACE_SIZE_CHANGE:
        return 1.0, Reason("face_size_unchanged", f"the face is within {MIN_FACE_SIZE_CHANGE:.0%} of the "
                                                  "baseline's size: no correction for distance"), None
    if backdrop is not None and abs(backdrop - 1) <= MAX_BACKDROP_SCALE_CHANGE:
        gain = distance_gain(ratio)
        return gain, Reason("client_moved", f"the face is {_percent(ratio)} {larger} while the backdrop kept its "
                                            f"size ({backdrop - 1:+.1%}): the client moved, the light on the face "
                                            f"is corrected by x{gain:.2f}"), None
    if backdrop is None:
        why = Reason("backdrop_unmeasured", f"the face is {_percent(ratio)} {larger} and the backdrop's size could "
                                            "not be measured: no correction for distance")
    else:
        why = Reason("backdrop_scaled", f"the face is {_percent(ratio)} {larger} and the backdrop scaled by "
                                        f"{backdrop - 1:+.1%}: a zoom or a moved camera, no correction for distance")
    framing = None
    if abs(ratio - 1) > MAX_FRAMING_CHANGE:
        framing = Reason("framing", f"the face is {_percent(ratio)} {larger} than at the baseline: keep the camera, "
                                    "zoom and chair where they were")
    return 1.0, why, framing


@dataclass(frozen=True)
class FaceLighting:
    """How a face photo's light is brought to the baseline's: the reference normalisation, then, when the
    photos show that the client moved (:func:`distance_correction`), their change of distance
    (:func:`distance_gain`).

    ``backdrop_scale`` is None when it was not measured (the face kept its size, or too few features);
    ``distance_reason`` says why the gain was or was not applied, and ``framing``, when not None, why the
    pair is not comparable.
    """

    normalisation: Normalisation
    distance_ratio: float
    backdrop_scale: float | None
    distance_gain: float
    distance_reason: Reason
    framing: Reason | None

    @property
    def distance_gain_applied(self) -> bool:
        return self.distance_gain != 1.0

    @property
    def photo_matrix(self) -> np.ndarray:
        return np.asarray(self.normalisation.matrix) * self.distance_gain

    def to_dict(self) -> dict:
        """The normalisation's record with the distance correction's."""
        return {**self.normalisation.to_dict(), "distance_ratio": self.distance_ratio,
                "backdrop_scale": self.backdrop_scale, "distance_gain": self.distance_gain,
                "distance_gain_applied": self.distance_gain_applied, "distance_reason": self.distance_reason.to_dict()}


def face_lighting(photo: FacePhoto, baseline: FacePhoto, photo_source: Pyramid, base_source: Pyramid,
                  photo_to_baseline: np.ndarray) -> FaceLighting:
    """The lighting normalisation of a face pair (see :class:`FaceLighting`).

    When the face changed size, the backdrop's own motion is measured
    (:func:`backdrop_motion`): it decides the distance correction and, when
    measured, maps the photo's backdrop onto the baseline's for the
    normalisation, since a client who moved does not move the backdrop with them.
    """
    ratio = distance_ratio(photo.face, baseline.face)
    motion = backdrop_motion(photo, baseline) if abs(ratio - 1) > MIN_FACE_SIZE_CHANGE else None
    scale = backdrop_scale(motion)
    backdrop_to_baseline = photo_to_baseline if scale is None else motion.matrix
    norm = backdrop_normalisation(photo_source, base_source, backdrop_to_baseline, baseline.face,
                                  photo_reference=photo.colour_reference, baseline_reference=baseline.colour_reference)
    gain, why, framing = distance_correction(ratio, scale, norm)
    return FaceLighting(norm, ratio, scale, gain, why, framing)


def _pair_face(photo: FacePhoto, baseline: FacePhoto, floors: Floors | None = None) -> dict:
    iod = _analysis_iod(photo, baseline)
    photo_source, base_source = photo.pyramid, baseline.pyramid
    matrix, residual, ecc_shift = align_faces(photo, baseline, photo_source, base_source)
    to_frame, size = frame_of(baseline, iod)
    base_rgb, base_valid = base_source.warp(to_frame, size)
    photo_rgb, photo_valid = photo_source.warp(compose(to_frame, matrix), size)
    light = face_lighting(photo, baseline, photo_source, base_source, matrix)
    norm = light.normalisation
    landmarks = apply(to_frame, baseline.face.xy)
    masks = region_masks(landmarks, base_valid.shape, iod)
    geometry = np.logical_or.reduce(list(masks.values())) & base_valid
    face = face_skin(landmarks, base_valid.shape, iod)
    fp = _frame(photo_rgb, photo_valid, geometry, _cheeks(masks), face, light.photo_matrix)
    fb = _frame(base_rgb, base_valid, geometry, _cheeks(masks), face, norm.baseline_matrix)
    skin = _shared(fp, fb)
    colour, texture, _ = skin
    px_per_mm = iod / MEAN_IPD_MM
    ref_a = _median_a_star(fb.lab, colour)
    p = _measure(fp, masks, skin, px_per_mm, ref_a)
    b = _measure(fb, masks, skin, px_per_mm, ref_a)
    quality = _quality(photo, fp, geometry)
    shared = colour.sum() / max(1, fb.colour.sum())
    midline = landmarks[list(NOSE_BRIDGE), 0].mean()
    asymmetry = (_light_asymmetry(fp.lab, colour, midline), _light_asymmetry(fb.lab, colour, midline))
    identity = same_person(photo.descriptor, baseline.descriptor)
    reasons = _pair_reasons(photo, baseline, residual, light, quality, asymmetry, shared)
    if identity.same is False:
        reasons.insert(0, Reason("different_person", f"{identity.message} (descriptor distance "
                                                     f"{identity.distance:.2f}, same person below "
                                                     f"{identity.threshold:.2f})"))
    expression = compare_expressions(photo.face, baseline.face)
    region_verdict = _region_verdicts(reasons, expression, p.regions)
    if expression.moved:
        spoiled = ", ".join(r for r in REGIONS if expression.spoiled.get(r))
        reasons.append(Reason("expression", f"{', '.join(expression.moved)} changed: {spoiled} not comparable"))
    scopes = {"overall": colour | texture, **{name: (colour | texture) & m for name, m in masks.items()}}
    noise = change_noise(p.maps, b.maps, scopes, ref_a, iod, floors)
    return {
        "face": _face_dict(photo),
        "quality": quality,
        "scale": {"iod_px": iod, "px_per_mm": px_per_mm},
        "normalisation": light.to_dict(),
        "metrics": p.overall,
        "regions": p.regions,
        "identity": identity.to_dict(),
        "expression": expression.to_dict(),
        "alignment": {
            "method": "landmarks+ecc" if ecc_shift else "landmarks",
            "matrix": matrix.tolist(),
            "residual_iod_pct": residual,
            "ecc_shift_iod_pct": ecc_shift,
            "comparable": not reasons,
            "reasons": [r.to_dict() for r in reasons],
        },
        **_comparison(p, b, noise, region_verdict),
    }


# --- body mode ----------------------------------------------------------------

def _body_frame(polygon: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    lo, hi = polygon.min(axis=0), polygon.max(axis=0)
    margin = 0.1 * (hi - lo).max()
    s = min(SCALE_MARGIN, BODY_MAX_REGION_SIDE / (hi - lo).max())  # never at native resolution: see SCALE_MARGIN
    to_frame = np.array([[s, 0, -(lo[0] - margin) * s], [0, s, -(lo[1] - margin) * s]])
    width, height = np.ceil((hi - lo + 2 * margin) * s).astype(int)
    return to_frame, (int(width), int(height))


def _body(photo_rgb: np.ndarray, polygon: np.ndarray, baseline_rgb: np.ndarray | None,
          floors: Floors | None = None) -> dict:
    reference_rgb = photo_rgb if baseline_rgb is None else baseline_rgb
    polygon = validate_polygon(polygon, reference_rgb.shape[1], reference_rgb.shape[0])
    to_frame, size = _body_frame(polygon)
    ref_frame, ref_valid = warp(reference_rgb, to_frame, size)
    region = np.zeros(ref_frame.shape[:2], np.uint8)
    cv2.fillPoly(region, [np.round(apply(to_frame, polygon) * 16).astype(np.int32)], 1, shift=4)
    region = region.astype(bool) & ref_valid
    if region.sum() < 30:
        raise UnsupportedImage("the marked region lies outside the photo or is too small")
    masks = {"marked": region}
    if baseline_rgb is None:
        f = _frame(ref_frame, ref_valid, region, region, region)
        m = _measure(f, masks, _shared(f), BODY_PX_PER_MM, _median_a_star(f.lab, f.colour))
        usable = bool(f.colour.sum() >= 30)
        problems = [] if usable else [Reason("skin_hidden", "too little skin is visible in the marked region")
                                      .to_dict()]
        return {"face": None, "quality": {"usable": usable, "warnings": problems, "problems": problems},
                "scale": {"px_per_mm": BODY_PX_PER_MM, "nominal": True},
                "normalisation": NOT_APPLIED_SINGLE.to_dict(), "metrics": m.overall, "regions": m.regions}
    found = _feature_alignment(photo_rgb, baseline_rgb, polygon)
    if found is None:
        raise UnsupportedImage("the photo could not be aligned to the baseline: too few matching features; "
                               "retake it from the baseline's position")
    matrix, inliers, residual = found
    photo_frame, photo_valid = warp(photo_rgb, to_3x3(to_frame) @ matrix, size)
    norm = backdrop_normalisation(Pyramid(photo_rgb), Pyramid(baseline_rgb), matrix, None, polygon,
                                   0.1 * np.ptp(polygon, axis=0).max())
    fp = _frame(photo_frame, photo_valid, region, region, region, norm.matrix)
    fb = _frame(ref_frame, ref_valid, region, region, region, norm.baseline_matrix)
    skin = _shared(fp, fb)
    colour, texture, _ = skin
    ref_a = _median_a_star(fb.lab, colour)
    p = _measure(fp, masks, skin, BODY_PX_PER_MM, ref_a)
    b = _measure(fb, masks, skin, BODY_PX_PER_MM, ref_a)
    reasons = [] if norm.applied else [Reason("lighting", f"lighting not normalised: {norm.reason}")]
    if residual > MAX_FEATURE_RESIDUAL_PX:
        reasons.append(Reason("features_misaligned", f"feature alignment residual {residual:.1f} px"))
    noise = change_noise(p.maps, b.maps, {"overall": colour | texture, "marked": colour | texture}, ref_a,
                         BODY_PX_PER_MM * MEAN_IPD_MM, floors, {"overall": "marked"})
    verdict = {"marked": {"comparable": not reasons, "reasons": [r.to_dict() for r in reasons]}}
    return {
        "face": None, "quality": {"usable": True, "warnings": [], "problems": []},
        "scale": {"px_per_mm": BODY_PX_PER_MM, "nominal": True},
        "normalisation": norm.to_dict(), "metrics": p.overall, "regions": p.regions,
        "alignment": {"method": "features", "matrix": matrix.tolist(), "inliers": inliers,
                      "residual_px": residual, "comparable": not reasons,
                      "reasons": [r.to_dict() for r in reasons]},
        **_comparison(p, b, noise, verdict),
    }


def _feature_alignment(photo_rgb, baseline_rgb, polygon):
    """Homography photo -> baseline from features found at up to 1024 px, in full-resolution pixels."""
    def small(rgb):
        s = min(1.0, 1024 / max(rgb.shape[:2]))
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        return (grey if s == 1 else cv2.resize(grey, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)), s
    p_grey, sp = small(photo_rgb)
    b_grey, sb = small(baseline_rgb)
    found = align_by_features(p_grey, b_grey)
    if found is None:
        return None
    matrix = np.diag([1 / sb, 1 / sb, 1.0]) @ found.matrix @ np.diag([sp, sp, 1.0])
    return matrix, found.inliers, found.residual_px / sb


# --- hair loss and cellulite: area measures ---------------------------------

#: Treatments with their own measures, and the module that makes them.
AREAS = {"scalp": scalp, "cellulite": cellulite}
#: The area measures are area-preserving (unmixing, band-pass in linear light), so the frame keeps the
#: photo's resolution up to this many pixels on the region's longer side.
AREA_MAX_SIDE = 1024
INVARIANT = Normalisation(applied=False, method="none", reason=Reason(
    "not_needed", "not needed: these measures are ratios within each photo, unchanged by exposure and white balance"))


def _area_frame(polygon: np.ndarray) -> tuple[np.ndarray, tuple[int, int], float]:
    lo, hi = polygon.min(axis=0), polygon.max(axis=0)
    margin = 0.05 * (hi - lo).max()
    s = min(1.0, AREA_MAX_SIDE / (hi - lo).max())
    to_frame = np.array([[s, 0, -(lo[0] - margin) * s], [0, s, -(lo[1] - margin) * s]])
    width, height = np.ceil((hi - lo + 2 * margin) * s).astype(int)
    return to_frame, (int(width), int(height)), s


def _polygon_mask(polygon: np.ndarray, to_frame: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(apply(to_frame, polygon) * 16).astype(np.int32)], 1, shift=4)
    return mask.astype(bool)


def _area(photo_rgb: np.ndarray, polygon: np.ndarray, baseline_rgb: np.ndarray | None, area: str,
          marker_mm: float) -> dict:
    """Hair-loss or cellulite measures over the marked region (:mod:`analysis.scalp`, :mod:`analysis.cellulite`).

    As for other body areas the photo is aligned to the baseline by features
    and resampled into a frame around the region, but in linear light and at
    up to :data:`AREA_MAX_SIDE` pixels; the scale comes from a printed marker
    in the baseline (:mod:`analysis.marker`), else it is nominal
    (:data:`BODY_PX_PER_MM` in the frame); the marker is left out of the
    region; no lighting normalisation is needed.
    """
    module = AREAS[area]
    polygon = np.asarray(polygon, dtype=np.float64)
    if polygon.ndim != 2 or polygon.shape[1] != 2 or len(polygon) < 3:
        raise UnsupportedImage("the region must be a polygon of at least 3 (x, y) points")
    reference_rgb = photo_rgb if baseline_rgb is None else baseline_rgb
    to_frame, size, s = _area_frame(polygon)
    found = measure_scale(reference_rgb, marker_mm)
    scale = found.scaled(s) if not found.nominal else Scale(BODY_PX_PER_MM, True, "nominal")
    ref_frame, ref_valid = warp(scalp.as_linear(reference_rgb), to_frame, size)
    region = _polygon_mask(polygon, to_frame, ref_valid.shape) & ref_valid & ~marker_mask(found, to_frame,
                                                                                          ref_valid.shape)
    if region.sum() < 30:
        raise UnsupportedImage("the marked region lies outside the photo or is too small")
    head = {"face": None, "area": area, "scale": {**scale.to_dict(), "frame_scale": s},
            "normalisation": (NOT_APPLIED_SINGLE if baseline_rgb is None else INVARIANT).to_dict()}
    if baseline_rgb is None:
        m = module.measure(ref_frame, region, scale.px_per_mm)
        return {**head, **_area_result(m)}
    aligned = _feature_alignment(photo_rgb, baseline_rgb, polygon)
    if aligned is None:
        raise UnsupportedImage("the photo could not be aligned to the baseline: too few matching features; "
                               "retake it from the baseline's position")
    matrix, inliers, residual = aligned
    to_photo_frame = to_3x3(to_frame) @ matrix
    photo_frame, photo_valid = warp(scalp.as_linear(photo_rgb), to_photo_frame, size)
    region &= photo_valid & ~marker_mask(measure_scale(photo_rgb, marker_mm), to_photo_frame, region.shape)
    b = module.measure(ref_frame, region, scale.px_per_mm)
    p = module.measure(photo_frame, region, scale.px_per_mm)
    changes = module.compare(p, b, region, scale.px_per_mm)
    reasons = [] if residual <= MAX_FEATURE_RESIDUAL_PX else [
        Reason("features_misaligned", f"feature alignment residual {residual:.1f} px")]
    result = _area_result(p)
    return {
        **head, **result,
        "alignment": {"method": "features", "matrix": matrix.tolist(), "inliers": inliers, "residual_px": residual,
                      "comparable": not reasons, "reasons": [r.to_dict() for r in reasons]},
        "reference_metrics": dict(b.values), "reference_measurement": b.to_dict(),
        "change": {k: c.change for k, c in changes.items()},
        "change_pct": {k: (None if c.change is None or not b.values[k] else 100 * c.change / abs(b.values[k]))
                       for k, c in changes.items()},
        "noise": {k: c.noise for k, c in changes.items()},
        # Their floors come from rendered scenes (:mod:`analysis.areas`): clinics cannot calibrate them yet.
        "noise_source": {k: (None if c.noise is None else "shipped") for k, c in changes.items()},
        "beyond_noise": {k: c.beyond_noise for k, c in changes.items()},
        "change_refused": {k: c.refused.to_dict() for k, c in changes.items() if c.refused is not None},
    }


def _area_result(m) -> dict:
    problems = [r.to_dict() for r in {r.code: r for r in m.refused.values() if r.blocking}.values()]
    return {"quality": {"usable": not problems, "warnings": [r.message for r in m.refused.values()],
                        "problems": [p["message"] for p in problems]},
            "metrics": dict(m.values), "refused": {k: r.to_dict() for k, r in m.refused.items()},
            "regions": {"marked": dict(m.values)}, "measurement": m.to_dict()}


# --- entry point --------------------------------------------------------------

def analyse(image, reference=None, *, region=None, area: str | None = None,
            marker_mm: float = DEFAULT_MARKER_MM, floors: Floors | None = None) -> dict:
    """Measure a photo's skin, and its change since a baseline.

    Parameters
    ----------
    image : DecodedImage, FacePhoto or ndarray of uint8, shape (H, W, 3)
        The session photo, sRGB, upright.
    reference : same types, optional
        The course's baseline photo of the same view.
    region : array-like of shape (N, 2), optional
        For photos without a face (neck, hands, scalp, body): the polygon to
        measure, in the baseline's pixels if ``reference`` is given, else in
        the photo's. Face detection is skipped.
    area : {"scalp", "cellulite"}, optional
        With ``region``: measure hair loss (:mod:`analysis.scalp`) or cellulite
        (:mod:`analysis.cellulite`) instead of skin colour and texture.
        ``metrics`` then holds that area's metrics, ``refused`` the reason
        (``{"code", "message"}``) for each metric that could not be measured,
        and with a reference ``change_refused`` the reason for each change
        withheld (``light_direction``).
    marker_mm : float
        Side of the printed ArUco marker that gives the scale (:mod:`analysis.marker`).
    floors : Floors, optional
        The clinic's repeatability floors (:mod:`analysis.calibration`); a
        tier, scope and metric they lack takes the shipped floor
        (:mod:`analysis.noise`). Not used by the hair-loss and cellulite measures.

    Returns
    -------
    dict
        JSON-ready. Keys: ``analysis_version``, ``image``, ``face``,
        ``quality``, ``scale``, ``normalisation``, ``metrics``, ``regions``;
        with a reference also ``alignment``, ``change`` (photo minus
        baseline), ``change_pct``, ``noise`` (95 % bound of each change),
        ``noise_source`` (where each bound's floor came from: "clinic" for
        ``floors``, "shipped", or None without a bound), ``noise_tier``,
        ``beyond_noise``, ``reference_metrics``, ``reference_regions``,
        ``region_change``, ``region_noise`` and ``region_noise_source``; a
        face pair's ``normalisation`` also says whether the light on the face
        was corrected for a change of distance and why
        (:meth:`FaceLighting.to_dict`). Metric names and units: :mod:`analysis.metrics`.

    Raises
    ------
    NoFace, MultipleFaces
        In face mode, for either photo.
    """
    rgb = _pixels(image)
    head = {"analysis_version": __version__, "image": {"width": int(rgb.shape[1]), "height": int(rgb.shape[0])}}
    if area is not None and area not in AREAS:
        raise ValueError(f"unknown area {area!r}: one of {', '.join(AREAS)}")
    if area is not None and region is None:
        raise ValueError(f"the {area} measures need a marked region")
    if region is not None:
        base = None if reference is None else _pixels(reference)
        if area is not None:
            return {**head, **_area(rgb, region, base, area, marker_mm)}
        return {**head, **_body(rgb, region, base, floors)}
    photo = locate_face(image)
    if reference is None:
        return {**head, **_single_face(photo)}
    return {**head, **_pair_face(photo, locate_face(reference), floors)}
