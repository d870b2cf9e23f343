"""Colour conversion and backdrop-based lighting normalisation."""

from __future__ import annotations

import numpy as np
import pytest

from skimage import color

from analysis.colour import backdrop_gains, linear_to_srgb, srgb_to_linear, to_lab


def test_srgb_linear_round_trip():
    values = np.linspace(0, 1, 256, dtype=np.float32)
    assert np.allclose(linear_to_srgb(srgb_to_linear(values)), values, atol=1e-5)
    assert srgb_to_linear(np.float32(0.5)) == pytest.approx(0.214, abs=0.001)  # IEC 61966-2-1


def test_cielab_matches_the_cie_formulas_in_scikit_image():
    rgb = np.random.default_rng(1).uniform(0, 1, (64, 64, 3)).astype(np.float32)
    assert np.abs(to_lab(rgb) - color.rgb2lab(rgb)).max() < 1e-3


@pytest.fixture
def backdrop_scene():
    rng = np.random.default_rng(3)
    baseline = rng.uniform(0.05, 0.6, (80, 80, 3)).astype(np.float32)
    mask = np.ones((80, 80), bool)
    return baseline, mask


def test_gains_recover_exposure_and_white_balance(backdrop_scene):
    baseline, mask = backdrop_scene
    true_gains = np.float32([0.75, 0.7, 0.62])  # darker and warmer
    norm = backdrop_gains(baseline * true_gains, baseline, mask)
    assert norm.applied and norm.method == "backdrop"
    assert np.allclose(norm.gains, 1 / true_gains, rtol=0.01)
    assert np.allclose(norm.matrix, np.diag(norm.gains)) and np.allclose(norm.baseline_matrix, np.eye(3))
    assert norm.exposure_factor == pytest.approx(float(np.exp(np.mean(np.log(1 / true_gains)))), rel=0.01)
    restored = linear_to_srgb(norm.correct_photo(baseline * true_gains))
    assert np.abs(restored - linear_to_srgb(baseline)).max() < 2 / 255


def test_changed_backdrop_is_refused(backdrop_scene):
    baseline, mask = backdrop_scene
    other = np.random.default_rng(9).uniform(0.05, 0.6, baseline.shape).astype(np.float32)
    norm = backdrop_gains(other, baseline, mask)
    assert not norm.applied and norm.reason.code == "backdrop_changed" and norm.gains == (1.0, 1.0, 1.0)


def test_extreme_exposure_is_refused(backdrop_scene):
    baseline, mask = backdrop_scene
    norm = backdrop_gains(baseline / 3.0, baseline, mask)
    assert not norm.applied and norm.reason.code == "exposure_out_of_range"


def test_too_little_backdrop_is_refused(backdrop_scene):
    baseline, _ = backdrop_scene
    mask = np.zeros(baseline.shape[:2], bool)
    mask[:5, :5] = True
    norm = backdrop_gains(baseline, baseline, mask)
    assert not norm.applied and norm.reason.code == "too_little_backdrop"
    assert norm.to_dict()["reason"] == {"code": "too_little_backdrop", "message": norm.reason.message}
