"""Simulated re-captures and skin changes with known ground truth.

Validation needs photo pairs where the truth is known. From one real
photograph this module makes

* *re-captures* that change only nuisance conditions, as a second session
  would: head position (rotation, scale, shift), exposure and white balance
  (per-channel gains in linear light, as a camera applies them) and JPEG
  recompression; and
* *treatment effects* injected into the skin only: a shift of CIELAB a*
  (redness) or L* (brightness), or a reduction of fine-scale log-luminance
  contrast (smoother texture), feathered at the mask's edge.

The sample course in ``sample_images/`` and the validation script use these.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.spatial import Delaunay
from skimage import color

from .colour import linear_to_srgb, srgb_to_linear
from .facemesh import FACE_OVAL, Face
from .metrics import MEAN_IPD_MM, masked_smooth
from .regions import feature_mask, region_masks, skin_colour_mask


@dataclass(frozen=True)
class Recapture:
    """Nuisance conditions of a simulated second capture."""

    rotation_deg: float = 0.0
    scale: float = 1.0
    shift_px: tuple[float, float] = (0.0, 0.0)
    exposure: float = 1.0
    white_balance: tuple[float, float, float] = (1.0, 1.0, 1.0)
    jpeg_quality: int | None = None
    #: Extra light on the client (not the backdrop): sitting nearer a fixed camera and lights by a
    #: factor ``scale`` (with :attr:`backdrop_fixed`) raises it by ``scale ** 2`` (inverse-square law,
    #: :func:`analysis.pipeline.distance_gain`).
    subject_light: float = 1.0
    #: Resample in linear light, as a camera's sensor integrates light (True), or in sRGB values, as
    #: image software does (False: the default, with which the face noise floors were measured).
    linear_light: bool = False
    #: The camera and the backdrop stood still and the client moved (True): rotation, scale and shift move
    #: the subject alone, over the backdrop as it was. False: the whole frame moves, as a zoom or a moved
    #: camera does (the backdrop then scales with the face).
    backdrop_fixed: bool = False

    @classmethod
    def random(cls, rng: np.random.Generator, size: tuple[int, int]) -> Recapture:
        """Conditions drawn from the validation ranges: rotation up to 10 degrees, scale 0.9-1.1
        (the client nearer or farther, with the light on them changing to match), shift up to 4 % of
        the frame, exposure +-30 %, white balance +-8 % per channel, JPEG 75-95."""
        h, w = size
        scale = float(rng.uniform(0.9, 1.1))
        return cls(
            rotation_deg=float(rng.uniform(-10, 10)),
            scale=scale,
            subject_light=scale ** 2,
            shift_px=(float(rng.uniform(-0.04, 0.04) * w), float(rng.uniform(-0.04, 0.04) * h)),
            exposure=float(rng.uniform(0.7, 1.3)),
            white_balance=tuple(float(g) for g in rng.uniform(0.92, 1.08, 3)),
            jpeg_quality=int(rng.integers(75, 96)),
        )

    def matrix(self, size: tuple[int, int]) -> np.ndarray:
        """2 x 3 map from original pixels to re-captured pixels."""
        h, w = size
        m = cv2.getRotationMatrix2D((w / 2, h / 2), self.rotation_deg, self.scale)
        m[:, 2] += self.shift_px
        return m

    def apply(self, rgb: np.ndarray, subject: np.ndarray | None = None, seed: int = 0) -> np.ndarray:
        """The re-captured photo, uint8 RGB of the same size.

        ``subject`` (weights 0 to 1, the client's pixels, e.g. :func:`subject_mask`) receives
        :attr:`subject_light`; without it the light on the client does not change (a zoom). With
        :attr:`backdrop_fixed` it is required: the moved subject is laid by its weights over the
        backdrop as it was, filled in where the subject stood (:func:`clean_plate`). All light
        changes act together in linear light and the result is written to 8 bits once, with
        dithered rounding (:func:`dithered_uint8`, ``seed``), as a sensor's noise does.
        """
        h, w = rgb.shape[:2]
        if self.backdrop_fixed and subject is None:
            raise ValueError("a client moving over a fixed backdrop needs the subject's mask")
        if self.linear_light:
            rgb = srgb_to_linear(rgb.astype(np.float32) / 255.0)
        source = rgb
        if self.scale < 1:  # a sensor integrates over its pixels: no aliasing when farther away
            rgb = cv2.GaussianBlur(rgb, (0, 0), 0.5 * np.sqrt(1 / self.scale ** 2 - 1))
        matrix = self.matrix((h, w))
        moved = cv2.warpAffine(rgb, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        weights = None if subject is None else cv2.warpAffine(subject.astype(np.float32), matrix, (w, h),
                                                              flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        if self.backdrop_fixed:
            moved = weights[..., None] * moved + (1.0 - weights[..., None]) * clean_plate(source, subject)
        gains = self.exposure * np.asarray(self.white_balance, dtype=np.float32)
        linear = (moved if self.linear_light else srgb_to_linear(moved.astype(np.float32) / 255.0)) * gains
        if weights is not None and self.subject_light != 1.0:
            linear *= (self.subject_light ** weights)[..., None]
        out = dithered_uint8(linear_to_srgb(linear), np.random.default_rng(seed))
        if self.jpeg_quality is not None:
            ok, buf = cv2.imencode(".jpg", out[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
            out = cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1]
        return np.ascontiguousarray(out)


#: The backdrop behind the client is filled in at most this many pixels on the longer side (:func:`clean_plate`).
PLATE_MAX_SIDE = 256


def clean_plate(image: np.ndarray, subject: np.ndarray) -> np.ndarray:
    """``image`` (uint8, or float in [0, 1]) without the client: where ``subject`` (weights 0 to 1) is not 0,
    the backdrop around it filled in by inpainting [1]_, done at :data:`PLATE_MAX_SIDE` pixels and enlarged.

    What a client who moved uncovers: the backdrop's colours, without its detail.

    References
    ----------
    .. [1] A. Telea, "An image inpainting technique based on the fast marching method", Journal of
           Graphics Tools 9(1):23-34, 2004.
    """
    h, w = image.shape[:2]
    s = min(1.0, PLATE_MAX_SIDE / max(h, w))
    small_size = (max(1, round(w * s)), max(1, round(h * s)))
    as_u8 = image if image.dtype == np.uint8 else np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)
    hole = cv2.resize((subject > 0).astype(np.uint8), small_size, interpolation=cv2.INTER_NEAREST)
    hole = cv2.dilate(hole, np.ones((3, 3), np.uint8))
    small = cv2.inpaint(cv2.resize(as_u8, small_size, interpolation=cv2.INTER_AREA), hole, 3, cv2.INPAINT_TELEA)
    filled = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    if image.dtype != np.uint8:
        filled /= 255.0
    weight = (subject > 0).astype(np.float32)[..., None]
    return weight * filled + (1.0 - weight) * image


def dithered_uint8(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Float sRGB in [0, 1] to uint8 with random (dithered) rounding.

    Plain rounding of an image changed by less than an 8-bit step rounds most
    pixels the same way: an a* shift of -2 written with ``np.round`` reads
    about -1.75 in the pixels. Adding uniform noise of one step before
    truncating makes the written change right on average [1]_.

    References
    ----------
    .. [1] L. G. Roberts, "Picture coding using pseudo-random noise", IRE
           Trans. Inform. Theory 8(2):145-154, 1962.
    """
    return np.floor(np.clip(rgb, 0.0, 1.0) * 255.0 + rng.uniform(0.0, 1.0, rgb.shape)).clip(0, 255).astype(np.uint8)


def subject_mask(face: Face, shape: tuple[int, int]) -> np.ndarray:
    """The client's pixels: the face oval grown by half an eye distance, and everything below the chin.

    Float weights in [0, 1], ramping down over a further fifth of an eye distance.
    """
    iod = face.inter_ocular_px
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(face.xy[list(FACE_OVAL)]).astype(np.int32)], 1)
    mask[int(face.xy[:, 1].max()):] = 1
    distance = cv2.distanceTransform((mask == 0).astype(np.uint8), cv2.DIST_L2, 5)
    return np.clip(1.0 - (distance - 0.5 * iod) / max(1.0, 0.2 * iod), 0.0, 1.0).astype(np.float32)


