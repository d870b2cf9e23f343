"""Progress and the gallery in the app (AppTest, real data folder): a pair that is not comparable shows its
reason and no number, to staff and to the client; charts by date with units; the gallery paginates."""

from __future__ import annotations

import json
import pathlib
import re
from datetime import date

import pyarrow as pa
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from analysis.metrics import REGISTRY
from analysis.reasons import CODES
from presentation_helpers import DIFFERENT_PERSON, course_with_a_different_person, figures
from app_pages import common
from app_pages.ui import plain
from tracker import access, photos, progress, records
from tracker.models import Photo
from tracker.db import init_data_folder
from tracker_helpers import ACTOR, client_with_course

APP = str(pathlib.Path(__file__).resolve().parents[1] / "app.py")
PASSWORD = "a long enough secret"
SHOWN = [m.name for m in progress.SUMMARY]


@pytest.fixture(scope="module")
def clinic(tmp_path_factory):
    root = tmp_path_factory.mktemp("clinic") / "data"
    db = init_data_folder(root)
    with db.session() as s:
        access.add_user(s, access.owner("test"), "lee", PASSWORD, "practitioner", "Dr Lee")
        s.commit()
    course = course_with_a_different_person(db)
    with db.session() as s:
        code = records.reset_access_code(s, ACTOR, course["client"])
        s.commit()
    yield {**course, "root": root, "db": db, "code": code}
    db.close()


def app(root, monkeypatch) -> AppTest:
    monkeypatch.setenv("TRACKER_DATA_DIR", str(root))
    return AppTest.from_file(APP, default_timeout=120)


def as_staff(clinic, monkeypatch) -> AppTest:
    at = app(clinic["root"], monkeypatch)
    at.run()
    at.text_input(key="username").input("lee")
    at.text_input(key="password").input(PASSWORD)
    at.button[0].click().run()
    at.session_state.client_id = clinic["client"]
    return at.switch_page("app_pages/progress.py").run()


def as_client(clinic, monkeypatch) -> AppTest:
    at = app(clinic["root"], monkeypatch)
    at.run()
    at.text_input(key="access_code").input(clinic["code"])
    at.button[1].click().run()
    assert at.title[0].value == "Your progress", [e.value for e in at.error] + [b.label for b in at.button]
    return at


def shown_text(at: AppTest) -> str:
    """Everything the page says in words and tables (images aside)."""
    parts = [e.value for kind in ("markdown", "caption", "warning", "info", "success", "error") for e in at.get(kind)]
    parts += [df.value.to_csv() for df in at.dataframe]
    return "\n".join(str(p) for p in parts)


def charts(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]


def test_a_non_comparable_session_shows_its_reason_and_no_number(clinic, monkeypatch):
    at = as_staff(clinic, monkeypatch)
    assert not at.exception
    assert at.select_slider(key="progress_session").value == 2  # opens on the latest comparable session
    assert any("redness down" in m.value and "±" in m.value for m in at.markdown)
    at.select_slider(key="progress_session").set_value(3).run()
    assert not at.exception
    text = shown_text(at)
    warning = " ".join(w.value for w in at.warning)
    assert "not comparable" in warning and DIFFERENT_PERSON["message"] in warning
    assert not any(f in text for f in figures(clinic["hidden"], SHOWN))
    assert not any("since" in m.value for m in at.markdown)  # no summary line for this session
    assert not at.dataframe and any("No region is comparable" in i.value for i in at.info)  # no region table
    # The charts draw only the comparable session, by date, in the metric's unit.
    specs = charts(at)
    assert len(specs) == 3  # texture has no noise floor calibrated on real photos: a note, not a chart
    redness = next(s for s in specs if s["title"] == "Redness (a*)")
    layers = json.dumps(redness)
    assert "session date" in layers and "change in a*" in layers
    assert not any(f in layers for f in figures(clinic["hidden"], ["redness_a_star"]))
    assert any("Session 3 left out" in c.value for c in at.caption)


def loaded_photos(monkeypatch) -> list[str]:
    """The hashes of the photos the pages load from the store, in order (none served from a cache)."""
    st.cache_data.clear()
    loaded = []
    real = common.photo_pixels
    monkeypatch.setattr(common, "photo_pixels", lambda sha: loaded.append(sha) or real(sha))
    return loaded


def test_staff_see_a_photo_judged_someone_else_flagged_as_taken_with_its_removal(clinic, monkeypatch):
    """Issue 16.1: not aligned, not "lighting matched", with a one-click removal and the way to its session."""
    loaded = loaded_photos(monkeypatch)
    at = as_staff(clinic, monkeypatch)  # opens on session 2, and points at the flagged session 3
    assert any(w.value.startswith("Session 3") and "Choose that session" in w.value for w in at.warning)
    at.select_slider(key="progress_session").set_value(3).run()
    assert not at.exception
    with clinic["db"].session() as s:
        flagged = s.get(Photo, clinic["photos"][2]).sha256
    assert flagged in loaded
    assert not at.tabs  # no aligned side by side, wipe or heat map of another person
    assert any("is not shown this photo" in c.value for c in at.caption)
    assert at.button(key=f"remove_flagged_{clinic['photos'][2]}").label == "Remove it: another client's photo"
    assert at.button(key=f"open_flagged_{clinic['photos'][2]}")


