"""Face landmarks: the one module that knows the landmark backend.

The backend is MediaPipe Face Mesh [1]_ through the legacy ``solutions`` API
of ``mediapipe==0.10.21``, the newest release whose wheel still carries the
face-detection and face-landmark models (later releases download them at run
time, which fails offline). It gives 478 points per face: the 468-point mesh
topology plus 10 iris points (``refine_landmarks=True``), each with a relative
depth.

Everything else in :mod:`analysis` uses :func:`detect_faces`,
:func:`select_subject` and the index groups below. Swapping the backend means
rewriting this module so that it returns the same topology, or remapping the
index groups.

Choosing the subject
--------------------
A photo may catch more than one face: a reflection in a mirror, a poster, a
colleague in the doorway. The subject is the largest face, measured by
inter-ocular distance, and it is accepted only when it is at least
:data:`SUBJECT_DOMINANCE` times as large as every other face. Otherwise the
photo is refused with ``multiple_faces``, because we cannot know whose skin to
measure.

References
----------
.. [1] Y. Kartynnik, A. Ablavatski, I. Grishchenko, M. Grundmann, "Real-time
       Facial Surface Geometry from Monocular Video on Mobile GPUs",
       CVPR Workshop on Computer Vision for Augmented Reality, 2019.
       arXiv:1907.06724.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from dataclasses import dataclass

import cv2
import numpy as np

from .errors import MultipleFaces, NoFace

#: Photos are downscaled to this longest side before detection: the mesh
#: model sees a 192 x 192 face crop, so more pixels only cost time.
DETECT_MAX_SIDE = 1280
#: A photo whose shorter side is under this many pixels cannot show a face (the
#: mesh model's own input is 192 px); it is refused before any resizing, which
#: would otherwise shrink a 10000 x 1 strip to nothing.
MIN_SIDE = 32
MAX_FACES = 4
SUBJECT_DOMINANCE = 2.0
N_LANDMARKS = 478

# --- Index groups of the 468-point topology (subject's left/right) ---------
RIGHT_EYE_CORNERS = (33, 133)  # outer, inner
LEFT_EYE_CORNERS = (263, 362)
NOSE_BRIDGE = (168, 6, 197, 195, 5, 4)
NOSE_TIP = 4
CHIN = 152
FOREHEAD_TOP = 10
RIGHT_FACE_EDGE = 234
LEFT_FACE_EDGE = 454
#: Points that move little with expression: eye corners and the nose ridge.
STABLE = RIGHT_EYE_CORNERS + LEFT_EYE_CORNERS + NOSE_BRIDGE

FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378,
             400, 377, 152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21,
             54, 103, 67, 109)
RIGHT_EYE = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
LEFT_EYE = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)
RIGHT_BROW = (46, 53, 52, 65, 55, 70, 63, 105, 66, 107)
LEFT_BROW = (276, 283, 282, 295, 285, 300, 293, 334, 296, 336)
LIPS = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39,
        40, 185)
NOSE = (1, 2, 4, 5, 6, 19, 45, 48, 64, 94, 97, 98, 115, 168, 195, 197, 220, 275, 278, 294,
        326, 327, 344, 440)

#: Skin regions as landmark polygons, checked on an index map of the mesh.
#: They are trimmed afterwards by the feature exclusions in `analysis.regions`.
REGION_POLYGONS = {
    "forehead": (63, 105, 66, 107, 9, 336, 296, 334, 333, 299, 337, 151, 108, 69, 104),
    "right_cheek": (117, 118, 119, 100, 142, 203, 206, 216, 207, 187, 147, 123, 116),
    "left_cheek": (346, 347, 348, 329, 371, 423, 426, 436, 427, 411, 376, 352, 345),
    "chin": (182, 83, 18, 313, 406, 418, 262, 428, 199, 208, 32, 194),
    "right_periorbital": (124, 35, 143, 111, 117, 118, 119, 120, 232, 231, 230, 229, 228, 31,
                          226, 113),
    "left_periorbital": (353, 265, 372, 340, 346, 347, 348, 349, 452, 451, 450, 449, 448,
                         261, 446, 342),
}


@dataclass(frozen=True)
class Face:
    """One face's landmarks.

    Attributes
    ----------
    points : ndarray of float64, shape (478, 3)
        ``x, y`` in pixels of the image that was searched; ``z`` is relative
        depth in the same pixel units, smaller nearer the camera.
    """

    points: np.ndarray

    @property
    def xy(self) -> np.ndarray:
        return self.points[:, :2]

    @property
    def right_eye_centre(self) -> np.ndarray:
        return self.xy[list(RIGHT_EYE_CORNERS)].mean(axis=0)

    @property
    def left_eye_centre(self) -> np.ndarray:
        return self.xy[list(LEFT_EYE_CORNERS)].mean(axis=0)

    @property
    def inter_ocular_px(self) -> float:
        """Distance between the eye centres (midpoints of each eye's corners), in pixels."""
        return float(np.linalg.norm(self.left_eye_centre - self.right_eye_centre))

    def transformed(self, matrix: np.ndarray) -> Face:
        """The same face after a 2 x 3 affine map of the image (depth scales with it)."""
        xy = self.xy @ matrix[:, :2].T + matrix[:, 2]
        scale = np.sqrt(abs(np.linalg.det(matrix[:, :2])))
        return Face(np.column_stack([xy, self.points[:, 2] * scale]))


@contextlib.contextmanager
def _quiet_stderr():
    """Silence file descriptor 2: TFLite and MediaPipe log from C++ straight to it."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def divert_native_logs() -> None:
    """For command-line processes: send native (C++) writes to fd 2 to /dev/null for good.

    MediaPipe and TFLite also log from graph threads and at teardown, after
    any call returns, so a process whose stderr must carry only its own
    messages diverts fd 2 once, at start. Python's ``sys.stderr`` is re-opened
    on a duplicate of the real stderr, so our messages and any Python
    traceback still reach the user.
    """
    sys.stderr.flush()
    real = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    sys.stderr = os.fdopen(real, "w", buffering=1, encoding="utf-8", errors="replace")


_lock = threading.Lock()
_mesh = None


def load_model():
    """The face-mesh graph, created once per process (it takes ~70 ms)."""
    global _mesh
    if _mesh is None:
        with _quiet_stderr():
            from mediapipe.python.solutions import face_mesh

            _mesh = face_mesh.FaceMesh(
                static_image_mode=True,
                max_num_faces=MAX_FACES,
                refine_landmarks=True,
                min_detection_confidence=0.5,
            )
    return _mesh


def detect_faces(rgb: np.ndarray) -> list[Face]:
    """Find every face in an image and return its landmarks.

    The face detector sees the whole frame at 128 x 128, so it misses a face
    that fills little of a large or wide frame. When the whole frame finds
    nothing, overlapping square tiles are searched as well (see :func:`_tiles`).

    Parameters
    ----------
    rgb : ndarray of uint8, shape (H, W, 3)

    Returns
    -------
    list of Face
        Largest first (by inter-ocular distance), in the pixel coordinates of ``rgb``.

    Raises
    ------
    NoFace
        The image is too small or too narrow to show a face (:data:`MIN_SIDE`).
    """
    height, width = rgb.shape[:2]
    if min(height, width) < MIN_SIDE:
        raise NoFace(f"the photo is {width} x {height} pixels: too small or too narrow to show a face")
    faces = _detect(rgb)
    if not faces:
        for x0, y0, side in _tiles(*rgb.shape[:2]):
            tile = rgb[y0:y0 + side, x0:x0 + side]
            for face in _detect(tile):
                inside = (face.xy >= 0).all() and (face.xy < side).all()
                moved = Face(face.points + [x0, y0, 0.0])
                if inside and not any(_same_face(moved, f) for f in faces):
                    faces.append(moved)
    return sorted(faces, key=lambda f: -f.inter_ocular_px)


def _tiles(height: int, width: int):
    """Overlapping square tiles: the short side's square, then half of it, each at half steps."""
    short = min(height, width)
    for side in (short, short // 2):
        if side < 64 or (side == short and height == width):
            continue
        step = side // 2
        for y0 in range(0, height - side + 1, step):
            for x0 in range(0, width - side + 1, step):
                yield x0, y0, side


def _same_face(a: Face, b: Face) -> bool:
    return bool(np.linalg.norm(a.xy[NOSE_TIP] - b.xy[NOSE_TIP]) < 0.5 * max(a.inter_ocular_px, b.inter_ocular_px))


def _detect(rgb: np.ndarray) -> list[Face]:
    """One pass of the face mesh over the whole of ``rgb``."""
    height, width = rgb.shape[:2]
    scale = min(1.0, DETECT_MAX_SIDE / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = rgb if scale == 1.0 else cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    small = np.ascontiguousarray(small)
    sh, sw = small.shape[:2]
    with _lock, _quiet_stderr():
        result = load_model().process(small)
    faces = []
    for landmarks in result.multi_face_landmarks or ():
        pts = np.array([(p.x * sw, p.y * sh, p.z * sw) for p in landmarks.landmark], dtype=np.float64)
        faces.append(Face(pts / scale))
    return faces


def select_subject(faces: list[Face]) -> Face:
    """The face whose skin is to be measured (see the module docstring for the rule).

    Raises
    ------
    NoFace
        No face at all.
    MultipleFaces
        Several faces and none at least :data:`SUBJECT_DOMINANCE` times larger than the others.
    """
    if not faces:
        raise NoFace("no face was found in the photo")
    subject, others = faces[0], faces[1:]
    for other in others:
        if other.inter_ocular_px * SUBJECT_DOMINANCE > subject.inter_ocular_px:
            raise MultipleFaces(
                f"{len(faces)} faces were found and none is clearly the subject; "
                "retake the photo with only the client in frame"
            )
    return subject
