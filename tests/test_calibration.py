"""Noise floors as data: the fit's exact answers, leave-one-out, the file format and its errors, and the
``calibrate`` / ``measure --floors`` contract of the command line."""

from __future__ import annotations

import datetime
import hashlib
import json
import math
import pathlib

import pytest
from PIL import Image

from analysis import __version__, analyse, noise
from analysis.calibration import (
    Floor, Floors, NoFloor, fit_floors, load_floors, loo_coverage, pair_changes, prediction_bound,
)
from analysis.cli import main, measure
from analysis.errors import BadFloors
from analysis.metrics import METRICS

# Student's t quantiles from a printed table (Hahn and Meeker 1991, table A.2), not from the code under test.
T_0975_DF4 = 2.776445   # two-sided 95 %, 4 degrees of freedom
T_09875_DF9 = 2.685011  # two-sided 97.5 %, 9 degrees of freedom
T_0975_DF2 = 4.302653   # two-sided 95 %, 2 degrees of freedom


def test_prediction_bound_exact():
    # RMS about zero of (1, -1, 1, -1, 0) is sqrt(4 / 5); n = 5.
    assert prediction_bound([1, -1, 1, -1, 0], 0.95) == pytest.approx(
        T_0975_DF4 * math.sqrt(0.8) * math.sqrt(1 + 1 / 5), rel=1e-6)


def test_a_bias_counts_as_noise():
    # Ten pairs all +2: no spread about their mean, but a no-change pair's true change is 0.
    assert prediction_bound([2.0] * 10) == pytest.approx(T_09875_DF9 * 2.0 * math.sqrt(1.1), rel=1e-6)


def test_fit_floors_exact_with_n_and_provenance():
    values = [0.5, -0.5] * 5
    fitted = fit_floors({("clinic", "forehead", "redness_a_star"): values}, min_pairs=10, source="room 1",
                        engine_version="9.9", provenance={"pairs_sha256": "ab"})
    f = fitted.get("clinic", "forehead", "redness_a_star")
    assert f.value == pytest.approx(T_09875_DF9 * 0.5 * math.sqrt(1.1), rel=1e-6)
    assert (f.n, f.engine_version, f.source) == (10, "9.9", "room 1")
    assert f.loo_coverage == 1.0  # every |change| is 0.5, well inside any bound fitted on the others
    assert fitted.provenance["pairs_sha256"] == "ab" and fitted.provenance["level"] == 0.975
    assert fitted.get("clinic", "chin", "redness_a_star") is None


def test_too_few_pairs_give_no_floor_and_say_why():
    fitted = fit_floors({("clinic", "chin", "brightness_l_star"): [0.1] * 9,
                         ("small", "overall", "texture_roughness"): []}, min_pairs=10)
    assert fitted.floors == ()
    assert fitted.get("clinic", "chin", "brightness_l_star") is None
    assert fitted.reason("clinic", "chin", "brightness_l_star") == \
        "9 comparable pairs measured it; a floor needs at least 10"
    assert [m.n for m in fitted.missing] == [9, 0]
    with pytest.raises(ValueError):
        fit_floors({}, min_pairs=2)


def test_leave_one_out_coverage_exact():
    # Without the 5.0, the others' bound is 4.302653 * 0.1 * sqrt(4 / 3) = 0.497: 5.0 is outside it.
    # Without one 0.1, the others' RMS is sqrt((0.02 + 25) / 3) = 2.89: that 0.1 is inside. So 3 of 4.
    assert prediction_bound([0.1, 0.1, 0.1], 0.95) == pytest.approx(T_0975_DF2 * 0.1 * math.sqrt(4 / 3), rel=1e-6)
    assert loo_coverage([0.1, -0.1, 0.1, 5.0], 0.95) == 0.75
    assert loo_coverage([0.1, -0.1, 0.1, 0.2], 0.95) == 1.0


