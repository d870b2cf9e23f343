"""The Streamlit app through Streamlit's AppTest: sign-in, role checks, a session with uploads,
the progress page and a gallery export, on a real data folder."""

from __future__ import annotations

import pathlib
import re
from datetime import date

import numpy as np
import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from analysis import decode, locate_face
from analysis.simulate import Recapture
from conftest import encode
from tracker import access, records
from tracker.db import init_data_folder
from tracker.models import Photo
from tracker.samples import load_sample_course
from tracker_helpers import ACTOR, client_with_course, sample_bytes

APP = str(pathlib.Path(__file__).resolve().parents[1] / "app.py")
PASSWORD = "a long enough secret"


@pytest.fixture(scope="module")
def clinic(tmp_path_factory):
    """A data folder with a practitioner, the sample course and a second client."""
    root = tmp_path_factory.mktemp("clinic") / "data"
    db = init_data_folder(root)
    with db.session() as s:
        access.add_user(s, "lee", PASSWORD, "practitioner", "Dr Lee")
        s.commit()
    sample = load_sample_course(db, ACTOR)
    other = client_with_course(db, "Olga Other", sessions=2)
    with db.session() as s:
        code = records.reset_access_code(s, ACTOR, sample)
        s.commit()
    yield {"root": root, "db": db, "sample": sample, "other": other, "sample_code": code}
    db.close()


def app(root, monkeypatch) -> AppTest:
    monkeypatch.setenv("TRACKER_DATA_DIR", str(root))
    return AppTest.from_file(APP, default_timeout=120)


def sign_in_staff(at: AppTest, password: str = PASSWORD) -> AppTest:
    at.run()
    at.text_input(key="username").input("lee")
    at.text_input(key="password").input(password)
    return at.button[0].click().run()


def shown(markdown: str) -> str:
    """Markdown as the reader sees it: backslash escapes (user text is escaped) removed."""
    return re.sub(r"\\(.)", r"\1", markdown)


def errors(at: AppTest) -> list[str]:
    return [shown(e.value) for e in at.error]


def test_first_run_creates_the_admin(tmp_path, monkeypatch):
    at = app(tmp_path / "fresh", monkeypatch)
    at.run()
    assert at.subheader[0].value.startswith("First run")
    at.text_input(key="first_username").input("admin")
    at.text_input(key="first_name").input("Dr Admin")
    at.text_input(key="first_password").input(PASSWORD)
    at.text_input(key="first_again").input(PASSWORD)
    at.checkbox(key="first_sample").uncheck()
    at.button[0].click().run()
    assert not at.exception and at.session_state.viewer.role == "admin"
    assert at.title[0].value == "Clients"


def test_staff_sign_in(clinic, monkeypatch):
    at = sign_in_staff(app(clinic["root"], monkeypatch), "wrong password")
    assert "Unknown username or wrong password." in errors(at) and "viewer" not in at.session_state
    at = sign_in_staff(app(clinic["root"], monkeypatch))
    assert not at.exception and at.session_state.viewer.role == "practitioner"
    assert at.title[0].value == "Clients"


def test_nothing_is_reachable_signed_out(clinic, monkeypatch):
    at = app(clinic["root"], monkeypatch)
    at.run()
    at.switch_page("app_pages/progress.py").run()
    assert at.title[0].value == "Skin progress tracker"  # only the sign-in page exists


def test_a_client_sees_only_their_own_progress(clinic, monkeypatch):
    at = app(clinic["root"], monkeypatch)
    at.run()
    at.text_input(key="access_code").input("999-AAAA-AAAA")
    at.button[1].click().run()
    assert any("not valid" in e for e in errors(at))
    at.text_input(key="access_code").input(clinic["sample_code"])
    at.button[1].click().run()
    assert at.session_state.viewer.client_id == clinic["sample"]
    assert at.title[0].value == "Your progress" and not at.exception
    # Staff pages are not there for a client, by URL or otherwise.
    at.switch_page("app_pages/clients.py").run()
    assert at.title[0].value == "Your progress"
    # Whatever the session state says, a client sees their own record only.
    at.session_state.client_id = clinic["other"]["client"]
    at.run()
    with clinic["db"].session() as s:
        own = {c.id for c in records.get_client(s, clinic["sample"]).courses}
    choice = at.selectbox(key="progress_course")
    assert choice.value in own and len(choice.options) == len(own)
    assert clinic["other"]["course"] not in own


