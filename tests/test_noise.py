"""The noise bound on constructed skin maps whose tile changes are known exactly.

Each case builds two :class:`analysis.metrics.SkinMaps` by hand, so that every
tile's change is a chosen number and the bound can be worked out on paper
(the comments do). The floors are set by each test, so that the answers do not
move when the shipped calibration does.
"""

from __future__ import annotations

import numpy as np
import pytest

from analysis import noise
from analysis.metrics import METRICS, SkinMaps
from analysis.calibration import Floor, Floors
from analysis.noise import tile_changes

#: Eyes 160 px apart: tiles of a quarter of that, 40 px.
IOD = 160.0
TILE = 40


def maps(a_star: np.ndarray, spots: np.ndarray | None = None, skin: np.ndarray | None = None):
    """Skin maps with ``a_star`` as CIELAB a* (L* 60, b* 15), no texture, and ``spots`` labelled dark spots."""
    shape = a_star.shape
    lab = np.stack([np.full(shape, 60.0), a_star, np.full(shape, 15.0)], axis=-1).astype(np.float32)
    zeros = np.zeros(shape, np.float32)
    return SkinMaps(lab=lab, erythema=zeros, fine_log_y=zeros, ridges=zeros, shading_free_l=zeros,
                          spots=np.zeros(shape, np.int32) if spots is None else spots, px_per_mm=2.0,
                          colour_mask=np.ones(shape, bool) if skin is None else skin,
                          texture_mask=np.zeros(shape, bool))


def tiled(values, tile: int = TILE) -> np.ndarray:
    """A map holding ``values[i][j]`` over tile (i, j), ``tile`` pixels square."""
    return np.kron(np.asarray(values, np.float32), np.ones((tile, tile), np.float32))


def set_floors(monkeypatch, clinic: float, small: float | None = None) -> dict:
    """Every metric's floor ``clinic`` in the clinic tier and ``small`` (default: the same) in the small one, as
    the shipped floors; returns the table (tier -> scope -> metric -> value, None for no floor) to change."""
    tier = lambda value: {scope: dict.fromkeys(METRICS, value) for scope in ("overall", "forehead")}  # noqa: E731
    table = {"clinic": tier(clinic), "small": tier(clinic if small is None else small)}
    monkeypatch.setattr(noise, "shipped_floors", lambda: Floors(tuple(
        Floor(t, scope, m, value, None, None, "test", "test") for t, scopes in table.items()
        for scope, values in scopes.items() for m, value in values.items() if value is not None)))
    return table


def change_noise(*args, **kwargs) -> dict:
    """The bounds of :func:`analysis.noise.change_noise` (scope -> metric -> bound)."""
    return noise.change_noise(*args, **kwargs).bounds


def floor_of(iod_px: float, scope: str, metric: str) -> float | None:
    """The shipped floor a frame with eyes ``iod_px`` apart uses for ``scope`` and ``metric``."""
    return noise.floor(None, noise.tier(iod_px), scope, metric)[0]


def everywhere(shape) -> dict[str, np.ndarray]:
    return {"overall": np.ones(shape, bool)}


def test_each_tile_is_a_quarter_eye_distance_square():
    # An 80 x 80 frame of four 40 px quadrants with a* changes 1, 2, 3, 6: at eyes 160 px apart each tile
    # is one quadrant, read row by row.
    changes = [[1.0, 2.0], [3.0, 6.0]]
    base = np.full((80, 80), 10.0, np.float32)
    d = tile_changes(maps(base + tiled(changes)), maps(base), everywhere(base.shape), 10.0, IOD)
    np.testing.assert_allclose(d["overall"]["redness_a_star"], [1.0, 2.0, 3.0, 6.0], atol=1e-5)
    # Eyes 80 px apart: tiles of 20 px, four to a quadrant, each with its quadrant's change.
    d = tile_changes(maps(base + tiled(changes)), maps(base), everywhere(base.shape), 10.0, 80.0)
    np.testing.assert_allclose(d["overall"]["redness_a_star"],
                               np.kron(np.asarray(changes), np.ones((2, 2))).ravel(), atol=1e-5)