def _floors() -> Floors:
    return Floors((Floor("clinic", "overall", "redness_a_star", 0.7, 12, 0.9167, "0.3.0", "room 1"),
                   Floor("small", "marked", "brightness_l_star", 1.25, None, None, "0.2.0", "shipped")),
                  (NoFloor("clinic", "forehead", "texture_roughness", 4, "too few"),),
                  {"engine_version": "0.3.0", "source": "room 1", "date": "2026-12-08"})


def test_json_round_trip(tmp_path):
    floors = _floors()
    path = tmp_path / "floors.json"
    path.write_text(floors.to_json())
    back = load_floors(path)
    assert back == floors and back.to_dict() == floors.to_dict()
    assert back.get("small", "marked", "brightness_l_star").value == 1.25
    assert back.reason("clinic", "forehead", "texture_roughness") == "too few"


def _corrupt(change):
    document = _floors().to_dict()
    change(document)
    return json.dumps(document)


@pytest.mark.parametrize("text,says", [
    ("{not json", "not JSON"),
    ("[]", "not a floors file"),
    (_corrupt(lambda d: d.update(format_version=2)), "format_version 2"),
    (_corrupt(lambda d: d["floors"][0].update(value=-1)), "floors[0] (clinic/overall/redness_a_star): value"),
    (_corrupt(lambda d: d["floors"][0].update(value="0.7")), "value must be a finite number"),
    (_corrupt(lambda d: d["floors"][1].update(metric="redness")), "floors[1]: metric 'redness' is not one of"),
    (_corrupt(lambda d: d["floors"][0].update(tier="studio")), "tier 'studio'"),
    (_corrupt(lambda d: d["floors"][0].update(loo_coverage=1.5)), "loo_coverage"),
    (_corrupt(lambda d: d["floors"][0].update(n=2.5)), "n must be a whole number"),
    (_corrupt(lambda d: d["floors"].append(d["floors"][0])), "clinic/overall/redness_a_star is given twice"),
    (_corrupt(lambda d: d.pop("no_floor")), "\"no_floor\" must be a list"),
    (_corrupt(lambda d: d["no_floor"][0].pop("reason")), "no_floor[0] (clinic/forehead/texture_roughness): reason"),
])
def test_load_errors_say_what_is_wrong(tmp_path, text, says):
    path = tmp_path / "floors.json"
    path.write_text(text)
    with pytest.raises(BadFloors) as caught:
        load_floors(path)
    assert caught.value.code == "bad_floors"
    assert caught.value.message.startswith(f"floors {path}: ") and says in caught.value.message


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(BadFloors, match="No such file"):
        load_floors(tmp_path / "none.json")
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\xff\xfe")
    with pytest.raises(BadFloors, match="not a text file"):
        load_floors(tmp_path / "photo.jpg")


def test_shipped_floors_are_the_validations_values():
    shipped = noise.shipped_floors()
    assert shipped.provenance["engine_version"] == "0.2.0" and "0.2.x validation" in shipped.provenance["source"]
    assert shipped.get("clinic", "overall", "redness_a_star").value == 1.511
    assert shipped.get("small", "forehead", "evenness_l_std").value == 0.272
    assert shipped.get("clinic", "forehead", "texture_roughness") is None
    assert "fewer than 20" in shipped.reason("clinic", "forehead", "texture_roughness")
    assert len(shipped.floors) + len(shipped.missing) == 2 * 6 * len(METRICS)


def test_floor_lookup_order():
    clinic = Floors((Floor("clinic", "chin", "redness_a_star", 0.4, 10, 1.0, "0.3.0", "room 1"),
                     Floor("clinic", "marked", "redness_a_star", 0.3, 10, 1.0, "0.3.0", "room 1")))
    assert noise.floor(clinic, "clinic", "chin", "redness_a_star") == (0.4, "clinic")
    assert noise.floor(clinic, "clinic", "forehead", "redness_a_star") == (1.391, "shipped")
    assert noise.floor(None, "clinic", "marked", "redness_a_star") == (1.511, "shipped")  # borrows overall
    assert noise.floor(clinic, "clinic", "marked", "redness_a_star") == (0.3, "clinic")
    assert noise.floor(clinic, "clinic", "chin", "texture_roughness") == (None, None)


