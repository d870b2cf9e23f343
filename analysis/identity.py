"""Identity: does a photo show the baseline's person?

A skin change is only a change when both photos show the same skin. Two
different people photographed in the same studio and pose pass every
geometric and lighting check, so identity is judged on its own, by a face
recognition model.

The model
---------
Davis King's dlib ResNet face recognition model
(``dlib_face_recognition_resnet_model_v1``) [1]_ [2]_: a 29-layer ResNet that
maps a 150 x 150 aligned face chip to a 128-d descriptor, trained with a
metric loss on about 3 million faces (about 7500 identities) so that two
photos of one person lie closer than 0.6 in Euclidean distance. Its author
reports 99.38 % accuracy on the LFW benchmark [3]_ at that distance. The
weights ship inside the ``face-recognition-models`` package and the runtime
inside the ``dlib-bin`` wheel; nothing is downloaded at run time.

A trained model beats any descriptor of our own: telling people apart is
learnt from millions of faces, and a hand-made measure of landmark geometry
or colour cannot separate two people of similar build photographed in the
same studio, which is exactly the case that matters here.

Alignment
---------
The model expects the chip that dlib's 5-point shape predictor (eye corners
and the base of the nose) [2]_ produces from a dlib face-detector box. No
second face detector is run: the box is derived from our MediaPipe
landmarks (:mod:`analysis.facemesh`), square, :data:`_BOX_SIDE_IOD` eye
distances wide and centred :data:`_BOX_DROP_IOD` below the eyes, which is
where dlib's HOG detector puts it (measured on 40 faces-london photos: side
2.48 +- 0.21, centre 0.50 +- 0.09 eye distances below the eyes). The face is
first cut out, downscaled to :data:`_WORK_IOD_PX` between the eyes if larger,
and turned upright, because dlib's boxes, and so its shape predictor, are
upright.

The threshold
-------------
:data:`SAME_PERSON_THRESHOLD` is stricter than dlib's 0.6, because here a
false "same person" reports another person's skin as a treatment result,
while a false "different person" only asks the clinic to retake or check.
It was chosen on real pairs with ``python validation/identity.py``:

* same person, faces-london (53 people, neutral vs smiling in one studio
  session): distances 0.09-0.33 (median 0.22); 0.10-0.33 with the smiling
  photo re-captured under simulated nuisance (rotation up to 10 degrees,
  scale 0.85-1.15, exposure +-30 %, white balance, JPEG);
* different people: at least 0.46 over all 5512 photo pairs of two
  different faces-london people and over all 11175 pairs of faces-dev's 150
  portraits (1st percentile 0.60 in both); at dlib's 0.6 about 0.9 % of
  them would pass as the same person.

0.40 lies in the empty gap between 0.33 and 0.46, a little above its middle
because photos of one person taken months apart (not in these data) differ
more than two shots of one session. At 0.40 every same-person pair and no
different-person pair is accepted, in every skin-tone group of faces-london
(white 35, black 7, east asian 5, west asian 5, mixed 1 people). The
margin is smallest among the black participants: their closest pair of two
different people is 0.46 apart, against 0.56-0.64 within the other groups.
With 7 people this is thin evidence either way, and a reason to re-measure
on more faces before loosening the threshold.

Small faces
-----------
Below :data:`MIN_INTER_OCULAR_PX` between the eye centres in either photo
the verdict is *unverified* (code :data:`IDENTITY_UNVERIFIED`), not a guess.
On faces-london photos downscaled to a given eye distance and compared with
the same person's full-size photo, the largest same-person distance grows
as the face shrinks: 0.33 at 60 px, 0.37 at 30, 0.38 at 25, 0.41 at 20
(2 % of pairs rejected) and 0.47 at 15 (15 % rejected); the smallest
different-person distance stays at 0.44-0.46 at every size. The limit is set
at 30 px, above the measured failure, because a downscaled studio photo is
the best case for its size (no sensor noise or blur). faces-dev's portraits
(eyes 41-61 px apart) are above it.

References
----------
.. [1] D. E. King, "High quality face recognition with deep metric learning",
       dlib blog, 12 February 2017.
       http://blog.dlib.net/2017/02/high-quality-face-recognition-with-deep.html
.. [2] D. E. King, "Dlib-ml: A Machine Learning Toolkit", Journal of Machine
       Learning Research 10, 1755-1758, 2009.
.. [3] G. B. Huang, M. Ramesh, T. Berg, E. Learned-Miller, "Labeled Faces in
       the Wild: A Database for Studying Face Recognition in Unconstrained
       Environments", University of Massachusetts, Amherst, Technical Report
       07-49, 2007.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from dataclasses import dataclass

import cv2
import dlib
import numpy as np

from .facemesh import Face
from .resample import Pyramid

#: Euclidean distance between descriptors below which two faces are judged
#: the same person (see "The threshold" above).
SAME_PERSON_THRESHOLD = 0.40
#: Eye distance (pixels, between the eye centres of :class:`analysis.facemesh.Face`)
#: below which identity is not judged (see "Small faces" above).
MIN_INTER_OCULAR_PX = 30.0
DESCRIPTOR_SIZE = 128

DIFFERENT_PERSON = "different_person"
IDENTITY_UNVERIFIED = "identity_unverified"

# Faces larger than this (eye distance, px) are downscaled before alignment:
# the model's chip is 150 px wide, with the eyes about 50 px apart.
_WORK_IOD_PX = 100.0
# dlib's detector box, in eye distances (see "Alignment" above).
_BOX_SIDE_IOD = 2.5
_BOX_DROP_IOD = 0.5
# The upright cut-out is this many eye distances wide, centred on the box.
_CROP_SIDE_IOD = 5.0

_lock = threading.Lock()
_models = None


def _model_path(name: str) -> str:
    """A model file inside the ``face_recognition_models`` package.

    The package's own helpers import ``pkg_resources``, which recent
    setuptools no longer ship, so the folder is found without importing it.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the face-recognition-models package is not installed")
    path = os.path.join(spec.submodule_search_locations[0], "models", name)
    if not os.path.isfile(path):
        raise ImportError(f"face-recognition-models is missing {name}")
    return path