def skin_mask(face: Face, rgb: np.ndarray, feather_iod: float = 0.05) -> np.ndarray:
    """Where to inject a change: skin-coloured face without eyes, brows, lips and nose.

    Hair over the forehead is left out by its colour (as in
    :func:`analysis.regions.skin_colour_mask`, against the cheeks). The mask
    is feathered outwards, into the margins around the features, so that
    every pixel of the skin itself gets the full change. Returns float32
    weights in [0, 1].
    """
    shape = rgb.shape[:2]
    iod = face.inter_ocular_px
    regions = region_masks(face.xy, shape, iod)
    lab = color.rgb2lab(rgb)
    skin = skin_colour_mask(lab, regions["left_cheek"] | regions["right_cheek"])
    oval = np.zeros(shape, np.uint8)
    cv2.fillPoly(oval, [np.round(face.xy[list(FACE_OVAL)]).astype(np.int32)], 1)
    mask = (oval.astype(bool) & ~feature_mask(face.xy, shape, iod) & skin).astype(np.uint8)
    sigma = max(0.5, feather_iod * iod)
    r = int(np.ceil(2 * sigma))
    grown = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
    return np.maximum(mask, cv2.GaussianBlur(grown.astype(np.float32), (0, 0), sigma))


def inject(rgb: np.ndarray, weights: np.ndarray, delta_a: float = 0.0, delta_l: float = 0.0,
           texture_factor: float = 1.0, texture_sigma_px: float = 1.0, seed: int = 0) -> np.ndarray:
    """Change the skin under ``weights`` by a known amount.

    Parameters
    ----------
    rgb : ndarray of uint8, shape (H, W, 3)
    weights : ndarray of float, shape (H, W)
        Where to apply the change, 0 to 1.
    delta_a, delta_l : float
        Added to CIELAB a* and L*.
    texture_factor : float
        Multiplies the fine-scale component of ``ln Y`` (log luminance), the
        part above a Gaussian of ``texture_sigma_px`` taken over the skin
        only (so that dark hair or eyes do not bleed in): 0.7 makes fine texture
        30 % weaker, which :func:`analysis.metrics.texture_roughness` measured
        at the same scale reads as -30 %.
    seed : int
        For the dithered rounding to 8 bits (:func:`dithered_uint8`), which keeps
        the written change exact on average.
    """
    out = rgb.astype(np.float32) / 255.0
    w = weights[..., None].astype(np.float32)
    if texture_factor != 1.0:
        linear = srgb_to_linear(out)
        y = np.maximum(linear @ np.array([0.2126, 0.7152, 0.0722], np.float32), 1e-4)
        log_y = np.log(y)
        skin = weights > 0.5
        smooth = masked_smooth(log_y, skin, texture_sigma_px)
        new_log_y = smooth + texture_factor * (log_y - smooth)
        new_y = y * np.exp(new_log_y - log_y)
        # Keep the local mean luminance: less contrast, not darker skin.
        keep_mean = (masked_smooth(y, skin, texture_sigma_px)
                     / np.maximum(masked_smooth(new_y, skin, texture_sigma_px), 1e-4))
        new_y *= np.where(keep_mean > 0, keep_mean, 1.0)  # 0 far from any skin, where w is 0 too
        gain = np.exp(np.log(new_y / y) * w[..., 0])
        out = linear_to_srgb(linear * gain[..., None])
    if delta_a or delta_l:
        lab = color.rgb2lab(out)
        lab[..., 0] += delta_l * w[..., 0]
        lab[..., 1] += delta_a * w[..., 0]
        out = np.clip(color.lab2rgb(lab), 0, 1)
    return dithered_uint8(out, np.random.default_rng(seed))