def test_analyse_uses_given_floors_and_says_so(astronaut):
    from analysis.simulate import Recapture
    photo = Recapture(rotation_deg=2.0, exposure=0.9, jpeg_quality=92).apply(astronaut)
    shipped = analyse(photo, astronaut)
    assert shipped["noise_tier"] == "small"  # the astronaut's eyes are 42 px apart
    zero = Floors(tuple(Floor("small", "overall", m, 0.0, 10, 1.0, "test", "test") for m in METRICS))
    given = analyse(photo, astronaut, floors=zero)
    for m in METRICS:
        assert given["noise_source"][m] == (None if given["noise"][m] is None else "clinic")
        if shipped["noise"][m] is not None:
            assert shipped["noise_source"][m] == "shipped" and given["noise"][m] < shipped["noise"][m]
    assert given["noise_source"]["redness_a_star"] == "clinic"
    assert {s for r in given["region_noise_source"].values() for s in r.values()} <= {"shipped", None}
    assert given["change"] == shipped["change"]


def test_pair_changes_keep_comparable_scopes_only():
    zeros = dict.fromkeys(METRICS, 0.5)
    face = {"alignment": {"comparable": True}, "change": zeros,
            "region_verdict": {"forehead": {"comparable": True}, "chin": {"comparable": False}},
            "region_change": {"forehead": {**zeros, "texture_roughness": None}, "chin": zeros}}
    got = pair_changes(face, "clinic")
    assert got[("clinic", "overall", "redness_a_star")] == 0.5
    assert got[("clinic", "forehead", "texture_roughness")] is None
    assert got[("clinic", "chin", "redness_a_star")] is None
    body = {"alignment": {"comparable": True}, "change": zeros,
            "region_verdict": {"marked": {"comparable": True}}, "region_change": {"marked": zeros}}
    assert {scope for _, scope, _ in pair_changes(body, "clinic")} == {"marked"}


# --- the command line: calibrate, then measure --floors -----------------------------------------------

SAMPLES = pathlib.Path(__file__).resolve().parents[1] / "sample_images"
CELLULITE = SAMPLES / "cellulite" / "SIMULATED-cellulite-session-1-posterior_thighs.jpg"


def _reencode(source: pathlib.Path, target: pathlib.Path, quality: int) -> None:
    """The same photo saved again: a no-change pair whose only noise is JPEG's."""
    Image.open(source).save(target, quality=quality)


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    """Three no-change face pairs (the sample fronts saved again) and one pair of two views, not comparable."""
    d = tmp_path_factory.mktemp("pairs")
    (d / "photos").mkdir()
    for i, quality in ((1, 90), (2, 88), (3, 93)):
        _reencode(SAMPLES / f"session-{i}-front.jpg", d / "photos" / f"again-{i}.jpg", quality)
        _reencode(SAMPLES / f"session-{i}-front.jpg", d / "photos" / f"base-{i}.jpg", 97)
    _reencode(SAMPLES / "session-1-left_45.jpg", d / "photos" / "left.jpg", 90)
    lines = [f"photos/again-{i}.jpg,photos/base-{i}.jpg" for i in (1, 2, 3)] + ["photos/left.jpg,photos/base-1.jpg"]
    (d / "pairs.csv").write_text("photo,baseline\n" + "\n".join(lines) + "\n")
    region = json.loads((SAMPLES / "cellulite" / "course.json").read_text())["region"]
    polygon = " ".join(f"{x},{y}" for x, y in region)
    for quality in (85, 90, 95):
        _reencode(CELLULITE, d / f"thighs-{quality}.jpg", quality)
    _reencode(CELLULITE, d / "thighs-base.jpg", 97)
    (d / "body.csv").write_text("photo,baseline,area,region\n" + "".join(
        f'thighs-{q}.jpg,thighs-base.jpg,,"{polygon}"\n' for q in (85, 90, 95)))
    return d, polygon