def test_session_workflow_with_an_upload(clinic, monkeypatch):
    db = clinic["db"]
    client_id = client_with_course(db, "Nina New", sessions=0, marketing=False, with_photos=False)["client"]
    at = sign_in_staff(app(clinic["root"], monkeypatch))
    at.session_state.client_id = client_id
    at.switch_page("app_pages/session.py").run()
    at.date_input(key="held_on").set_value(date(2026, 1, 12))
    at.text_area(key="products").input("HA complex | B77 | 2027-06-30 | 3")
    at.button(key="FormSubmitter:new_session-Record session").click().run()
    assert not errors(at) and not at.exception
    # A clear confirmation, and the new session is the one photos go to.
    assert [s.value for s in at.success] == ["Session 1 recorded on 2026-01-12. Photos below go to this session."]
    with db.session() as s:
        new_id = records.get_client(s, client_id).courses[0].sessions[0].id
    assert at.selectbox(key="photo_session").value == new_id
    at.file_uploader(key="uploads_0").set_value([("front.jpg", sample_bytes(1), "image/jpeg"),
                                                 ("scan.jpg", b"%PDF-1.7 not a photo", "image/jpeg")])
    at.run()
    assert any("scan.jpg" in e and "not an image" in e for e in errors(at))  # next to the bad file, no traceback
    assert any(s.value.startswith("face found") for s in at.success)
    assert any(s.value.startswith("view recognised: front") for s in at.success)
    at.button(key="save_photos").click().run()
    assert any("Saved and analysed 1 photo" in s.value for s in at.success)
    assert at.file_uploader(key="uploads_1").value in (None, [])  # an empty uploader for the next photos
    assert any("Photo " in t.value and "front.jpg, view front - baseline" in t.value for t in at.text)
    with db.session() as s:
        saved = s.scalars(select(Photo).join(Photo.session)).all()
        assert any(p.original_name == "front.jpg" and p.analyses for p in saved)


def test_progress_page(clinic, monkeypatch):
    at = sign_in_staff(app(clinic["root"], monkeypatch))
    at.session_state.client_id = clinic["sample"]
    at.switch_page("app_pages/progress.py").run()
    assert not at.exception and not errors(at)
    assert any("redness down" in m.value and "beyond measurement noise" in m.value for m in at.markdown)
    assert len(at.get("vega_lite_chart")) >= 4 and len(at.get("image")) >= 4
    assert len(at.dataframe) == 1
    at.slider(key="wipe").set_value(20).run()
    assert not at.exception


def test_gallery_export_leaves_out_withdrawn_marketing_consent(clinic, monkeypatch):
    db = clinic["db"]
    other = clinic["other"]["client"]
    at = sign_in_staff(app(clinic["root"], monkeypatch))
    at.switch_page("app_pages/gallery.py").run()
    labels = [c.label for c in at.checkbox]
    assert any(f"Client #{other}," in label for label in labels)
    with db.session() as s:
        records.withdraw_consent(s, ACTOR, other, "marketing", date.today())
        s.commit()
    at.run()
    labels = [c.label for c in at.checkbox]
    assert labels and not any(f"Client #{other}," in label for label in labels)
    assert any(f"Client #{clinic['sample']}," in label for label in labels)
    at.radio(key="deidentify").set_value("mask_eyes")
    at.text_input(key="watermark").input("Clinic demo")
    at.button(key="build_pdf").click().run()
    assert not at.exception and at.session_state.report_pdf.startswith(b"%PDF")