def clinic_portrait(rgb: np.ndarray, face: Face, scale: float = 6.0, texture_pct: float = 3.0,
                    seed: int = 0) -> np.ndarray:
    """A clinic-resolution head-and-shoulders photo made from a low-resolution portrait.

    Press portraits such as scikit-image's astronaut resolve about 1.5 mm of
    skin per pixel: skin texture is not in them. To validate the texture
    metrics at the resolution of a clinic camera, the head is cropped with
    its backdrop, enlarged ``scale`` times (bicubic), and given a synthetic
    micro-texture in the skin only: log-luminance noise band-limited to 0.15
    and 0.4 mm (Gaussian sigmas, using the adult mean inter-pupillary
    distance as the ruler) with RMS ``texture_pct`` percent, and pores, small
    dark discs of 0.1-0.2 mm radius at about one per 4 mm^2. The result is
    generated data with a documented texture, not a photograph of real skin.

    Returns uint8 RGB.
    """
    rng = np.random.default_rng(seed)
    size = np.ptp(face.xy, axis=0).max()
    lo = np.maximum(face.xy.min(axis=0) - 0.8 * size, 0).astype(int)
    hi = np.minimum(face.xy.max(axis=0) + 0.8 * size, rgb.shape[1::-1]).astype(int)
    crop = rgb[lo[1]:hi[1], lo[0]:hi[0]]
    big = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    big_face = Face(np.column_stack([(face.xy - lo) * scale, face.points[:, 2] * scale]))
    weights = skin_mask(big_face, big)
    px_per_mm = big_face.inter_ocular_px / MEAN_IPD_MM
    shape = big.shape[:2]
    noise = sum(cv2.GaussianBlur(rng.standard_normal(shape).astype(np.float32), (0, 0), mm * px_per_mm)
                for mm in (0.15, 0.4))
    noise *= texture_pct / 100.0 / noise.std()
    pores = np.zeros(shape, np.float32)
    n_pores = int(shape[0] * shape[1] / (4.0 * px_per_mm ** 2))
    for (y, x), r in zip(rng.uniform((0, 0), shape, (n_pores, 2)), rng.uniform(0.1, 0.2, n_pores) * px_per_mm):
        cv2.circle(pores, (int(x), int(y)), max(1, int(round(r))), 1.0, -1)
    log_gain = (noise - 0.08 * cv2.GaussianBlur(pores, (0, 0), 0.5)) * weights
    linear = srgb_to_linear(big.astype(np.float32) / 255.0) * np.exp(log_gain)[..., None]
    return np.round(linear_to_srgb(linear) * 255.0).astype(np.uint8)


