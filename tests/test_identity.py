"""Identity verdict: known answers on real portraits (no shared data sets needed)."""

from __future__ import annotations

import json
import pathlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from analysis import locate_face
from analysis.identity import (
    DESCRIPTOR_SIZE, DIFFERENT_PERSON, IDENTITY_UNVERIFIED, MIN_INTER_OCULAR_PX, SAME_PERSON_THRESHOLD,
    FaceDescriptor, face_descriptor, same_person,
)
from analysis.simulate import Recapture

DATA = pathlib.Path(__file__).parent / "data"

RECAPTURES = [
    Recapture(rotation_deg=8.0, scale=0.9, exposure=1.25, jpeg_quality=85),
    Recapture(rotation_deg=-6.0, scale=1.1, shift_px=(12.0, -8.0), exposure=0.8, white_balance=(1.05, 1.0, 0.95)),
]


@pytest.fixture(scope="session")
def hopper() -> np.ndarray:
    """Grace Hopper's official US Navy portrait (public domain; see tests/data/README.md)."""
    return np.asarray(Image.open(DATA / "grace_hopper.jpg").convert("RGB"))


@pytest.fixture(scope="session")
def astronaut_descriptor(astronaut, astronaut_face) -> FaceDescriptor:
    return face_descriptor(astronaut, astronaut_face.face)


@pytest.fixture(scope="session")
def hopper_descriptor(hopper) -> FaceDescriptor:
    return face_descriptor(hopper, locate_face(hopper).face)


def test_descriptor_is_a_128_d_vector_with_the_face_size(astronaut_descriptor, astronaut_face):
    assert astronaut_descriptor.vector.shape == (DESCRIPTOR_SIZE,)
    assert np.isfinite(astronaut_descriptor.vector).all()
    assert np.linalg.norm(astronaut_descriptor.vector) > 0.1
    assert astronaut_descriptor.inter_ocular_px == pytest.approx(astronaut_face.face.inter_ocular_px)


def test_two_different_people_are_judged_different(astronaut_descriptor, hopper_descriptor):
    verdict = same_person(astronaut_descriptor, hopper_descriptor)
    assert verdict.same is False
    assert verdict.code == DIFFERENT_PERSON and verdict.message
    # Measured 0.69, well clear of the threshold rather than just across it.
    assert verdict.distance > SAME_PERSON_THRESHOLD + 0.15
    assert verdict.distance == pytest.approx(same_person(hopper_descriptor, astronaut_descriptor).distance)


@pytest.mark.parametrize("recapture", RECAPTURES, ids=["rotated-smaller-brighter", "rotated-larger-darker-cast"])
@pytest.mark.parametrize("who", ["astronaut", "hopper"])
def test_the_same_portrait_recaptured_is_judged_the_same(who, recapture, request):
    rgb = request.getfixturevalue(who)
    baseline = request.getfixturevalue(f"{who}_descriptor")
    moved = recapture.apply(rgb)
    verdict = same_person(baseline, face_descriptor(moved, locate_face(moved).face))
    assert verdict.same is True
    assert verdict.code is None and verdict.message is None
    assert verdict.distance < SAME_PERSON_THRESHOLD - 0.15  # measured 0.05-0.13


def test_a_face_at_the_edge_of_the_frame(astronaut, astronaut_descriptor):
    """The cut-out around the face reaches past the frame and is padded, not shifted."""
    cropped = np.ascontiguousarray(astronaut[:, 170:])
    verdict = same_person(astronaut_descriptor, face_descriptor(cropped, locate_face(cropped).face))
    assert verdict.same is True and verdict.distance < 0.15


def test_a_face_too_small_is_unverified_not_guessed(astronaut_descriptor, hopper_descriptor):
    small = FaceDescriptor(hopper_descriptor.vector, MIN_INTER_OCULAR_PX - 1)
    verdict = same_person(astronaut_descriptor, small)
    assert verdict.same is None
    assert verdict.code == IDENTITY_UNVERIFIED and verdict.message
    assert verdict.distance == pytest.approx(same_person(astronaut_descriptor, hopper_descriptor).distance)
    at_limit = FaceDescriptor(hopper_descriptor.vector, MIN_INTER_OCULAR_PX)
    assert same_person(astronaut_descriptor, at_limit).code == DIFFERENT_PERSON


def test_results_round_trip_through_json(astronaut_descriptor, hopper_descriptor):
    stored = json.loads(json.dumps(astronaut_descriptor.to_dict()))
    restored = FaceDescriptor.from_dict(stored)
    np.testing.assert_array_equal(restored.vector, astronaut_descriptor.vector)
    assert restored.inter_ocular_px == astronaut_descriptor.inter_ocular_px
    verdict = json.loads(json.dumps(same_person(restored, hopper_descriptor).to_dict()))
    assert verdict["same"] is False
    assert verdict["reason"]["code"] == DIFFERENT_PERSON
    assert verdict["threshold"] == SAME_PERSON_THRESHOLD
    assert json.loads(json.dumps(same_person(restored, astronaut_descriptor).to_dict()))["reason"] is None
    with pytest.raises(ValueError, match="128"):
        FaceDescriptor.from_dict({"vector": [0.0] * 3, "inter_ocular_px": 50.0})


def test_concurrent_calls_give_the_serial_answer(hopper, hopper_descriptor):
    face = locate_face(hopper).face
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda _: face_descriptor(hopper, face), range(3)))
    for result in results:
        np.testing.assert_array_equal(result.vector, hopper_descriptor.vector)


def test_rejects_an_image_that_is_not_8_bit_rgb(astronaut, astronaut_face):
    with pytest.raises(TypeError, match="uint8 RGB"):
        face_descriptor(astronaut.astype(np.float32), astronaut_face.face)
    with pytest.raises(TypeError, match="uint8 RGB"):
        face_descriptor(astronaut[..., 0], astronaut_face.face)
