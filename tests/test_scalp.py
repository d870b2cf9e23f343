"""Hair-loss measures on rendered scalps with a known share of scalp showing (analysis.simulate.render_scalp)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from analysis import analyse
from analysis.cli import main
from analysis.simulate import Recapture, render_scalp

SMALL = dict(size=(240, 320), supersample=2, marker_mm=5.0)


@pytest.fixture(scope="module")
def baseline():
    return render_scalp(30.0, part_width_mm=2.0, seed=7, **SMALL)


@pytest.fixture(scope="module")
def thinner():
    """The same hairs as the baseline, fewer of them: more scalp showing and a wider part."""
    return render_scalp(40.0, part_width_mm=3.0, seed=7, **SMALL)


def test_visible_share_and_part_width_are_recovered(baseline):
    r = analyse(baseline.rgb, region=baseline.region, area="scalp", marker_mm=5.0)
    assert r["area"] == "scalp" and r["face"] is None
    assert r["metrics"]["scalp_visible_pct"] == pytest.approx(baseline.truth["visible_pct"], abs=2.0)
    assert r["metrics"]["part_width_mm"] == pytest.approx(2.0, abs=0.2)
    assert not r["scale"]["nominal"] and r["scale"]["px_per_mm"] == pytest.approx(baseline.px_per_mm, rel=0.02)
    assert r["refused"] == {} and r["quality"]["usable"]


def test_nuisance_only_recapture_is_no_change(baseline):
    nuisance = Recapture(rotation_deg=7.0, scale=0.9, shift_px=(6.0, -4.0), exposure=0.8,
                         white_balance=(1.05, 1.0, 0.95), jpeg_quality=90, linear_light=True)
    r = analyse(nuisance.apply(baseline.rgb), baseline.rgb, region=baseline.region, area="scalp", marker_mm=5.0)
    assert r["alignment"]["comparable"], r["alignment"]["reasons"]
    for m in ("scalp_visible_pct", "part_width_mm"):
        assert r["noise"][m] > 0 and r["beyond_noise"][m] is False, (m, r["change"][m], r["noise"][m])


def test_thinning_is_recovered_beyond_noise(baseline, thinner):
    recaptured = Recapture(rotation_deg=-5.0, scale=1.08, linear_light=True).apply(thinner.rgb)
    r = analyse(recaptured, baseline.rgb, region=baseline.region, area="scalp", marker_mm=5.0)
    truth = thinner.truth["visible_pct"] - baseline.truth["visible_pct"]
    assert r["change"]["scalp_visible_pct"] == pytest.approx(truth, abs=2.0)
    assert r["beyond_noise"]["scalp_visible_pct"]
    # Where 40 % of the scalp shows, gaps between hairs run into the part: it is not found, and says so.
    assert r["change"]["part_width_mm"] is None and r["refused"]["part_width_mm"]["code"] == "no_part"


@pytest.mark.parametrize("hair,skin", [("blond", "light"), ("grey", "light"), ("white", "light")])
def test_low_hair_contrast_is_refused(hair, skin):
    scene = render_scalp(30.0, hair=hair, skin=skin, seed=1, **SMALL)
    r = analyse(scene.rgb, region=scene.region, area="scalp", marker_mm=5.0)
    assert r["metrics"]["scalp_visible_pct"] is None
    assert r["refused"]["scalp_visible_pct"]["code"] == "low_hair_contrast"
    assert not r["quality"]["usable"]


def test_brown_hair_is_measured():
    scene = render_scalp(30.0, hair="brown", seed=1, **SMALL)
    r = analyse(scene.rgb, region=scene.region, area="scalp", marker_mm=5.0)
    assert r["metrics"]["scalp_visible_pct"] == pytest.approx(scene.truth["visible_pct"], abs=2.0)
    assert r["refused"]["part_width_mm"]["code"] == "no_part"  # no part rendered


def test_without_a_marker_the_scale_is_nominal():
    scene = render_scalp(30.0, part_width_mm=2.0, seed=2, size=(240, 320), supersample=2, marker_mm=None)
    r = analyse(scene.rgb, region=scene.region, area="scalp")
    assert r["scale"]["nominal"] and r["scale"]["source"] == "nominal"
    assert r["metrics"]["scalp_visible_pct"] == pytest.approx(scene.truth["visible_pct"], abs=2.0)


def test_area_needs_a_known_area_and_a_region(baseline):
    with pytest.raises(ValueError):
        analyse(baseline.rgb, area="scalp")
    with pytest.raises(ValueError):
        analyse(baseline.rgb, region=baseline.region, area="knees")


def test_command_line_puts_the_measures_under_metrics(tmp_path, capsys, baseline, thinner):
    for name, scene in (("baseline.png", baseline), ("session.png", thinner)):
        cv2.imwrite(str(tmp_path / name), scene.rgb[:, :, ::-1])
    region = " ".join(f"{x:.0f},{y:.0f}" for x, y in baseline.region)
    code = main(["measure", str(tmp_path / "session.png"), "--reference", str(tmp_path / "baseline.png"),
                 "--area", "scalp", "--region", region, "--marker-mm", "5", "--json"])
    r = json.loads(capsys.readouterr().out)
    assert code == 0
    assert set(r["metrics"]) == {"scalp_visible_pct", "part_width_mm"}
    assert r["change"]["scalp_visible_pct"] > 10 and r["noise"]["scalp_visible_pct"] < 5
    with pytest.raises(SystemExit):
        main(["measure", str(tmp_path / "session.png"), "--area", "scalp"])
    assert np.isfinite(r["scale"]["px_per_mm"])


def test_sample_courses_are_labelled_simulated():
    """The hair-loss and cellulite sample courses made by sample_images/generate_body.py."""
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[1] / "sample_images"
    total = 0
    for folder, area in (("hair-loss", "scalp"), ("cellulite", "cellulite")):
        course = json.loads((root / folder / "course.json").read_text())
        assert course["simulated"] is True and course["area"] == area and len(course["sessions"]) == 4
        assert len(course["region"]) >= 3
        for session in course["sessions"]:
            for photo in session["photos"]:
                assert photo["photo"].startswith("SIMULATED-")
                total += (root / folder / photo["photo"]).stat().st_size
    assert total < 2_000_000
