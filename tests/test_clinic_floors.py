"""A clinic's own noise floors (issue 15.3, 15.6): set by an admin, used by its analyses, and its detection limits
shown where the numbers are."""

from __future__ import annotations

import json
import pathlib

import pytest
from streamlit.testing.v1 import AppTest

import analysis
from analysis.calibration import Floor, Floors
from tracker import access, calibration, clinics, photos, records
from tracker.cli import main
from tracker.db import init_data_folder
from tracker.errors import NotAllowed, NotFound, RecordError
from tracker.models import Photo
from tracker_helpers import ACTOR, client_with_course

pytestmark = pytest.mark.backends

APP = str(pathlib.Path(__file__).resolve().parents[1] / "app.py")
PASSWORD = "a long enough secret"
#: The clinic's own floor of the whole face's redness: far below the shipped 1.511 a*, as a good studio's is.
OWN = Floor("clinic", "overall", "redness_a_star", 0.7, 24, 0.958, analysis.__version__, "test pairs")


def own_floors() -> bytes:
    return Floors((OWN,), (), {"engine_version": analysis.__version__, "source": "24 re-framed repeat shots",
                               "date": "2026-12-08"}).to_json().encode()


def test_a_limit_is_the_clinic_s_floor_where_it_has_one_else_the_shipped_one():
    own = Floors.from_json(own_floors().decode())
    red, bright, texture = (calibration.limit(own, m) for m in ("redness_a_star", "brightness_l_star",
                                                               "texture_roughness"))
    assert (red.value, red.source, red.n, red.loo_coverage) == (0.7, "clinic", 24, 0.958)
    assert red.sentence() == ("redness: changes smaller than 0.70 a* cannot be told from noise here (this clinic's "
                              "floor, from 24 no-change pairs, leave-one-out coverage 96 %)")
    assert red.sentence(plain=True) == ("changes in redness smaller than 0.7 cannot be told apart from the ordinary "
                                        "differences between two photos")
    shipped = analysis.shipped_floors().get("clinic", "overall", "brightness_l_star").value
    assert (bright.value, bright.source) == (shipped, "shipped")
    assert (texture.value, texture.source) == (None, None) and "no change is claimed" in texture.sentence()


def test_an_admin_sets_the_floors_and_the_clinic_s_analyses_use_them(db):
    ids = client_with_course(db, sessions=2)
    with db.session() as s:
        photos.analyse_pending(s, db.store, ACTOR)
        clinic = clinics.list_clinics(s, ACTOR)[0].id
        access.add_user(s, ACTOR, "lee", PASSWORD, "practitioner")
        lee = access.sign_in_staff(s, "lee", PASSWORD)
        with pytest.raises(NotAllowed, match="admin"):
            calibration.set_floors(s, lee, clinic, own_floors())
        with pytest.raises(RecordError, match="not a floors file"):
            calibration.set_floors(s, ACTOR, clinic, b'{"format": "something else"}')
        assert calibration.set_floors(s, ACTOR, clinic, own_floors()) == 2  # both analyses run again
        s.commit()
        assert len(photos.analyse_pending(s, db.store, ACTOR)) == 2
        result = photos.latest_analysis(s.get(Photo, ids["photos"][1])).result
        assert result["noise_source"]["redness_a_star"] == "clinic" and result["noise"]["redness_a_star"] >= 0.7
        assert result["noise_source"]["brightness_l_star"] == "shipped"
        client = records.get_client(s, ACTOR, ids["client"])
        (limit,) = calibration.detection_limits(s, ACTOR, client, ["redness_a_star"])
        with pytest.raises(NotFound):  # another client's sign-in
            calibration.detection_limits(s, access.Viewer("client", "client", client_id=client.id + 1), client,
                                         ["redness_a_star"])
        assert (limit.value, limit.source) == (0.7, "clinic")


def test_the_command_line_sets_and_shows_the_floors(db, tmp_path, capsys):
    client_with_course(db, sessions=1, with_photos=False)
    path = tmp_path / "floors.json"
    path.write_bytes(own_floors())
    argv = ["--data", str(db.folder.root), "--actor", "dr.cli", "floors"]
    assert main([*argv, "set", str(path)]) == 0
    assert "floors set for Main clinic" in capsys.readouterr().out
    assert main([*argv, "show"]) == 0
    shown = capsys.readouterr().out.splitlines()
    assert any(line.startswith("overall") and "0.70 a*" in line and "this clinic's floor" in line for line in shown)
    path.write_text(json.dumps({"format": "skin-analysis-floors", "format_version": 1}))
    assert main([*argv, "set", str(path)]) == 2
    assert "not a floors file" in capsys.readouterr().err


@pytest.mark.only_default_backend  # the app on the embedded defaults
def test_the_quality_page_and_progress_say_what_this_clinic_can_see(tmp_path, monkeypatch):
    root = tmp_path / "data"
    db = init_data_folder(root)
    ids = client_with_course(db, sessions=2)
    with db.session() as s:
        access.add_user(s, ACTOR, "lee", PASSWORD, "practitioner")
        calibration.set_floors(s, ACTOR, clinics.list_clinics(s, ACTOR)[0].id, own_floors())
        s.commit()
        photos.analyse_pending(s, db.store, ACTOR)
    monkeypatch.setenv("TRACKER_DATA_DIR", str(root))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.text_input(key="username").input("lee")
    at.text_input(key="password").input(PASSWORD)
    at.button[0].click().run()
    at.switch_page("app_pages/quality.py").run()
    assert not at.exception
    assert any("own floors are in use" in m.value and "framed repeat shots" in m.value for m in at.success)
    table = at.dataframe[0].value
    whole_red = table[(table.Region == "Whole face") & (table.Measure == "Redness (a*)")].iloc[0]
    assert (whole_red["Detection limit"], whole_red["From"], whole_red["Pairs"]) == ("0.70", "this clinic", "24")
    at.session_state.client_id = ids["client"]
    at.switch_page("app_pages/progress.py").run()
    assert not at.exception
    assert any(c.value.startswith("Detection limits: redness 0.70 a* (this clinic's floor, from 24 no-change pairs")
               for c in at.caption), \
        [c.value for c in at.caption] + [m.value for m in at.markdown] + [w.value for w in at.warning]
    db.close()