def turn_head(rgb: np.ndarray, face: Face, yaw_deg: float) -> np.ndarray:
    """Render the head turned by ``yaw_deg`` (the sign convention of :mod:`analysis.pose`).

    The face mesh's 468 points, with their depth, and an outline just outside
    the face are rotated about the vertical axis through the face's centre and
    projected orthographically.
    The photo is cut into triangles (Delaunay, over the mesh, a fixed ring
    around the head and the frame's edge) and each is warped to its new place,
    far triangles first, so the near side of the face hides the far side;
    triangles the turn flips over face away from the camera and are not drawn.
    Hair and backdrop between the face and the ring stretch to fill what the
    turn uncovers, with visible saw-tooth streaks along the far cheek's
    silhouette. A simulation for demonstration and tests: the far cheek is
    foreshortened, not truly seen from the side. The mesh's relative depth is
    shallower than a real head's, so :func:`analysis.pose.head_pose` reads a
    rendered turn of 45 degrees as about 30.
    """
    h, w = rgb.shape[:2]
    mesh = face.points[:468]
    centre = mesh.mean(axis=0)
    # The mesh's outline lies a little inside the face's edge: an outline 10 % further out turns with
    # the face, so the skin at its edge moves with it instead of being stretched into the backdrop.
    oval = mesh[list(FACE_OVAL)]
    outline = np.column_stack([centre[:2] + (oval[:, :2] - centre[:2]) * 1.1, oval[:, 2]])
    points = np.vstack([mesh, outline])
    angle = -np.radians(yaw_deg)  # positive yaw brings the client's right cheek (image left) towards the camera
    x, z = points[:, 0] - centre[0], points[:, 2] - centre[2]
    turned_x = centre[0] + x * np.cos(angle) + z * np.sin(angle)
    depth = centre[2] - x * np.sin(angle) + z * np.cos(angle)
    source = points[:, :2]
    target = np.column_stack([turned_x, points[:, 1]])
    extent = np.ptp(mesh[:, :2], axis=0)
    ring_angles = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    ring = centre[:2] + np.column_stack([np.cos(ring_angles) * extent[0] * 1.1, np.sin(ring_angles) * extent[1] * 0.9])
    edge = np.array([[0, 0], [w / 2, 0], [w - 1, 0], [w - 1, h / 2], [w - 1, h - 1], [w / 2, h - 1], [0, h - 1],
                     [0, h / 2]], dtype=np.float64)
    src = np.vstack([source, ring, edge])
    dst = np.vstack([target, ring, edge])
    far = np.concatenate([depth, np.full(len(ring) + len(edge), depth.max() + 1e4)])
    triangles = Delaunay(src).simplices
    def orientation(p):
        return np.sign((p[1, 0] - p[0, 0]) * (p[2, 1] - p[0, 1]) - (p[1, 1] - p[0, 1]) * (p[2, 0] - p[0, 0]))

    out = rgb.copy()
    for tri in sorted(triangles, key=lambda t: -far[t].mean()):
        s_tri, d_tri = src[tri].astype(np.float32), dst[tri].astype(np.float32)
        if orientation(s_tri) != orientation(d_tri):
            continue  # turned away from the camera: a back face, hidden on a real head
        x0, y0 = np.floor(d_tri.min(axis=0)).astype(int)
        x1, y1 = np.ceil(d_tri.max(axis=0)).astype(int) + 1
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if x1 <= x0 or y1 <= y0:
            continue
        m = cv2.getAffineTransform(s_tri, (d_tri - [x0, y0]).astype(np.float32))
        patch = cv2.warpAffine(rgb, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillConvexPoly(mask, np.round((d_tri - [x0, y0]) * 16).astype(np.int32), 1, cv2.LINE_AA, 4)
        region = out[y0:y1, x0:x1]
        region[mask > 0] = patch[mask > 0]
    return out


# --- scalp and body surfaces with known answers -------------------------------

#: sRGB colours of hair and skin for rendered scalps (typical values, not measurements).
HAIR_COLOURS = {"black": (22, 18, 16), "dark_brown": (48, 33, 24), "brown": (92, 64, 42),
                "blond": (206, 178, 128), "grey": (172, 170, 164), "white": (228, 225, 216)}
SKIN_COLOURS = {"light": (228, 192, 170), "medium": (196, 146, 112), "dark": (112, 76, 56)}


@dataclass(frozen=True, eq=False)
class Rendered:
    """A rendered photo with its ground truth.

    ``region`` is the polygon to measure, in the photo's pixels; ``truth``
    holds the known answers (``visible_pct``, ``part_width_mm``,
    ``shadow_pct``, ...); ``px_per_mm`` is the true scale.
    """

    rgb: np.ndarray
    region: np.ndarray
    px_per_mm: float
    truth: dict


def _skin_canvas(shape: tuple[int, int], colour: tuple[int, int, int], px_per_mm: float,
                 rng: np.random.Generator, texture_pct: float = 3.0) -> np.ndarray:
    """Linear-light skin: a base colour with slow mottling (5 %) and fine texture, float32 (H, W, 3)."""
    slow = cv2.GaussianBlur(rng.standard_normal(shape).astype(np.float32), (0, 0), 8 * px_per_mm)
    fine = cv2.GaussianBlur(rng.standard_normal(shape).astype(np.float32), (0, 0), max(0.7, 0.2 * px_per_mm))
    log_gain = 0.05 * slow / max(slow.std(), 1e-6) + texture_pct / 100 * fine / max(fine.std(), 1e-6)
    base = srgb_to_linear(np.asarray(colour, np.float32) / 255.0)
    return base[None, None, :] * np.exp(log_gain)[..., None]


def _draw_marker(linear: np.ndarray, marker_mm: float, px_per_mm: float, at: tuple[int, int]) -> np.ndarray:
    """A printed ``DICT_4X4_50`` marker (id 0) with a one-cell white border, top-left corner ``at``.

    Returns the polygon of the printed card (marker and border), in pixels.
    """
    side = int(round(marker_mm * px_per_mm))
    cell = side / 6  # 4 x 4 bits inside a one-cell black frame
    card = int(round(side + 2 * cell))
    bitmap = cv2.aruco.generateImageMarker(cv2.aruco.getPredefinedDictionary(cv2.aruco.DICT_4X4_50), 0, side)
    paper = np.full((card, card), 245, np.uint8)
    b = int(round(cell))
    paper[b:b + side, b:b + side] = np.where(bitmap > 127, 245, 20)
    x, y = at
    linear[y:y + card, x:x + card] = srgb_to_linear(paper.astype(np.float32) / 255.0)[..., None]
    return np.array([[x, y], [x + card, y], [x + card, y + card], [x, y + card]], np.float64)


def _finish(linear: np.ndarray, factor: int) -> np.ndarray:
    """Average ``factor`` x ``factor`` blocks in linear light (a sensor's pixels), to uint8 sRGB."""
    h, w = linear.shape[:2]
    small = cv2.resize(linear, (w // factor, h // factor), interpolation=cv2.INTER_AREA)
    return np.round(linear_to_srgb(small) * 255.0).astype(np.uint8)


def render_scalp(visible_pct: float = 30.0, hair: str = "black", skin: str = "light",
                 part_width_mm: float | None = None, marker_mm: float | None = 10.0,
                 size: tuple[int, int] = (480, 640), px_per_mm: float = 12.0, seed: int = 0,
                 supersample: int = 3, strand_mm: float = 0.09) -> Rendered:
    """A top-down scalp photo with hair over skin and a known share of scalp showing.

    Strands (``strand_mm`` thick, 6-20 mm long, gently curved, combed along a
    slowly turning direction, each a little lighter or darker than ``hair``)
    are drawn one by one over textured skin at ``supersample`` times the
    final resolution, from a sequence fixed by ``seed``, until the share of
    the marked region left uncovered reaches ``visible_pct``; the photo is
    then averaged down to the final pixels, so hairs thinner than a pixel
    become mixed pixels, as in a real camera. A lower ``visible_pct`` with the
    same seed draws the same strands and more, so a course of renders shows
    the same hairs thinning out.

    With ``part_width_mm`` the hair is parted along the vertical midline: no
    strand crosses a band of that width, and strands are combed densely
    along both edges (a part between two combed masses of hair). With
    ``marker_mm`` a printed ArUco marker of that side lies in the top-left
    corner, outside the region.

    Returns
    -------
    Rendered
        ``truth``: ``visible_pct`` (share of the region's area not covered by
        any strand, exactly, at the rendering resolution), ``part_width_mm``,
        ``hair``, ``skin``, ``marker_mm``.
    """
    rng = np.random.default_rng(seed)
    f = supersample
    h, w = size[0] * f, size[1] * f
    ppm = px_per_mm * f
    linear = _skin_canvas((h, w), SKIN_COLOURS[skin], ppm, rng)
    covered = np.zeros((h, w), np.uint8)
    margin = int(0.08 * min(h, w))
    top = margin + (int(round((marker_mm * 8 / 6) * ppm)) + margin if marker_mm else 0)
    region = np.array([[margin, top], [w - margin, top], [w - margin, h - margin], [margin, h - margin]], float)
    inside = np.zeros((h, w), np.uint8)
    cv2.fillPoly(inside, [region.astype(np.int32)], 1)
    inside = inside.astype(bool)
    part = np.zeros((h, w), bool)
    if part_width_mm:
        half = part_width_mm * ppm / 2
        part[:, int(round(w / 2 - half)):int(round(w / 2 + half))] = True
    hair_linear = srgb_to_linear(np.asarray(HAIR_COLOURS[hair], np.float32) / 255.0)
    thickness = max(1, int(round(strand_mm * ppm)))
    flow = rng.uniform(0, np.pi)

    def strand(x0, y0, angle, length):
        bend = rng.normal(0, 0.15)
        t = np.linspace(0, 1, 6)
        a = angle + bend * t
        pts = np.column_stack([x0 + np.cumsum(np.cos(a)) * length / 6, y0 + np.cumsum(np.sin(a)) * length / 6])
        return np.round(pts).astype(np.int32)

    def draw(pts):
        tone = hair_linear * float(np.exp(rng.normal(0, 0.15)))
        x0, y0 = np.maximum(pts.min(axis=0) - thickness, 0)
        x1, y1 = np.minimum(pts.max(axis=0) + thickness + 1, (w, h))
        if x1 <= x0 or y1 <= y0:
            return
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.polylines(mask, [pts - [x0, y0]], False, 1, thickness, cv2.LINE_8)
        m = mask.astype(bool) & ~part[y0:y1, x0:x1]
        linear[y0:y1, x0:x1][m] = tone
        covered[y0:y1, x0:x1][m] = 1

    if part_width_mm:  # combed edges: strands along the part, densely, 1.5 mm deep on each side
        for side in (-1, 1):
            edge = w / 2 + side * (part_width_mm * ppm / 2 + thickness / 2)
            for k in range(int(1.5 * ppm / thickness * 1.5)):
                x = edge + side * k * thickness / 1.5
                for y0 in np.arange(-0.2 * h, h, 0.3 * h):
                    draw(np.round([[x, y0], [x + rng.normal(0, 1), y0 + 0.35 * h]]).astype(np.int32))
    target = visible_pct / 100.0
    while (1 - covered[inside].mean()) > target:
        for _ in range(200):
            x0, y0 = rng.uniform(-0.05 * w, 1.05 * w), rng.uniform(-0.05 * h, 1.05 * h)
            angle = flow + 0.6 * np.sin(x0 / w * 3 + y0 / h * 2) + rng.normal(0, 0.15)
            draw(strand(x0, y0, angle, rng.uniform(6, 20) * ppm))
    if marker_mm:
        _draw_marker(linear, marker_mm, ppm, (margin, margin))
    truth = {"visible_pct": float(100 * (1 - covered[inside].mean())), "part_width_mm": part_width_mm,
             "hair": hair, "skin": skin, "marker_mm": marker_mm}
    return Rendered(_finish(linear, f), (region + 0.5) / f - 0.5, px_per_mm, truth)


def light_vector(azimuth_deg: float, slant_deg: float) -> np.ndarray:
    """Unit vector towards a distant light: ``azimuth_deg`` in the image plane (0 = towards the
    image's right, -90 = towards its top, i.e. light from above), ``slant_deg`` from the camera's axis."""
    a, s = np.radians(azimuth_deg), np.radians(slant_deg)
    return np.array([np.sin(s) * np.cos(a), np.sin(s) * np.sin(a), np.cos(s)])


def shade(height_mm: np.ndarray, px_per_mm: float, light: np.ndarray, ambient: float = 0.15) -> np.ndarray:
    """Lambertian shading of a height field (mm, z towards the camera) under a distant light.

    ``ambient + (1 - ambient) * max(0, n . light)``; no cast shadows, so the
    dark side of a depression is the part of its wall turned away from the light.
    """
    gy, gx = np.gradient(height_mm.astype(np.float64), 1.0 / px_per_mm)
    norm = np.sqrt(gx ** 2 + gy ** 2 + 1)
    n_dot_l = (-gx * light[0] - gy * light[1] + light[2]) / norm
    return (ambient + (1 - ambient) * np.maximum(n_dot_l, 0)).astype(np.float32)


#: A pixel is in a dimple's shadow where the dimples make the surface this much darker (fraction).
SHADOW_CONTRAST = 0.08


def render_cellulite(dimples: int = 40, depth_mm: float = 1.5, radius_mm: float = 5.0,
                     light_azimuth_deg: float = -90.0, light_slant_deg: float = 55.0,
                     marker_mm: float | None = 10.0, size: tuple[int, int] = (480, 640), px_per_mm: float = 3.0,
                     seed: int = 0, skin: str = "light", supersample: int = 2) -> Rendered:
    """A thigh or buttock skin surface with dimples of known number and depth, lit from one direction.

    The surface is a gentle dome (radii of curvature 180 mm across and 400 mm
    along the limb) with ``dimples`` Gaussian depressions of radius
    ``radius_mm`` (0.7-1.3 times, at the sigma) and depth ``depth_mm``
    (0.6-1.4 times), at places fixed by ``seed`` (fewer dimples with the same
    seed keep the first ones), shaded by :func:`shade` under a distant light
    (:func:`light_vector`; the default is from above, 55 degrees off the
    camera's axis), over textured skin with a freckle per square centimetre, at ``supersample`` times the final
    resolution and averaged down.

    Returns
    -------
    Rendered
        ``truth``: ``shadow_pct``, the share of the region where the dimples
        darken the shading by more than :data:`SHADOW_CONTRAST` (computed on
        the noise-free shading, with and without the dimples); ``dimples``,
        ``depth_mm``, ``radius_mm``, ``light_azimuth_deg``, ``light_slant_deg``.
    """
    rng = np.random.default_rng(seed)
    f = supersample
    h, w = size[0] * f, size[1] * f
    ppm = px_per_mm * f
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    xm, ym = (x - w / 2) / ppm, (y - h / 2) / ppm
    smooth = -(xm ** 2 / (2 * 180.0) + ym ** 2 / (2 * 400.0))
    margin = int(0.08 * min(h, w))
    top = margin + (int(round((marker_mm * 8 / 6) * ppm)) + margin if marker_mm else 0)
    region = np.array([[margin, top], [w - margin, top], [w - margin, h - margin], [margin, h - margin]], float)
    places = rng.uniform([region[0, 0], region[0, 1]], [region[2, 0], region[2, 1]], (200, 2))
    sizes = rng.uniform(0.7, 1.3, 200) * radius_mm
    depths = rng.uniform(0.6, 1.4, 200) * depth_mm
    dimpled = smooth.copy()
    for (px, py), r, d in zip(places[:dimples], sizes[:dimples], depths[:dimples]):
        dimpled -= d * np.exp(-(((x - px) / ppm) ** 2 + ((y - py) / ppm) ** 2) / (2 * r ** 2))
    light = light_vector(light_azimuth_deg, light_slant_deg)
    lit = shade(dimpled, ppm, light)
    inside = np.zeros((h, w), np.uint8)
    cv2.fillPoly(inside, [region.astype(np.int32)], 1)
    shadow = lit < (1 - SHADOW_CONTRAST) * shade(smooth, ppm, light)
    albedo = _skin_canvas((h, w), SKIN_COLOURS[skin], ppm, rng, texture_pct=2.0)
    spots = np.zeros((h, w), np.float32)  # freckles and small moles: what feature alignment holds on to
    n_spots = int(h * w / ppm ** 2 / 100)  # one per square centimetre
    for (sx, sy), r in zip(rng.uniform((0, 0), (w, h), (n_spots, 2)), rng.uniform(0.4, 1.2, n_spots) * ppm):
        cv2.circle(spots, (int(sx), int(sy)), int(round(r)), float(rng.uniform(0.3, 0.7)), -1)
    albedo *= np.exp(-cv2.GaussianBlur(spots, (0, 0), 0.3 * ppm))[..., None]
    linear = np.minimum(albedo * lit[..., None] * 1.3, 1.0)
    if marker_mm:
        _draw_marker(linear, marker_mm, ppm, (margin, margin))
    truth = {"shadow_pct": float(100 * shadow[inside.astype(bool)].mean()), "dimples": dimples,
             "depth_mm": depth_mm, "radius_mm": radius_mm, "light_azimuth_deg": light_azimuth_deg,
             "light_slant_deg": light_slant_deg, "marker_mm": marker_mm}
    return Rendered(_finish(linear, f), (region + 0.5) / f - 0.5, px_per_mm, truth)