def load_model():
    """dlib's 5-point shape predictor and face recognition ResNet, loaded once per process (~1 s)."""
    global _models
    with _lock:
        if _models is None:
            _models = (
                dlib.shape_predictor(_model_path("shape_predictor_5_face_landmarks.dat")),
                dlib.face_recognition_model_v1(_model_path("dlib_face_recognition_resnet_model_v1.dat")),
            )
    return _models


@dataclass(frozen=True)
class FaceDescriptor:
    """A face's identity embedding.

    Attributes
    ----------
    vector : ndarray of float64, shape (128,)
        dlib ResNet descriptor [1]_; unit-less, compared by Euclidean distance.
    inter_ocular_px : float
        Distance between the eye centres in the photo it came from, pixels:
        the face size that says whether the descriptor can be trusted.
    """

    vector: np.ndarray
    inter_ocular_px: float

    def to_dict(self) -> dict:
        return {"vector": [float(v) for v in self.vector], "inter_ocular_px": self.inter_ocular_px}

    @classmethod
    def from_dict(cls, data: dict) -> FaceDescriptor:
        vector = np.asarray(data["vector"], dtype=np.float64)
        if vector.shape != (DESCRIPTOR_SIZE,):
            raise ValueError(f"a face descriptor has {DESCRIPTOR_SIZE} values, not {vector.size}")
        return cls(vector, float(data["inter_ocular_px"]))


@dataclass(frozen=True)
class IdentityVerdict:
    """Whether two photos show the same person.

    Attributes
    ----------
    same : bool or None
        True: the same person. False: different people (code
        :data:`DIFFERENT_PERSON`, a blocking reason). None: not judged, a face
        is too small (code :data:`IDENTITY_UNVERIFIED`).
    distance : float
        Euclidean distance between the two 128-d descriptors (unit-less).
    threshold : float
        The distance below which the faces count as the same person.
    code, message : str or None
        Why the pair is not judged the same person; None when it is.
    """

    same: bool | None
    distance: float
    threshold: float
    code: str | None = None
    message: str | None = None

    def to_dict(self) -> dict:
        reason = None if self.code is None else {"code": self.code, "message": self.message}
        return {"same": self.same, "distance": self.distance, "threshold": self.threshold, "reason": reason}