def test_a_photo_judged_someone_else_never_reaches_the_client(clinic, monkeypatch):
    """Issue 16.1: it was shown full size beside the baseline, "aligned, lighting matched"."""
    loaded = loaded_photos(monkeypatch)
    at = as_client(clinic, monkeypatch)
    assert not at.exception
    slider = at.select_slider(key="progress_session")
    assert slider.value == 2 and list(slider.options) == ["2"]  # session 3 is not offered
    with clinic["db"].session() as s:
        shas = [s.get(Photo, p).sha256 for p in clinic["photos"]]
    assert loaded and shas[2] not in loaded and set(loaded) <= {shas[0], shas[1]}
    text = shown_text(at)
    assert "Session 3" in text and "your clinic is checking this session's photo" in text
    assert CODES["different_person"].plain not in text and DIFFERENT_PERSON["message"] not in text
    assert not any("remove_flagged" in str(b.key) for b in at.button)


def test_the_region_table_has_readable_names_and_every_column(clinic, monkeypatch):
    at = as_staff(clinic, monkeypatch)  # session 2: comparable
    table = at.dataframe[0].value
    assert list(table.columns) == ["Forehead", "Left cheek", "Right cheek", "Chin", "Around the eyes"]
    assert list(table.index) == [f"{m.label} ({m.unit})" for m in REGISTRY.values() if m.area is None]  # skin metrics
    # Each cell is a change with its bound (* beyond noise), or says why there is none.
    figure = re.compile(r"^[+\u2212]\d+\.\d\d ± \d+\.\d\d( \*)?$")
    assert all(figure.match(cell) or cell in ("not measured", "not comparable") for cell in table.to_numpy().ravel())


def test_the_noise_zone_is_drawn_around_zero(clinic, monkeypatch):
    at = as_staff(clinic, monkeypatch)
    chart = next(c for c in at.get("vega_lite_chart") if json.loads(c.proto.spec)["title"] == "Brightness (L*)")
    frames = [pa.ipc.open_stream(d.data.data).read_all().to_pandas() for d in chart.proto.datasets]
    zone = next(f for f in frames if "low" in f.columns)
    assert len(zone) == 1 and (zone.low == -zone.bound).all() and (zone.bound > 0).all()  # session 2 only
    # a change outside the zone is beyond noise, one inside it within (here L* +1: within the real-photo noise)
    assert ((zone.change.abs() > zone.bound) == (zone.verdict == "beyond noise")).all()


def test_the_gallery_shows_a_page_of_comparable_pairs(clinic, monkeypatch):
    db = clinic["db"]
    extra = [client_with_course(db, f"Client {i}", sessions=2) for i in range(6)]
    with db.session() as s:
        photos.analyse_pending(s, db.store, ACTOR)
    at = as_staff(clinic, monkeypatch).switch_page("app_pages/gallery.py").run()
    assert not at.exception
    labels = [c.label for c in at.checkbox]
    assert len(labels) == 6 and at.number_input(key="gallery_page").max == 2
    ours = next(label for label in labels if f"course #{clinic['course']}," in label)
    assert "session 2" in ours and "session 3" not in ours  # the latest comparable, not the different person
    at.checkbox(key=f"pair_{clinic['course']}_front").uncheck().run()
    at.number_input(key="gallery_page").set_value(2).run()
    assert [c.label for c in at.checkbox] and not at.exception
    assert len(extra) + 1 == 7 and at.button(key="build_pdf").label == "Build a PDF report of 6 pair(s)"  # one unticked
    at.button(key="build_pdf").click().run()
    assert at.session_state.report_pdf.startswith(b"%PDF")
    # Issue 16.12: a client who withdraws marketing consent takes the report with their name away at once.
    assert at.get("download_button")
    with db.session() as s:
        records.withdraw_consent(s, ACTOR, extra[0]["client"], "marketing", date.today())
        s.commit()
    at.run()
    assert not at.exception and "report_pdf" not in at.session_state
    assert not [b for b in at.get("download_button") if "PDF report" in str(b.proto.label)]
    assert any("no longer available" in i.value for i in at.info)


def test_the_flagged_photo_is_removed_in_one_click(tmp_path, monkeypatch):
    root = tmp_path / "data"
    db = init_data_folder(root)
    with db.session() as s:
        access.add_user(s, access.owner("test"), "lee", PASSWORD, "practitioner", "Dr Lee")
        s.commit()
    name = "![x](http://evil.example/x.png) [Ada](http://evil.example)\u202e\n\n**Diagnosis**"
    course = course_with_a_different_person(db, name=name)
    at = as_staff({**course, "root": root}, monkeypatch)
    assert at.title[0].value == plain(name)  # issue 16.8: the client's name was rendered as markdown
    assert not re.findall(r"(?<!\\)[][!()*<>]", at.title[0].value) and "\u202e" not in at.title[0].value
    at.select_slider(key="progress_session").set_value(3).run()
    at.button(key=f"remove_flagged_{course['photos'][2]}").click().run()
    assert not at.exception
    assert any("was removed from this client's record" in m.value for m in at.success)
    with db.session() as s:
        assert s.get(Photo, course["photos"][2]) is None
        assert [r.session for r in progress.course_progress(s, ACTOR, records.get_course(s, ACTOR, course["course"]))] \
            == [1, 2]
    db.close()
