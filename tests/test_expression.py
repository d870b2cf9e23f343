"""Expression from landmarks: known movements of the mouth and brows, and the regions they spoil."""

from __future__ import annotations

from analysis import analyse
from analysis.expression import (BROW_MIDDLES, MOUTH_CORNERS, TOLERANCE_IOD_PCT, compare_expressions, expression)
from analysis.facemesh import Face
from analysis.pipeline import FacePhoto


def moved(face: Face, points, dx_iod: float, dy_iod: float) -> Face:
    """The face with some landmarks moved by a fraction of its eye distance (image axes)."""
    out = face.points.copy()
    out[list(points), 0] += dx_iod * face.inter_ocular_px
    out[list(points), 1] += dy_iod * face.inter_ocular_px
    return Face(out)


def widen_and_lift_mouth(face: Face) -> Face:
    """A smile: each mouth corner 6 % of the eye distance outwards and 5 % upwards."""
    right, left = MOUTH_CORNERS  # the client's right corner is on the image's left
    return moved(moved(face, [right], -0.06, -0.05), [left], 0.06, -0.05)


def test_same_face_has_no_expression_change(astronaut_face):
    change = compare_expressions(astronaut_face.face, astronaut_face.face)
    assert change.moved == () and change.spoiled == {}
    assert all(abs(v) < 1e-9 for v in change.change.values())


def test_measures_are_in_percent_of_the_eye_distance(astronaut_face):
    face = astronaut_face.face
    wider = expression(widen_and_lift_mouth(face))
    base = expression(face)
    assert 11.0 < wider.mouth_width - base.mouth_width < 13.0  # 2 x 6 % of the IOD, nearly along the eye axis
    assert 4.0 < wider.smile - base.smile < 6.0


def test_a_smile_spoils_the_cheeks_and_chin_not_the_forehead(astronaut_face):
    change = compare_expressions(widen_and_lift_mouth(astronaut_face.face), astronaut_face.face)
    assert set(change.moved) == {"mouth_width", "smile"}
    assert {"left_cheek", "right_cheek", "chin"} <= set(change.spoiled)
    assert "forehead" not in change.spoiled
    assert change.reasons("forehead") == []
    assert {r.code for r in change.reasons("left_cheek")} == {"expression"}


def test_raised_brows_spoil_the_forehead(astronaut_face):
    lift = (TOLERANCE_IOD_PCT["brow_raise"] + 2.0) / 100
    change = compare_expressions(moved(astronaut_face.face, BROW_MIDDLES, 0.0, -lift), astronaut_face.face)
    assert change.moved == ("brow_raise",)
    assert "forehead" in change.spoiled and "left_cheek" not in change.spoiled


def test_movement_within_tolerance_is_the_same_expression(astronaut_face):
    small = 0.5 * TOLERANCE_IOD_PCT["mouth_width"] / 100 / 2
    right, left = MOUTH_CORNERS
    face = moved(moved(astronaut_face.face, [right], -small, 0.0), [left], small, 0.0)
    assert compare_expressions(face, astronaut_face.face).moved == ()


def test_pair_verdict_per_region(astronaut_face):
    """The whole pair is not comparable, but its forehead is."""
    smiling = FacePhoto(astronaut_face.rgb, widen_and_lift_mouth(astronaut_face.face), astronaut_face.pose)
    r = analyse(smiling, astronaut_face)
    assert not r["alignment"]["comparable"]
    assert "expression" in {x["code"] for x in r["alignment"]["reasons"]}
    verdict = r["region_verdict"]
    assert verdict["forehead"]["comparable"], verdict["forehead"]
    for region in ("left_cheek", "right_cheek", "chin"):
        assert not verdict[region]["comparable"]
        assert {x["code"] for x in verdict[region]["reasons"]} == {"expression"}
    assert r["expression"]["moved"] == ["mouth_width", "smile"]
