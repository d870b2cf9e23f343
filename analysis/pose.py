"""Head pose from 3-D face landmarks, and the standard view it implies.

The face mesh gives each landmark a relative depth, so the head's orientation
can be read off two anatomical axes of the landmark cloud [1]_:

* the *eye axis* ``x``, from the client's right outer eye corner to their left
  outer eye corner;
* the *midline* ``y``, from the top of the forehead to the chin, made
  orthogonal to ``x``.

With image axes ``x`` right, ``y`` down and ``z`` away from the camera:

``roll_deg``
    Angle of the eye axis in the image plane: positive when the client's left
    eye (on the image's right) is lower than their right eye.
``yaw_deg``
    Rotation about the vertical axis: positive when the client turns to their
    own left, which brings their *right* cheek towards the camera.
``pitch_deg``
    Rotation about the eye axis: positive when the chin is raised. A neutral
    face's midline is not parallel to the image plane in the mesh's geometry;
    :data:`NEUTRAL_MIDLINE_TILT_DEG` is that tilt, the median over 150 frontal
    official portraits (``validation/validate.py --faces`` re-measures it).

Views are named by the side of the face shown to the camera: ``right_45``
shows the client's right cheek (``yaw_deg`` about +45).

References
----------
.. [1] E. Murphy-Chutorian, M. M. Trivedi, "Head Pose Estimation in Computer
       Vision: A Survey", IEEE TPAMI 31(4):607-626, 2009 (geometric methods).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .facemesh import CHIN, FOREHEAD_TOP, LEFT_EYE_CORNERS, RIGHT_EYE_CORNERS

#: Midline tilt of a neutral frontal face in the mesh, degrees (see module docstring).
NEUTRAL_MIDLINE_TILT_DEG = -6.5
#: Half-width of each standard view's yaw band, degrees.
VIEW_HALF_WIDTH_DEG = 22.5
VIEWS = ("front", "left_45", "right_45")


@dataclass(frozen=True)
class HeadPose:
    yaw_deg: float
    pitch_deg: float
    roll_deg: float

    @property
    def view(self) -> str | None:
        return view_from_yaw(self.yaw_deg)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def _rotation_about(axis: np.ndarray, angle_deg: float) -> np.ndarray:
    """Rodrigues' rotation matrix about a unit axis."""
    a = np.radians(angle_deg)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(a) * k + (1 - np.cos(a)) * k @ k


def head_pose(points: np.ndarray) -> HeadPose:
    """Yaw, pitch and roll of a face, in degrees.

    The face's axes (eye axis, midline corrected by the neutral tilt, and
    their cross product) form a rotation matrix ``R``, decomposed as
    ``R = Ry(yaw) Rx(pitch) Rz(roll)`` in camera axes: yaw about the image's
    vertical, then pitch about the horizontal, then roll in the image plane,
    so that turning the head about the vertical changes yaw alone.

    Parameters
    ----------
    points : ndarray, shape (N, 3)
        Face-mesh landmarks: ``x, y`` in pixels, ``z`` relative depth in the
        same units, larger away from the camera.

    Returns
    -------
    HeadPose
        Sign conventions in the module docstring.
    """
    x_axis = _unit(points[LEFT_EYE_CORNERS[0]] - points[RIGHT_EYE_CORNERS[0]])
    midline = points[CHIN] - points[FOREHEAD_TOP]
    y_axis = _unit(midline - np.dot(midline, x_axis) * x_axis)
    y_axis = _rotation_about(x_axis, NEUTRAL_MIDLINE_TILT_DEG) @ y_axis
    z_axis = np.cross(x_axis, y_axis)  # into the head
    r = np.column_stack([x_axis, y_axis, z_axis])
    # Signs follow the module docstring: turning to the client's left swings the
    # head's forward axis towards the image's left (yaw > 0); raising the chin
    # tips it downwards in the image (pitch > 0).
    yaw = -np.degrees(np.arctan2(r[0, 2], r[2, 2]))
    pitch = np.degrees(np.arcsin(np.clip(r[1, 2], -1, 1)))
    roll = np.degrees(np.arctan2(r[1, 0], r[1, 1]))
    return HeadPose(float(yaw), float(pitch), float(roll))


def view_from_yaw(yaw_deg: float) -> str | None:
    """The standard view a yaw angle falls in: ``front``, ``left_45``, ``right_45``, or None beyond 67.5 degrees."""
    if abs(yaw_deg) < VIEW_HALF_WIDTH_DEG:
        return "front"
    if abs(yaw_deg) < 45.0 + VIEW_HALF_WIDTH_DEG:
        return "right_45" if yaw_deg > 0 else "left_45"
    return None
