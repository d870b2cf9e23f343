"""Landmarks, the subject rule, head pose and skin regions on real photographs."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data

from analysis import MultipleFaces, NoFace
from analysis.facemesh import (FACE_OVAL, Face, LEFT_BROW, LEFT_EYE, LIPS, NOSE, RIGHT_BROW, RIGHT_EYE, detect_faces,
                               select_subject)
from analysis.pose import head_pose, view_from_yaw
from analysis.regions import REGIONS, region_masks
from analysis.simulate import turn_head


def test_one_face_with_478_landmarks(astronaut_face):
    face = astronaut_face.face
    assert face.points.shape == (478, 3)
    assert 35 < face.inter_ocular_px < 50
    # The client's right eye is on the image's left.
    assert face.right_eye_centre[0] < face.left_eye_centre[0]


def test_no_face_in_a_photo_of_coffee():
    with pytest.raises(NoFace):
        select_subject(detect_faces(data.coffee()))


def test_two_equal_faces_are_refused(astronaut):
    pair = np.hstack([astronaut, astronaut])
    faces = detect_faces(pair)
    assert len(faces) == 2
    with pytest.raises(MultipleFaces):
        select_subject(faces)


def test_a_small_face_in_the_background_does_not_block_the_subject(astronaut):
    canvas = np.full((900, 900, 3), 200, np.uint8)
    canvas[:512, :512] = astronaut
    small = cv2.resize(astronaut, None, fx=0.4, fy=0.4, interpolation=cv2.INTER_AREA)
    canvas[600:600 + small.shape[0], 600:600 + small.shape[1]] = small
    subject = select_subject(detect_faces(canvas))
    assert subject.xy[:, 0].max() < 512 and subject.xy[:, 1].max() < 512


@pytest.mark.parametrize("scale,accepted", [(0.45, True), (0.6, False), (1.0, False)])
def test_subject_rule(astronaut_face, scale, accepted):
    subject = astronaut_face.face
    other = Face(subject.points * scale + [600.0, 0.0, 0.0])
    if accepted:
        assert select_subject([subject, other]) is subject
    else:
        with pytest.raises(MultipleFaces):
            select_subject([subject, other])


def _rotate_points(points: np.ndarray, yaw_deg: float = 0.0, pitch_deg: float = 0.0) -> np.ndarray:
    """Turn a 3-D landmark cloud about its centre: yaw about the vertical, pitch about the horizontal axis."""
    centre = points.mean(axis=0)
    y, p = np.radians(yaw_deg), np.radians(pitch_deg)
    yaw = np.array([[np.cos(y), 0, -np.sin(y)], [0, 1, 0], [np.sin(y), 0, np.cos(y)]])
    pitch = np.array([[1, 0, 0], [0, np.cos(p), np.sin(p)], [0, -np.sin(p), np.cos(p)]])
    return (points - centre) @ (pitch @ yaw).T + centre


@pytest.mark.parametrize("turn", [-40.0, -15.0, 15.0, 40.0])
def test_yaw_follows_a_known_head_turn(astronaut_face, turn):
    points = astronaut_face.face.points
    before, after = head_pose(points), head_pose(_rotate_points(points, yaw_deg=turn))
    # Positive turn moves the client's left eye (image right) away from the camera: the
    # client turns to their left and shows their right cheek.
    assert after.yaw_deg - before.yaw_deg == pytest.approx(turn, abs=1.5)
    assert abs(after.pitch_deg - before.pitch_deg) < 2.0


@pytest.mark.parametrize("tilt", [-12.0, 12.0])
def test_pitch_follows_a_known_nod(astronaut_face, tilt):
    points = astronaut_face.face.points
    before, after = head_pose(points), head_pose(_rotate_points(points, pitch_deg=tilt))
    assert after.pitch_deg - before.pitch_deg == pytest.approx(tilt, abs=1.5)
    assert abs(after.yaw_deg - before.yaw_deg) < 1.5


def test_pose_from_real_photos_mirror_and_in_plane_rotation(astronaut):
    base = head_pose(select_subject(detect_faces(astronaut)).points)
    mirrored = head_pose(select_subject(detect_faces(np.ascontiguousarray(astronaut[:, ::-1]))).points)
    assert mirrored.yaw_deg == pytest.approx(-base.yaw_deg, abs=3.0)
    assert mirrored.roll_deg == pytest.approx(-base.roll_deg, abs=1.5)
    h, w = astronaut.shape[:2]
    turned = cv2.warpAffine(astronaut, cv2.getRotationMatrix2D((w / 2, h / 2), 10, 1.0), (w, h),
                            borderMode=cv2.BORDER_REFLECT)  # 10 degrees counter-clockwise on screen
    rolled = head_pose(select_subject(detect_faces(turned)).points)
    assert rolled.roll_deg - base.roll_deg == pytest.approx(-10.0, abs=1.5)
    assert base.view == "front" and abs(base.pitch_deg) < 10


def test_views_from_yaw():
    assert [view_from_yaw(y) for y in (0, 20, -20, 30, 45, 60, -45, 80)] == [
        "front", "front", "front", "right_45", "right_45", "right_45", "left_45", None]


def _hull_mask(points: np.ndarray, shape) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round(points).astype(np.int32)), 1)
    return mask.astype(bool)


@pytest.mark.parametrize("photo", ["astronaut", "clinic"])
def test_regions_stay_on_skin(photo, request):
    found = request.getfixturevalue(f"{photo}_face")
    face, shape = found.face, found.rgb.shape[:2]
    masks = region_masks(face.xy, shape, face.inter_ocular_px)
    assert set(masks) == set(REGIONS)
    oval = np.zeros(shape, np.uint8)
    cv2.fillPoly(oval, [np.round(face.xy[list(FACE_OVAL)]).astype(np.int32)], 1)
    features = np.logical_or.reduce([_hull_mask(face.xy[list(g)], shape)
                                     for g in (LEFT_EYE, RIGHT_EYE, LEFT_BROW, RIGHT_BROW, LIPS, NOSE)])
    for name, mask in masks.items():
        assert mask.sum() > 0.02 * face.inter_ocular_px ** 2, name
        assert not (mask & features).any(), name
        assert not (mask & ~oval.astype(bool)).any(), name
    # Regions do not overlap, and the cheeks sit on their own side of the nose.
    total = sum(m.astype(int) for m in masks.values())
    assert total.max() == 1
    nose_x = face.xy[4, 0]
    assert np.nonzero(masks["right_cheek"])[1].max() < nose_x < np.nonzero(masks["left_cheek"])[1].min()


@pytest.mark.parametrize("turn,view", [(-45.0, "left_45"), (45.0, "right_45")])
def test_a_rendered_head_turn_reads_as_its_45_degree_view(clinic, clinic_face, turn, view):
    turned = head_pose(select_subject(detect_faces(turn_head(clinic, clinic_face.face, turn))).points)
    assert turned.view == view
    assert 20 < abs(turned.yaw_deg) < 45 and np.sign(turned.yaw_deg) == np.sign(turn)