def cli(capsys, *argv):
    code = main([*map(str, argv)])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def calibrated(pairs):
    d, _ = pairs
    assert main(["calibrate", str(d / "pairs.csv"), "--out", str(d / "floors.json"), "--min-pairs", "3"]) == 0
    return load_floors(d / "floors.json")


def test_calibrate_fits_the_comparable_pairs(pairs, calibrated):
    d, _ = pairs
    about = calibrated.provenance
    assert about["pairs_sha256"] == hashlib.sha256((d / "pairs.csv").read_bytes()).hexdigest()
    assert about["engine_version"] == __version__ and about["pairs"] == 4 and about["comparable_pairs"] == 3
    assert datetime.datetime.fromisoformat(about["date"]).tzinfo is not None
    # The floor is the prediction bound of the three re-encoded pairs' changes; the two views are left out.
    results = [measure(str(d / "photos" / f"again-{i}.jpg"), str(d / "photos" / f"base-{i}.jpg")) for i in (1, 2, 3)]
    assert all(r["alignment"]["comparable"] and r["noise_tier"] == "clinic" for r in results)
    for scope, metric in (("overall", "redness_a_star"), ("forehead", "brightness_l_star"),
                          ("overall", "texture_roughness")):
        changes = [(r["change"] if scope == "overall" else r["region_change"][scope])[metric] for r in results]
        f = calibrated.get("clinic", scope, metric)
        assert (f.n, f.engine_version) == (3, __version__)
        assert f.value == pytest.approx(prediction_bound(changes), rel=1e-9)
    assert calibrated.get("small", "overall", "redness_a_star") is None


def test_measure_with_the_clinics_floors(capsys, pairs, calibrated):
    d, _ = pairs
    photo, baseline = d / "photos" / "again-2.jpg", d / "photos" / "base-1.jpg"
    code, out, err = cli(capsys, "measure", photo, "--reference", baseline, "--json")
    shipped = json.loads(out)
    code, out, err = cli(capsys, "measure", photo, "--reference", baseline, "--floors", d / "floors.json", "--json")
    assert code == 0 and err == ""
    clinic = json.loads(out)
    assert clinic["noise_source"]["redness_a_star"] == "clinic"
    assert shipped["noise_source"]["redness_a_star"] == "shipped"
    assert clinic["region_noise_source"]["forehead"]["brightness_l_star"] == "clinic"
    assert clinic["noise"]["redness_a_star"] < shipped["noise"]["redness_a_star"]
    # Texture has no shipped floor, so no bound; the clinic's own pairs give it one.
    assert shipped["noise"]["texture_roughness"] is None and shipped["noise_source"]["texture_roughness"] is None
    assert clinic["noise"]["texture_roughness"] is not None
    code, out, _ = cli(capsys, "measure", photo, "--reference", baseline, "--floors", d / "floors.json")
    assert code == 0 and "floors     clinic (tier clinic)" in out


def test_body_pairs_calibrate_the_marked_region(capsys, pairs, tmp_path):
    d, polygon = pairs
    out_file = tmp_path / "body-floors.json"
    code, out, err = cli(capsys, "calibrate", d / "body.csv", "--out", out_file, "--min-pairs", "3")
    assert code == 0 and err == "" and out.startswith("wrote ")
    floors = load_floors(out_file)
    assert floors.get("clinic", "marked", "redness_a_star").n == 3
    assert {f.scope for f in floors.floors} == {"marked"}  # a body pair is never the face's "overall"
    code, out, _ = cli(capsys, "measure", d / "thighs-90.jpg", "--reference", d / "thighs-base.jpg",
                       "--region", polygon, "--floors", out_file, "--json")
    result = json.loads(out)
    assert result["noise_source"]["redness_a_star"] == "clinic"
    assert result["region_noise_source"]["marked"]["redness_a_star"] == "clinic"