def _upright_crop(rgb: np.ndarray, face: Face) -> tuple[np.ndarray, Face]:
    """The face cut out, at most :data:`_WORK_IOD_PX` between the eyes, eyes level, box centred."""
    iod = face.inter_ocular_px
    scale = min(1.0, _WORK_IOD_PX / iod)
    right, left = face.right_eye_centre, face.left_eye_centre  # subject's right is on the image's left
    angle = np.degrees(np.arctan2(left[1] - right[1], left[0] - right[0]))
    mid = (right + left) / 2
    # Cut a square around the eyes that holds the crop turned any way, then
    # shrink it with area averaging (warpAffine has none) and turn it at scale 1.
    half = int(np.ceil((_CROP_SIDE_IOD * np.sqrt(0.5) + _BOX_DROP_IOD) * iod)) + 2
    x0, y0 = np.round(mid).astype(int) - half
    height, width = rgb.shape[:2]
    inside = rgb[max(y0, 0):min(y0 + 2 * half, height), max(x0, 0):min(x0 + 2 * half, width)]
    # Where the square leaves the frame, the edge is repeated (only that part is copied).
    cut = cv2.copyMakeBorder(inside, max(-y0, 0), max(y0 + 2 * half - height, 0), max(-x0, 0),
                             max(x0 + 2 * half - width, 0), cv2.BORDER_REPLICATE)
    if scale < 1.0:
        cut = cv2.resize(cut, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    to_cut = np.array([[scale, 0.0, -x0 * scale], [0.0, scale, -y0 * scale]])
    side = int(round(_CROP_SIDE_IOD * iod * scale))
    centre = (mid - [x0, y0]) * scale
    turn = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), float(angle), 1.0)
    turn[:, 2] += [side / 2 - centre[0], side / 2 - centre[1] - _BOX_DROP_IOD * iod * scale]
    crop = cv2.warpAffine(np.ascontiguousarray(cut), turn, (side, side), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
    matrix = turn @ np.vstack([to_cut, [0.0, 0.0, 1.0]])
    return crop, face.transformed(matrix)


def face_descriptor(rgb: np.ndarray, face: Face, pyramid: Pyramid | None = None) -> FaceDescriptor:
    """The identity descriptor of ``face`` in ``rgb``.

    Parameters
    ----------
    rgb : ndarray of uint8, shape (H, W, 3)
        The photo, sRGB.
    face : analysis.facemesh.Face
        The face's MediaPipe landmarks in the pixel coordinates of ``rgb``.
    pyramid : analysis.resample.Pyramid, optional
        The photo's halvings: the face is cut from the smallest still at least
        :data:`_WORK_IOD_PX` between the eyes, not shrunk from the whole photo.

    Returns
    -------
    FaceDescriptor
        dlib's 128-d ResNet descriptor [1]_ of the face chip aligned on the
        5-point shape predictor's eye corners and nose base, seeded with a box
        derived from ``face`` (see the module docstring), and the face's eye
        distance.
    """
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise TypeError("expected an H x W x 3 uint8 RGB array")
    source, in_source = rgb, face
    if pyramid is not None:
        source, to_level = pyramid.level_for(min(1.0, _WORK_IOD_PX / face.inter_ocular_px))
        in_source = face.transformed(to_level[:2])
    crop, upright = _upright_crop(source, in_source)
    half = 0.5 * _BOX_SIDE_IOD * upright.inter_ocular_px
    c = crop.shape[0] / 2
    box = dlib.rectangle(int(round(c - half)), int(round(c - half)), int(round(c + half)), int(round(c + half)))
    predictor, recogniser = load_model()
    with _lock:  # dlib's network keeps per-call state: one call at a time
        shape = predictor(crop, box)
        vector = np.array(recogniser.compute_face_descriptor(crop, shape), dtype=np.float64)
    return FaceDescriptor(vector, face.inter_ocular_px)


def same_person(a: FaceDescriptor, b: FaceDescriptor, threshold: float = SAME_PERSON_THRESHOLD) -> IdentityVerdict:
    """Judge whether two face descriptors belong to the same person.

    Parameters
    ----------
    a, b : FaceDescriptor
        From :func:`face_descriptor`, typically the baseline and a new photo.
    threshold : float
        Distance below which they are the same person; the default is
        calibrated on real pairs (see the module docstring).

    Returns
    -------
    IdentityVerdict
        ``same`` is None (code :data:`IDENTITY_UNVERIFIED`) when either face
        is smaller than :data:`MIN_INTER_OCULAR_PX`; False (code
        :data:`DIFFERENT_PERSON`) when the distance is ``threshold`` or more.
    """
    distance = float(np.linalg.norm(np.asarray(a.vector) - np.asarray(b.vector)))
    smallest = min(a.inter_ocular_px, b.inter_ocular_px)
    if smallest < MIN_INTER_OCULAR_PX:
        return IdentityVerdict(
            None, distance, threshold, IDENTITY_UNVERIFIED,
            f"the face is too small to confirm who it is (eyes {smallest:.0f} px apart, "
            f"at least {MIN_INTER_OCULAR_PX:.0f} needed); take the photo closer")
    if distance >= threshold:
        return IdentityVerdict(
            False, distance, threshold, DIFFERENT_PERSON,
            "this photo does not appear to show the same person as the baseline")
    return IdentityVerdict(True, distance, threshold)
