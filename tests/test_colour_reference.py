"""Colour references in frame (chart, grey card) and the backdrop's exposure-only fallback, with known answers."""

from __future__ import annotations

import json

import numpy as np
import pytest
from skimage import data
from skimage.color import deltaE_ciede2000

from analysis.colour import backdrop_gains, lab_from_linear, linear_to_srgb, srgb_to_linear, to_lab
from analysis.reference import (CHART_SRGB, GREY_CARD_L_STAR, GREY_CARD_LINEAR, BackdropSample, find_colour_chart,
                                find_grey_card, find_reference, grey_card_from_polygon, reference_normalisation,
                                render_chart)

CHART_AT = (340, 280)  # row, column of the chart's top-left corner in the astronaut photo
CARD_AT, CARD_SIZE = (380, 300), (70, 100)  # on the astronaut's suit: no backdrop around it


def lit(rgb_u8: np.ndarray, gains) -> np.ndarray:
    """The photo under other light: per-channel gains in linear light, back to 8-bit sRGB."""
    linear = srgb_to_linear(rgb_u8 / 255.0) * np.asarray(gains, np.float32)
    return np.round(linear_to_srgb(linear) * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def astronaut_with_chart():
    photo = data.astronaut().copy()
    chart = render_chart(30)
    y, x = CHART_AT
    photo[y:y + chart.shape[0], x:x + chart.shape[1]] = chart
    return photo, chart.shape[:2]


@pytest.fixture(scope="module")
def astronaut_with_card():
    photo = data.astronaut().copy()
    grey = round(float(linear_to_srgb(np.float32(GREY_CARD_LINEAR))) * 255)
    y, x = CARD_AT
    photo[y:y + CARD_SIZE[0], x:x + CARD_SIZE[1]] = grey
    return photo


def test_chart_with_a_cast_is_found_and_the_cast_removed(astronaut_with_chart):
    photo, (h, w) = astronaut_with_chart
    cast = (1.15 * 0.9, 0.9, 0.8 * 0.9)  # warmer and darker
    ref = find_colour_chart(lit(photo, cast))
    assert ref is not None and ref.kind == "colour_chart" and ref.patches_used == 24
    y, x = CHART_AT
    assert np.allclose(ref.polygon_array().min(axis=0), (x, y), atol=8)
    assert np.allclose(ref.polygon_array().max(axis=0), (x + w, y + h), atol=8)
    # The fitted matrix undoes the cast: diagonal 1 / cast, off-diagonal ~0.
    assert np.allclose(np.asarray(ref.correction), np.diag(1 / np.asarray(cast)), atol=0.01)
    # Corrected patches against the published values: CIEDE2000.
    corrected = np.clip(srgb_to_linear(np.asarray(ref.patches_rgb, np.float32)) @ np.asarray(ref.correction,
                                                                                                np.float32), 0, 1)
    delta_e = deltaE_ciede2000(lab_from_linear(corrected), to_lab(CHART_SRGB.astype(np.float32)))
    assert np.median(delta_e) < 0.5 and delta_e.max() < 1.5
    assert ref.residual_delta_e == pytest.approx(np.median(delta_e), abs=0.05)
    # The uncorrected patches were far off: the cast is what was removed.
    raw = deltaE_ciede2000(to_lab(np.asarray(ref.patches_rgb, np.float32)), to_lab(CHART_SRGB.astype(np.float32)))
    assert np.median(raw) > 3


def test_two_photos_with_the_chart_are_corrected_to_one_standard(astronaut_with_chart):
    photo, _ = astronaut_with_chart
    baseline, session = lit(photo, (1.05, 1.0, 0.95)), lit(photo, (0.8, 0.85, 1.0))
    norm = reference_normalisation(session, baseline, np.eye(3))
    assert norm.applied and norm.method == "colour_chart" and norm.reason is None
    face = (slice(60, 200), slice(180, 300))
    after = norm.correct_photo(srgb_to_linear(session[face] / 255.0))
    before = norm.correct_baseline(srgb_to_linear(baseline[face] / 255.0))
    truth = srgb_to_linear(photo[face] / 255.0)
    d_a = lab_from_linear(after)[..., 1] - lab_from_linear(before)[..., 1]
    assert abs(np.median(d_a)) < 0.1
    # Both land on the photo's own colours (the cast is gone in absolute terms, not only relative).
    assert np.median(deltaE_ciede2000(lab_from_linear(after), lab_from_linear(truth))) < 1.0
    assert json.dumps(norm.to_dict())  # JSON-ready, with both references' polygons
    assert norm.to_dict()["photo_reference"]["kind"] == "colour_chart"


def test_no_chart_and_no_card_is_none():
    photo = data.astronaut()
    assert find_colour_chart(photo) is None
    assert find_reference(photo) is None
    norm = reference_normalisation(photo, photo, np.eye(3))
    assert not norm.applied and norm.method == "none"
    assert norm.to_dict()["reason"]["code"] == "no_reference"


def test_grey_card_with_a_cast_is_found_and_neutralised(astronaut_with_card):
    cast = (1.1, 1.0, 0.85)
    photo = lit(astronaut_with_card, cast)
    ref = find_grey_card(photo)
    assert ref is not None and ref.kind == "grey_card"
    y, x = CARD_AT
    assert np.allclose(ref.polygon_array().min(axis=0), (x, y), atol=6)
    assert np.allclose(ref.polygon_array().max(axis=0), (x + CARD_SIZE[1], y + CARD_SIZE[0]), atol=6)
    card = srgb_to_linear(photo[y + 5:y + CARD_SIZE[0] - 5, x + 5:x + CARD_SIZE[1] - 5] / 255.0)
    lab = lab_from_linear(np.asarray(card, np.float32) @ np.asarray(ref.correction, np.float32))
    assert np.abs(np.median(lab[..., 1:].reshape(-1, 2), axis=0)).max() < 0.3  # neutral
    assert np.median(lab[..., 0]) == pytest.approx(GREY_CARD_L_STAR, abs=0.3)
    marked = grey_card_from_polygon(photo, [(x, y), (x + CARD_SIZE[1], y), (x + CARD_SIZE[1], y + CARD_SIZE[0]),
                                            (x, y + CARD_SIZE[0])])
    assert np.allclose(marked.correction, ref.correction, rtol=0.01, atol=1e-3)


def test_grey_card_pair_uses_the_card(astronaut_with_card):
    base, session = lit(astronaut_with_card, (1.0, 1.0, 1.0)), lit(astronaut_with_card, (1.2, 1.1, 0.9))
    norm = reference_normalisation(session, base, np.eye(3))
    assert norm.applied and norm.method == "grey_card"
    after = norm.correct_photo(srgb_to_linear(session / 255.0))
    before = norm.correct_baseline(srgb_to_linear(base / 255.0))
    assert np.median(np.abs(lab_from_linear(after) - lab_from_linear(before))[..., 1]) < 0.2


def _backdrop(level_code: float, noise_codes: float, gains, seed: int = 0):
    """A uniform backdrop at an 8-bit level, photographed twice: the second under ``gains``."""
    rng = np.random.default_rng(seed)
    shape = (120, 160, 3)
    base = np.full(shape, level_code / 255.0, np.float32)

    def capture(linear):
        codes = linear_to_srgb(linear) * 255 + rng.normal(0, noise_codes, shape)
        return srgb_to_linear(np.clip(np.round(codes), 0, 255) / 255.0)

    truth = srgb_to_linear(base)
    return capture(truth * np.asarray(gains, np.float32)), capture(truth), np.ones(shape[:2], bool)


def test_dark_backdrop_yields_exposure_only():
    # Code 35: one code is 4.9 % of linear light; the per-channel ratios would be quantisation.
    photo, base, mask = _backdrop(35, 0.3, (0.8, 0.8, 0.8))
    norm = backdrop_gains(photo, base, mask)
    assert norm.applied and norm.method == "backdrop_exposure_only"
    assert norm.chromatic_uncertainty > 0.01
    assert norm.gains[0] == norm.gains[1] == norm.gains[2]
    assert norm.gains[0] == pytest.approx(1 / 0.8, rel=0.05)


def test_noisy_backdrop_yields_exposure_only():
    # A small backdrop with 4 codes of noise: the median's standard error is above 1 %.
    photo, base, mask = _backdrop(120, 4.0, (1.1, 1.1, 1.1))
    mask[:] = False
    mask[:30, :40] = True
    norm = backdrop_gains(photo, base, mask)
    assert norm.applied and norm.chromatic_uncertainty > 0.01
    assert norm.method == "backdrop_exposure_only" and norm.gains[0] == pytest.approx(1 / 1.1, rel=0.05)


def test_bright_clean_backdrop_keeps_per_channel_gains():
    photo, base, mask = _backdrop(180, 1.0, (0.9, 0.8, 0.75))
    norm = backdrop_gains(photo, base, mask)
    assert norm.applied and norm.method == "backdrop"
    assert np.allclose(norm.gains, 1 / np.array([0.9, 0.8, 0.75]), rtol=0.01)


def test_dark_backdrop_with_a_clear_white_balance_shift_is_still_corrected_per_channel():
    photo, base, mask = _backdrop(45, 0.5, (0.75, 1.0, 1.3))
    norm = backdrop_gains(photo, base, mask)
    assert norm.chromatic_uncertainty > 0.01  # dark, but the shift is many uncertainties wide
    assert norm.method == "backdrop"
    assert np.allclose(norm.gains, 1 / np.array([0.75, 1.0, 1.3]), rtol=0.05)


def test_backdrop_fallback_leaves_the_chart_out():
    """A chart only in the baseline: the pair falls back to the backdrop, without the chart's pixels."""
    rng = np.random.default_rng(2)
    shape = (240, 320, 3)
    baseline = np.full(shape, 170, np.uint8) + rng.integers(0, 3, shape, dtype=np.uint8)
    chart = render_chart(30)
    baseline[20:20 + chart.shape[0], 20:20 + chart.shape[1]] = chart
    photo = lit(np.full(shape, 170, np.uint8) + rng.integers(0, 3, shape, dtype=np.uint8), (0.9, 0.9, 0.9))
    # The backdrop sampled at half size, as the pipeline samples it at overview size.
    half = (slice(None, None, 2), slice(None, None, 2))
    sample = BackdropSample(srgb_to_linear(photo[half] / 255.0), srgb_to_linear(baseline[half] / 255.0),
                            np.ones((120, 160), bool), np.array([[0.5, 0, 0], [0, 0.5, 0]]))
    norm = reference_normalisation(photo, baseline, np.eye(3), sample)
    assert norm.baseline_reference is not None and norm.photo_reference is None
    assert norm.applied and norm.method == "backdrop"
    assert np.allclose(norm.gains, 1 / 0.9, rtol=0.02)
    h, w = (np.array(chart.shape[:2]) * 0.5).astype(int)  # the chart's size in the sample
    assert norm.backdrop_pixels <= 120 * 160 - h * w
    assert norm.backdrop_pixels >= 120 * 160 - 1.3 * h * w


@pytest.mark.parametrize("shape", [(1, 1, 3), (8, 8, 3), (64, 48, 3)])
def test_degenerate_images_have_no_reference(shape):
    for value in (0, 128, 255):
        assert find_reference(np.full(shape, value, np.uint8)) is None


def test_overexposed_chart_is_fitted_without_its_clipped_patches(astronaut_with_chart):
    photo, _ = astronaut_with_chart
    ref = find_colour_chart(lit(photo, (1.6, 1.6, 1.6)))
    assert ref is not None and ref.patches_used < 24  # white (and the brightest colours) clipped, left out
    assert np.allclose(np.asarray(ref.correction), np.eye(3) / 1.6, atol=0.01)
