"""The command line: its JSON contract, its readable report and every error code."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from skimage import data

from analysis.cli import main
from analysis.simulate import Recapture
from conftest import encode, png_header_only

CONTRACT_METRICS = {"redness_a_star", "erythema_index", "red_area_pct", "brightness_l_star", "ita_deg",
                    "evenness_l_std", "texture_roughness"}


@pytest.fixture(scope="module")
def files(tmp_path_factory, astronaut):
    d = tmp_path_factory.mktemp("photos")
    paths = {}

    def write(name, payload):
        paths[name] = d / name
        paths[name].write_bytes(payload)

    write("baseline.jpg", encode(astronaut, "JPEG", quality=95))
    shifted = Recapture(rotation_deg=4.0, shift_px=(12.0, -8.0), exposure=0.85, jpeg_quality=95)
    write("session.jpg", encode(shifted.apply(astronaut), "JPEG", quality=95))
    # The baseline stored sideways with an EXIF tag saying so, as phones do.
    exif = Image.Exif()
    exif[0x0112] = 8  # "rotate 90 CCW to view"
    write("sideways.jpg", encode(np.ascontiguousarray(np.rot90(astronaut, k=-1)), "JPEG", quality=95,
                                 exif=exif.tobytes()))
    write("notes.txt", b"client notes, not a photo\n")
    write("empty.jpg", b"")
    full = encode(astronaut, "JPEG", quality=95)
    write("truncated.jpg", full[: len(full) // 3])
    write("anim.gif", encode(astronaut, "GIF"))
    write("coffee.png", encode(data.coffee(), "PNG"))
    write("two.png", encode(np.hstack([astronaut, astronaut]), "PNG"))
    write("bomb.png", png_header_only(40_000, 40_000))
    paths["shifted"] = shifted
    return paths


def run(capsys, *argv):
    code = main(["measure", *map(str, argv)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_json_contract(capsys, files, astronaut_face):
    code, out, err = run(capsys, files["baseline.jpg"], "--json")
    assert code == 0 and err == ""
    r = json.loads(out)
    assert r["image"]["width"] == 512 and r["image"]["height"] == 512
    face = r["face"]
    assert len(face["landmarks"]) == 478 and all(len(p) == 2 for p in face["landmarks"])
    assert {"inter_ocular_px", "yaw_deg", "pitch_deg", "roll_deg"} <= set(face)
    assert set(r["quality"]) >= {"usable", "warnings"} and isinstance(r["quality"]["warnings"], list)
    assert CONTRACT_METRICS <= set(r["metrics"])
    assert set(r["regions"]) >= {"forehead", "left_cheek", "right_cheek", "chin"}
    assert CONTRACT_METRICS <= set(r["regions"]["chin"])
    assert "alignment" not in r and "change" not in r


def test_json_with_reference(capsys, files, astronaut):
    code, out, _ = run(capsys, files["session.jpg"], "--reference", files["baseline.jpg"], "--json")
    assert code == 0
    r = json.loads(out)
    a = r["alignment"]
    assert {"matrix", "residual_iod_pct", "comparable", "reasons"} <= set(a)
    assert np.asarray(a["matrix"]).shape == (2, 3)
    # The matrix maps session pixels onto baseline pixels: the inverse of the simulated move.
    truth = np.linalg.inv(np.vstack([files["shifted"].matrix(astronaut.shape[:2]), [0, 0, 1]]))[:2]
    corners = np.array([[180.0, 80.0], [270.0, 80.0], [225.0, 180.0]])
    mapped = corners @ np.asarray(a["matrix"])[:, :2].T + np.asarray(a["matrix"])[:, 2]
    assert np.abs(mapped - (corners @ truth[:, :2].T + truth[:, 2])).max() < 1.0
    assert CONTRACT_METRICS <= set(r["change"])
    assert abs(r["change"]["redness_a_star"]) < 0.3


def test_landmarks_are_in_the_upright_photo(capsys, files, astronaut_face):
    code, out, _ = run(capsys, files["sideways.jpg"], "--json")
    r = json.loads(out)
    assert code == 0 and (r["image"]["width"], r["image"]["height"]) == (512, 512)
    assert np.abs(np.asarray(r["face"]["landmarks"]) - astronaut_face.face.xy).mean() < 1.5


def test_readable_report(capsys, files):
    code, out, _ = run(capsys, files["session.jpg"], "--reference", files["baseline.jpg"])
    assert code == 0
    assert "comparable: yes" in out and "redness_a_star" in out and "noise 95%" in out


@pytest.mark.parametrize("name,code", [
    ("notes.txt", "not_an_image"), ("empty.jpg", "unreadable"), ("truncated.jpg", "unreadable"),
    ("anim.gif", "unsupported"), ("bomb.png", "too_large"), ("coffee.png", "no_face"),
    ("two.png", "multiple_faces"), ("missing.jpg", "unreadable"),
])
def test_error_codes(capsys, files, tmp_path, name, code):
    path = files.get(name, tmp_path / name)
    status, out, err = run(capsys, path, "--json")
    assert status != 0
    assert json.loads(out) == {"error": {"code": code, "message": json.loads(out)["error"]["message"]}}
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(path) in lines[0]


def test_baseline_errors_name_the_baseline(capsys, files):
    status, out, err = run(capsys, files["baseline.jpg"], "--reference", files["coffee.png"], "--json")
    assert status != 0 and json.loads(out)["error"]["code"] == "no_face"
    assert err.startswith("error: baseline ")


def test_region_mode_and_bad_region(capsys, files):
    status, out, _ = run(capsys, files["coffee.png"], "--region", "150,120 450,110 470,330 160,350", "--json")
    assert status == 0 and json.loads(out)["face"] is None
    with pytest.raises(SystemExit):
        main(["measure", str(files["coffee.png"]), "--region", "1,2 3"])


def test_process_output_is_only_ours(files):
    """Run as a real process: MediaPipe's C++ logging must not reach stderr."""
    ok = subprocess.run([sys.executable, "-m", "analysis", "measure", str(files["baseline.jpg"]), "--json"],
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and ok.stderr == ""
    json.loads(ok.stdout)
    bad = subprocess.run([sys.executable, "-m", "analysis", "measure", str(files["coffee.png"])],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and bad.stderr.startswith("error: ") and bad.stderr.count("\n") == 1