def test_the_bound_of_a_mean_change(monkeypatch):
    # Four tiles with a* changes 1, 2, 3, 6: mean 3, deviations -2, -1, 0, 3, sum of squares 14,
    # sd sqrt(14 / 3) = 2.16025, standard error of the mean 2.16025 / sqrt(4) = 1.08012,
    # 1.96 x that = 2.11704; with a floor of 0.5 the bound is sqrt(0.5^2 + 2.11704^2) = 2.17529.
    set_floors(monkeypatch, 0.5)
    base = np.full((80, 80), 10.0, np.float32)
    bounds = change_noise(maps(base + tiled([[1.0, 2.0], [3.0, 6.0]])), maps(base), everywhere(base.shape), 10.0,
                          IOD)
    assert bounds["overall"]["redness_a_star"] == pytest.approx(2.17529, abs=1e-4)
    # Lightness and the skin tone angle did not change in any tile: the bound is the floor alone.
    assert bounds["overall"]["brightness_l_star"] == pytest.approx(0.5, abs=1e-6)
    assert bounds["overall"]["ita_deg"] == pytest.approx(0.5, abs=1e-6)


def test_a_uniform_change_is_bounded_by_the_floor_alone(monkeypatch):
    # Every tile changed by exactly +2 a*: no spread, so the pair itself shows no noise; only the floor,
    # what shifts every tile alike, bounds the change.
    set_floors(monkeypatch, 1.25)
    base = np.full((120, 120), 10.0, np.float32)
    bounds = change_noise(maps(base + 2.0), maps(base), everywhere(base.shape), 10.0, IOD)
    assert bounds["overall"]["redness_a_star"] == pytest.approx(1.25, abs=1e-6)


def test_a_count_is_summed_over_tiles(monkeypatch):
    # Spots are counted, and a scope's count is the sum of its tiles': tiles with 1, 3, 1 and 3 new spots
    # (none in the baseline) give changes of mean 2 and sd sqrt(4 / 3) = 1.15470; the standard error of
    # the sum of four is 1.15470 x sqrt(4) = 2.30940, 1.96 x that = 4.52643, and with the floor of 0.5
    # the bound is sqrt(0.5^2 + 4.52643^2) = 4.55396. (As a mean it would be 0.5 x 1.15470 x 1.96 = 1.13161,
    # bound 1.23715.)
    set_floors(monkeypatch, 0.5)
    spots = np.zeros((80, 80), np.int32)
    label = 0
    for (row, col), n in zip([(0, 0), (0, 1), (1, 0), (1, 1)], [1, 3, 1, 3]):
        for k in range(n):
            label += 1
            y, x = row * TILE + 5 + 10 * k, col * TILE + 5
            spots[y:y + 3, x:x + 3] = label
    a_star = np.full((80, 80), 10.0, np.float32)
    photo, baseline = maps(a_star, spots), maps(a_star)
    d = tile_changes(photo, baseline, everywhere(a_star.shape), 10.0, IOD)
    np.testing.assert_array_equal(d["overall"]["spot_count"], [1, 3, 1, 3])
    bounds = change_noise(photo, baseline, everywhere(a_star.shape), 10.0, IOD)
    assert bounds["overall"]["spot_count"] == pytest.approx(4.55396, abs=1e-4)


def test_too_few_tiles_give_no_bound(monkeypatch):
    # Three tiles are the fewest that give a bound. Changes -1, 0, 1: sd 1, standard error 1 / sqrt(3) =
    # 0.57735, 1.96 x that = 1.13161; floor 0.5: sqrt(0.25 + 1.28053) = 1.23715.
    set_floors(monkeypatch, 0.5)
    base = np.full((40, 120), 10.0, np.float32)
    three = maps(base + tiled([[-1.0, 0.0, 1.0]]))
    bounds = change_noise(three, maps(base), everywhere(base.shape), 10.0, IOD)
    assert bounds["overall"]["redness_a_star"] == pytest.approx(1.23715, abs=1e-4)
    # Two tiles: no bound, and so no verdict, rather than a bound from one degree of freedom.
    two = {"overall": np.zeros(base.shape, bool)}
    two["overall"][:, :80] = True
    bounds = change_noise(three, maps(base), two, 10.0, IOD)
    assert bounds["overall"]["redness_a_star"] is None
    assert set(bounds["overall"]) == set(METRICS)


def test_a_tile_with_too_little_skin_is_left_out(monkeypatch):
    # The third tile holds 29 skin pixels, one fewer than a metric needs (MIN_PIXELS 30): it gives no
    # change, leaving two tiles and no bound. With 30 it counts, and the bound is 1.23715 as above.
    set_floors(monkeypatch, 0.5)
    base = np.full((40, 120), 10.0, np.float32)
    photo = maps(base + tiled([[-1.0, 0.0, 1.0]]))
    for pixels, bound in ((29, None), (30, pytest.approx(1.23715, abs=1e-4))):
        scope = np.zeros(base.shape, bool)
        scope[:, :80] = True
        scope.ravel()[np.flatnonzero(np.tile(np.arange(120) >= 80, 40))[:pixels]] = True
        bounds = change_noise(photo, maps(base), {"overall": scope}, 10.0, IOD)
        assert bounds["overall"]["redness_a_star"] == bound, pixels


