"""Each metric on synthetic arrays with a known answer, and its response to known changes."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from analysis import metrics as M
from analysis.colour import linear_to_srgb, srgb_to_linear, to_lab


def flat_lab(shape=(60, 60), lab=(60.0, 12.0, 15.0)) -> np.ndarray:
    return np.broadcast_to(np.float32(lab), (*shape, 3)).copy()


def full(shape=(60, 60)) -> np.ndarray:
    return np.ones(shape, bool)


def textured_rgb(amplitude: float, shape=(200, 200), seed=0, exposure: float = 1.0) -> np.ndarray:
    """Skin-coloured sRGB with log-luminance texture of a given amplitude (sigma 1 px noise)."""
    noise = cv2.GaussianBlur(np.random.default_rng(seed).standard_normal(shape).astype(np.float32), (0, 0), 1.0)
    linear = 0.35 * exposure * np.exp(amplitude * noise)[..., None] * np.float32([1.0, 0.78, 0.66])
    return linear_to_srgb(linear)


def maps_of(rgb: np.ndarray, px_per_mm: float = 5.0) -> M.SkinMaps:
    mask = full(rgb.shape[:2])
    return M.skin_maps(srgb_to_linear(rgb), to_lab(rgb), mask, mask, px_per_mm)


def test_redness_brightness_and_ita_on_uniform_colour():
    lab, mask = flat_lab(), full()
    assert M.redness_a_star(lab, mask) == pytest.approx(12.0)
    assert M.brightness_l_star(lab, mask) == pytest.approx(60.0)
    assert M.ita_deg(lab, mask) == pytest.approx(np.degrees(np.arctan2(10.0, 15.0)))
    assert M.ita_deg(flat_lab(lab=(60.0, 10.0, 10.0)), mask) == pytest.approx(45.0)


def test_erythema_index_is_log_ratio_of_linear_red_to_green():
    linear = np.broadcast_to(np.float32([0.5, 0.25, 0.2]), (10, 10, 3))
    assert M.erythema_index(M.erythema_map(linear), full((10, 10))) == pytest.approx(100 * np.log10(2), abs=1e-4)


def test_erythema_index_rises_with_red_and_ignores_exposure():
    base = np.broadcast_to(np.float32([0.40, 0.28, 0.22]), (10, 10, 3))
    ei = lambda lin: M.erythema_index(M.erythema_map(lin), full((10, 10)))  # noqa: E731
    redder = base * np.float32([1.1, 1.0, 1.0])
    assert ei(redder) - ei(base) == pytest.approx(100 * np.log10(1.1), abs=0.05)
    assert ei(base * 0.7) == pytest.approx(ei(base), abs=0.05)


def test_red_area_counts_pixels_markedly_above_the_reference():
    lab = flat_lab()
    lab.reshape(-1, 3)[:360, 1] += M.RED_MARGIN_A + 1  # 10 % of 3600 pixels
    assert M.red_area_pct(lab, full(), reference_a_star=12.0) == pytest.approx(10.0)
    # A course-wide fall in redness shrinks the red area against the baseline's reference.
    lab[..., 1] -= 2.0
    assert M.red_area_pct(lab, full(), reference_a_star=12.0) == pytest.approx(0.0)


def test_evenness_ignores_shading_and_measures_mottling():
    y, x = np.mgrid[0:200, 0:200].astype(np.float32)
    lightness = 50 + 10 * x / 200  # a smooth shading ramp across the face
    mask = full((200, 200))
    assert M.evenness_l_std(lightness - M.masked_smooth(lightness, mask, 20), mask) < 0.3
    mottled = lightness + 2.0 * np.sign(np.sin(x / 2) * np.sin(y / 2))  # +-2 L* blotches, ~6 px
    value = M.evenness_l_std(mottled - M.masked_smooth(mottled, mask, 20), mask)
    assert value == pytest.approx(2.0, rel=0.15)


def test_texture_roughness_scales_with_contrast_and_ignores_exposure():
    rough = M.texture_roughness(maps_of(textured_rgb(0.10)).fine_log_y, full((200, 200)))
    half = M.texture_roughness(maps_of(textured_rgb(0.05)).fine_log_y, full((200, 200)))
    brighter = M.texture_roughness(maps_of(textured_rgb(0.10, exposure=1.3)).fine_log_y, full((200, 200)))
    assert rough > 1.0
    assert half / rough == pytest.approx(0.5, abs=0.03)
    assert brighter / rough == pytest.approx(1.0, abs=0.02)


def test_texture_roughness_is_the_rms_of_the_band_in_percent():
    band = np.full((40, 40), 0.02, np.float32)
    band[::2, :] = -0.02  # +-2 % log-luminance contrast, RMS exactly 2 %
    assert M.texture_roughness(band, full((40, 40))) == pytest.approx(2.0, rel=1e-6)
    band[:10] = 0.05
    only = np.zeros((40, 40), bool)
    only[:10] = True
    assert M.texture_roughness(band, only) == pytest.approx(5.0, rel=1e-6)  # the mask's pixels only
    assert M.texture_roughness(band, ~only) == pytest.approx(2.0, rel=1e-6)


def test_texture_band_in_pixels():
    # 0.1 and 0.4 mm; the finer clamped to one pixel, the coarser to at least twice the finer.
    assert M.texture_band_px(M.MIN_TEXTURE_PX_PER_MM) == (1.0, 2.0)
    assert M.texture_band_px(10.0) == (1.0, 4.0)
    assert M.texture_band_px(20.0) == (2.0, 8.0)


@pytest.mark.parametrize("period_px", [4.0, 6.5, 12.0, 24.0])
def test_texture_of_a_sinusoid_is_the_band_response_times_its_rms(period_px):
    """ln Y = A sin(2 pi x / P): the difference of Gaussians of sigmas 1 and 2 px passes the fraction
    exp(-2 pi^2 s1^2 / P^2) - exp(-2 pi^2 s2^2 / P^2) of its amplitude, and the RMS of a sine is A / sqrt 2."""
    amplitude, shape = 0.1, (64, 240)
    x = np.arange(shape[1], dtype=np.float64)
    log_y = np.broadcast_to(amplitude * np.sin(2 * np.pi * x / period_px), shape)
    linear = (0.3 * np.exp(log_y))[..., None].repeat(3, axis=2).astype(np.float32)  # grey: Y = the value
    mask = full(shape)
    maps = M.skin_maps(linear, to_lab(linear_to_srgb(linear)), mask, mask, M.MIN_TEXTURE_PX_PER_MM)
    inner = np.zeros(shape, bool)
    inner[:, 24:-24] = True  # away from the border, where the filters reflect the pattern
    gain = np.exp(-2 * np.pi ** 2 / period_px ** 2) - np.exp(-8 * np.pi ** 2 / period_px ** 2)
    expected = 100 * amplitude * gain / np.sqrt(2)
    assert M.texture_roughness(maps.fine_log_y, inner) == pytest.approx(expected, rel=0.01)


def test_line_density_is_the_share_of_pixels_above_the_threshold():
    ridges = np.zeros((10, 10), np.float32)
    ridges[:3] = M.LINE_THRESHOLD + 0.5
    ridges[3, :5] = M.LINE_THRESHOLD  # at the threshold is not a line
    assert M.line_density_pct(ridges, full((10, 10))) == pytest.approx(30.0)


def test_texture_is_not_measured_below_the_resolution_limit():
    rgb = textured_rgb(0.1)
    values = M.measure(maps_of(rgb, px_per_mm=M.MIN_TEXTURE_PX_PER_MM / 2), full((200, 200)), 12.0)
    assert values["texture_roughness"] is None and values["line_density_pct"] is None
    assert values["redness_a_star"] is not None


def test_texture_is_measured_from_the_resolution_limit_up():
    rgb = textured_rgb(0.1)
    at = M.measure(maps_of(rgb, px_per_mm=M.MIN_TEXTURE_PX_PER_MM), full((200, 200)), 12.0)
    below = M.measure(maps_of(rgb, px_per_mm=0.99 * M.MIN_TEXTURE_PX_PER_MM), full((200, 200)), 12.0)
    assert at["texture_roughness"] is not None and at["line_density_pct"] is not None
    assert below["texture_roughness"] is None
    # Both frames are within the finest octave (sigmas 1 and 2 px): the same band, the same value.
    assert M.texture_roughness(maps_of(rgb, px_per_mm=M.MIN_TEXTURE_PX_PER_MM).fine_log_y, full((200, 200))) \
        == pytest.approx(M.texture_roughness(maps_of(rgb, px_per_mm=4.0).fine_log_y, full((200, 200))))


def test_line_density_finds_dark_lines_and_not_flat_skin():
    flat = linear_to_srgb(np.broadcast_to(np.float32([0.35, 0.27, 0.23]), (200, 200, 3)).copy())
    lined = srgb_to_linear(flat.copy())
    for row in range(20, 200, 40):
        lined[row:row + 2] *= 0.8  # 2 px dark lines, 20 % darker
    lined = linear_to_srgb(lined)
    mask = full((200, 200))
    assert M.line_density_pct(maps_of(flat).ridges, mask) == 0.0
    density = M.line_density_pct(maps_of(lined).ridges, mask)
    assert 2.0 < density < 20.0  # five 2-px lines cover 5 %; the filter widens them a little


def test_dark_spots_are_counted_and_specks_are_not():
    px_per_mm = 5.0
    lightness = np.full((200, 200), 65.0, np.float32)
    centres = [(40, 40), (40, 150), (100, 100), (160, 50), (160, 160)]
    for cy, cx in centres:
        cv2.circle(lightness, (cx, cy), int(1.5 * px_per_mm), 55.0, -1)  # 3 mm spots, 10 L* darker
    lightness[10, 100] = 40.0  # a one-pixel speck (0.2 mm) is not a spot
    mask = full((200, 200))
    spots = M.dark_spots(lightness, mask, px_per_mm)
    assert M.spot_count(spots, mask) == 5
    expected_area = 100 * 5 * np.pi * (1.5 * px_per_mm) ** 2 / mask.size
    assert M.spot_area_pct(spots, mask) == pytest.approx(expected_area, rel=0.2)


def test_measure_gives_none_for_tiny_regions():
    rgb = textured_rgb(0.05, shape=(50, 50))
    region = np.zeros((50, 50), bool)
    region[:3, :3] = True
    values = M.measure(maps_of(rgb), region, 12.0)
    assert values["pixels"] == 9 and all(values[m] is None for m in M.METRICS)
