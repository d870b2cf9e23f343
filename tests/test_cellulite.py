"""Cellulite measure on rendered skin surfaces with known dimples (analysis.simulate.render_cellulite)."""

from __future__ import annotations

import pytest

from analysis import analyse
from analysis.cellulite import Light, light_changed
from analysis.simulate import Recapture, render_cellulite

SMALL = dict(size=(360, 480), px_per_mm=3.0, marker_mm=10.0)


@pytest.fixture(scope="module")
def baseline():
    return render_cellulite(dimples=40, depth_mm=1.5, seed=3, **SMALL)


def test_shadow_share_is_recovered(baseline):
    r = analyse(baseline.rgb, region=baseline.region, area="cellulite")
    # the band-pass reads shadows against their surroundings, not against a smooth surface: up to 20 % low
    assert r["metrics"]["dimple_shadow_pct"] == pytest.approx(baseline.truth["shadow_pct"], rel=0.2)
    assert not r["scale"]["nominal"] and r["scale"]["px_per_mm"] == pytest.approx(3.0, rel=0.05)
    light = r["measurement"]["light"]
    assert light["azimuth_deg"] == pytest.approx(-90, abs=15)  # brighter towards the top: light from above


def test_nuisance_only_recapture_is_no_change(baseline):
    nuisance = Recapture(rotation_deg=6.0, scale=0.92, exposure=0.8, white_balance=(1.04, 1.0, 0.96),
                         jpeg_quality=90)
    r = analyse(nuisance.apply(baseline.rgb), baseline.rgb, region=baseline.region, area="cellulite")
    assert r["alignment"]["comparable"] and r["change_refused"] == {}
    assert r["noise"]["dimple_shadow_pct"] > 0 and r["beyond_noise"]["dimple_shadow_pct"] is False


def test_fewer_shallower_dimples_are_recovered(baseline):
    treated = render_cellulite(dimples=20, depth_mm=1.0, seed=3, **SMALL)
    r = analyse(Recapture(rotation_deg=-4.0, jpeg_quality=92).apply(treated.rgb), baseline.rgb,
                region=baseline.region, area="cellulite")
    truth = treated.truth["shadow_pct"] - baseline.truth["shadow_pct"]
    assert truth < -5
    assert r["change"]["dimple_shadow_pct"] == pytest.approx(truth, rel=0.4)
    assert r["beyond_noise"]["dimple_shadow_pct"]


@pytest.mark.parametrize("azimuth", [90.0, -30.0])
def test_light_from_elsewhere_is_refused(baseline, azimuth):
    relit = render_cellulite(dimples=40, depth_mm=1.5, seed=3, light_azimuth_deg=azimuth, **SMALL)
    r = analyse(relit.rgb, baseline.rgb, region=baseline.region, area="cellulite")
    assert r["change"]["dimple_shadow_pct"] is None and r["noise"]["dimple_shadow_pct"] is None
    assert r["change_refused"]["dimple_shadow_pct"]["code"] == "light_direction"


def test_shading_axis_turn_alone_is_refused():
    above = Light((0.0, -0.2), -90.0, 90.0, 0.4)
    side = Light((0.0, -0.2), -90.0, 0.0, 0.4)
    assert light_changed(side, above).code == "light_direction"
    assert light_changed(above, above) is None
    assert light_changed(Light((0.0, -0.2), -90.0, 0.0, 0.05), above) is None  # incoherent: no axis to compare


def test_without_a_marker_the_scale_is_nominal():
    scene = render_cellulite(seed=4, size=(360, 480), px_per_mm=3.0, marker_mm=None)
    r = analyse(scene.rgb, region=scene.region, area="cellulite")
    assert r["scale"]["nominal"] and r["metrics"]["dimple_shadow_pct"] is not None