def test_no_skin_gives_no_bound(monkeypatch):
    set_floors(monkeypatch, 0.5)
    base = np.full((80, 80), 10.0, np.float32)
    bounds = change_noise(maps(base), maps(base), {"overall": np.zeros(base.shape, bool)}, 10.0, IOD)
    assert bounds == {"overall": dict.fromkeys(METRICS)}


def test_a_metric_without_a_floor_gets_no_bound(monkeypatch):
    table = set_floors(monkeypatch, 0.5)
    table["clinic"]["overall"]["redness_a_star"] = None
    base = np.full((80, 80), 10.0, np.float32)
    bounds = change_noise(maps(base + tiled([[1.0, 2.0], [3.0, 6.0]])), maps(base), everywhere(base.shape), 10.0,
                          IOD)
    assert bounds["overall"]["redness_a_star"] is None
    assert bounds["overall"]["brightness_l_star"] == pytest.approx(0.5)


def test_the_tier_switches_at_the_small_frame_eye_distance(monkeypatch):
    # Clinic floors from eyes SMALL_FRAME_IOD_PX (100 px) apart in the analysis frame, the small tier below.
    set_floors(monkeypatch, clinic=0.5, small=2.0)
    assert noise.SMALL_FRAME_IOD_PX == 100.0
    assert floor_of(100.0, "overall", "redness_a_star") == 0.5
    assert floor_of(99.9, "overall", "redness_a_star") == 2.0
    # Through the bound: eyes 100 and 99 px apart both give 25 px tiles (0.25 x 99 = 24.75, rounded), so
    # the three tiles of changes -1, 0, 1 give 1.96 x 0.57735 = 1.13161 at both, and the floor decides:
    # sqrt(0.5^2 + 1.13161^2) = 1.23715 at 100 px, sqrt(2^2 + 1.13161^2) = 2.29794 at 99.
    base = np.full((25, 75), 10.0, np.float32)
    photo = maps(base + tiled([[-1.0, 0.0, 1.0]], tile=25))
    clinic = change_noise(photo, maps(base), everywhere(base.shape), 10.0, 100.0)
    small = change_noise(photo, maps(base), everywhere(base.shape), 10.0, 99.0)
    assert clinic["overall"]["redness_a_star"] == pytest.approx(1.23715, abs=1e-4)
    assert small["overall"]["redness_a_star"] == pytest.approx(2.29794, abs=1e-4)


def test_a_region_has_its_own_floor_and_a_marked_body_region_borrows_the_face_s(monkeypatch):
    table = set_floors(monkeypatch, 0.5)
    table["clinic"]["forehead"] = dict.fromkeys(METRICS, 0.75)
    assert floor_of(IOD, "forehead", "redness_a_star") == 0.75
    assert floor_of(IOD, "marked", "redness_a_star") == 0.5  # the overall floor
    # Each scope's tiles are its own: in a frame of three rows of two 40 px tiles, the forehead is the top
    # two rows (changes 1, 2, 3, 6) and the whole face adds a row of unchanged tiles.
    base = np.full((120, 80), 10.0, np.float32)
    photo = maps(base + tiled([[1.0, 2.0], [3.0, 6.0], [0.0, 0.0]]))
    forehead = np.zeros(base.shape, bool)
    forehead[:80] = True
    bounds = change_noise(photo, maps(base), {"overall": np.ones(base.shape, bool), "forehead": forehead}, 10.0,
                          IOD)
    # Forehead: 1.96 x 1.08012 = 2.11704 (as in test_the_bound_of_a_mean_change), floor 0.75:
    # sqrt(0.5625 + 4.48186) = 2.24597.
    assert bounds["forehead"]["redness_a_star"] == pytest.approx(2.24597, abs=1e-4)
    # Overall: six tiles 1, 2, 3, 6, 0, 0: mean 2, deviations -1, 0, 1, 4, -2, -2, sum of squares 26,
    # sd sqrt(26 / 5) = 2.28035, standard error 2.28035 / sqrt(6) = 0.93095, 1.96 x that = 1.82466;
    # floor 0.5: sqrt(0.25 + 3.32938) = 1.89192.
    assert bounds["overall"]["redness_a_star"] == pytest.approx(1.89192, abs=1e-4)