def fabric_polygon(points, left=None, top=None, stroke=2):
    """A closed polygon as Fabric.js (and so streamlit-drawable-canvas) reports it: scene points, and an object
    placed at their bounding box, stroke included."""
    xs, ys = [x for x, _ in points], [y for _, y in points]
    return {"objects": [{"type": "Polygon", "originX": "left", "originY": "top",
                         "left": min(xs) - stroke / 2 if left is None else left,
                         "top": min(ys) - stroke / 2 if top is None else top,
                         "width": max(xs) - min(xs) + stroke, "height": max(ys) - min(ys) + stroke,
                         "scaleX": 1, "scaleY": 1, "angle": 0, "points": [{"x": x, "y": y} for x, y in points]}]}


def test_a_polygon_drawn_on_the_canvas_is_converted_to_the_photos_pixels():
    from app_pages.ui import canvas_polygon

    drawn = fabric_polygon([(100, 50), (300, 60), (250, 200)])
    # A 640 x 480 canvas showing a 3200 x 2400 photo: five photo pixels per canvas pixel.
    assert canvas_polygon(drawn, (640, 480), (3200, 2400)) == [[500, 250], [1500, 300], [1250, 1000]]
    moved = fabric_polygon([(100, 50), (300, 60), (250, 200)], left=109, top=49)  # dragged 10 px right
    assert canvas_polygon(moved, (640, 480), (640, 480))[0] == [110, 50]
    assert canvas_polygon({"objects": [{"type": "path"}]}, (640, 480), (640, 480)) is None
    assert canvas_polygon(None, (640, 480), (640, 480)) is None


def test_a_body_area_photo_with_its_region(clinic, monkeypatch):
    """No face: the practitioner names the area and draws the region; alignment is by image features."""
    db = clinic["db"]
    body = client_with_course(db, "Bo Body", sessions=2, marketing=False, with_photos=False)
    client_id, sessions = body["client"], body["sessions"]
    head = locate_face(decode(sample_bytes(1)))
    cx, cy = np.round(head.face.xy[50]).astype(int)
    scene = np.ascontiguousarray(head.rgb[cy - 150:cy + 450, cx - 350:cx + 250])  # cheek and jaw: no face found
    shots = [encode(scene, "JPEG", quality=92), encode(Recapture(rotation_deg=3.0).apply(scene), "JPEG", quality=92)]
    at = sign_in_staff(app(clinic["root"], monkeypatch))
    at.session_state.client_id = client_id
    at.switch_page("app_pages/session.py").run()
    # The canvas is 640 px wide for this 600 px photo: 640/600 canvas pixels per photo pixel.
    canvas = [(x * 640 / 600, y * 640 / 600) for x, y in [(310, 260), (420, 280), (410, 450), (320, 440)]]
    for generation, (session_id, shot) in enumerate(zip(sessions, shots)):
        at.selectbox(key="photo_session").set_value(session_id).run()
        at.selectbox(key="view_choice").set_value("body area").run()
        at.text_input(key="body_area").input("left cheek").run()
        at.file_uploader(key=f"uploads_{generation}").set_value(("area.jpg", shot, "image/jpeg")).run()
        assert any(x.value.startswith("no region marked") for x in at.warning)
        drawn = {"drawing": {"raw": fabric_polygon(canvas), "data": None}}
        at.session_state[f"region_canvas_{generation}"] = drawn  # what the canvas sends once the polygon is closed
        at.run()
        assert any(x.value == "region marked: 4 points" for x in at.success), errors(at)
        at.session_state[f"region_canvas_{generation}"] = drawn  # AppTest does not keep a custom component's value
        at.button(key="save_photos").click().run()
        assert any("Saved and analysed 1 photo" in x.value for x in at.success), errors(at)
    with db.session() as s:
        first = s.scalar(select(Photo).where(Photo.session_id == sessions[0]))
        later = s.scalar(select(Photo).where(Photo.session_id == sessions[1]))
        result = later.analyses[-1].result
    assert np.allclose(first.region, [[310, 260], [420, 280], [410, 450], [320, 440]], atol=0.1)
    assert later.view == "left cheek" and result["alignment"]["method"] == "features"
    assert abs(result["change"]["redness_a_star"]) < 0.3