@pytest.mark.parametrize("text,says", [
    ("", "the first line must be the header photo,baseline"),
    ("image,before\na.jpg,b.jpg\n", "not image,before"),
    ("photo,baseline\n", "no pairs after the header"),
    ("photo,baseline\nphotos/again-1.jpg\n", "line 2: expected 2 fields"),
    ("photo,baseline\nphotos/again-1.jpg,photos/base-1.jpg,extra\n", "line 2: expected 2 fields"),
    ("photo,baseline\nphotos/again-1.jpg,\n", "line 2: a photo and a baseline are needed"),
    ("photo,baseline,area,region\nphotos/again-1.jpg,photos/base-1.jpg,scalp,\"1,1 9,1 9,9\"\n",
     "line 2: the scalp measures cannot be calibrated yet"),
    ("photo,baseline,area,region\nphotos/again-1.jpg,photos/base-1.jpg,neck,\n", "unknown area 'neck'"),
    ("photo,baseline,area,region\nphotos/again-1.jpg,photos/base-1.jpg,,\"1,1 9\"\n", "line 2: region: "),
    ("photo,baseline\nphotos/again-1.jpg,photos/base-1.jpg\nphotos/none.jpg,photos/base-1.jpg\n",
     "line 3: photo "),
    ("photo,baseline\nphotos/again-1.jpg,photos/base-1.jpg\nphotos/again-1.jpg,photos/base-1.jpg\n",
     "line 3: the same pair as line 2"),
    ("photo,baseline\nphotos/base-1.jpg,photos/../photos/base-1.jpg\n", "line 2: the photo and the baseline are the "
                                                                        "same file"),
])
def test_bad_pairs_files_give_one_line(capsys, pairs, text, says):
    d, _ = pairs
    csv_path = d / "bad.csv"
    csv_path.write_text(text)
    code, out, err = cli(capsys, "calibrate", csv_path, "--out", d / "bad-floors.json")
    assert code == 1 and out == "" and not (d / "bad-floors.json").exists()
    assert err.startswith(f"error: pairs {csv_path}") and says in err and err.count("\n") == 1


def test_missing_pairs_file_and_bad_floors_file(capsys, pairs, tmp_path):
    d, _ = pairs
    code, _, err = cli(capsys, "calibrate", tmp_path / "none.csv", "--out", tmp_path / "f.json")
    assert code == 1 and "No such file" in err and err.count("\n") == 1
    (tmp_path / "broken.json").write_text('{"format": "skin-analysis-floors"')
    photo, baseline = d / "photos" / "again-1.jpg", d / "photos" / "base-1.jpg"
    code, out, err = cli(capsys, "measure", photo, "--reference", baseline, "--floors", tmp_path / "broken.json",
                         "--json")
    assert code == 1 and json.loads(out)["error"]["code"] == "bad_floors"
    assert err.startswith(f"error: floors {tmp_path / 'broken.json'}: not JSON") and err.count("\n") == 1
    code, out, err = cli(capsys, "measure", photo, "--reference", baseline, "--floors", tmp_path / "no.json")
    assert code == 1 and "No such file" in err
    with pytest.raises(SystemExit):
        main(["measure", str(photo), "--floors", str(tmp_path / "no.json")])  # floors without a baseline
    with pytest.raises(SystemExit):
        main(["calibrate", str(d / "pairs.csv"), "--out", str(tmp_path / "f.json"), "--min-pairs", "2"])


def test_floors_are_written_whole_or_not_at_all(capsys, pairs, tmp_path):
    d, _ = pairs
    (tmp_path / "floors.json").mkdir()  # os.replace cannot put a file over a folder
    code, _, err = cli(capsys, "calibrate", d / "pairs.csv", "--out", tmp_path / "floors.json", "--min-pairs", "3")
    assert code == 1 and err.startswith(f"error: floors {tmp_path / 'floors.json'}: cannot write it")
    assert [p.name for p in tmp_path.iterdir()] == ["floors.json"]
