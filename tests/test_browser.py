"""End to end in a real headless browser: sign in, open a progress page, see a chart and an image; record a
session, upload a photo and draw its region."""

from __future__ import annotations

import pathlib
from datetime import date

import numpy as np
import pytest
from sqlalchemy import select

from analysis import decode, locate_face
from browser import (CHROMIUM, app_server, browser_page, choose, open_progress, settle, sign_in,
                     upload_body_area_photo)
from conftest import encode
from tracker import access, records
from tracker.db import init_data_folder
from tracker.models import Photo
from tracker.samples import load_sample_course
from tracker_helpers import ACTOR, client_with_course, sample_bytes

pytestmark = pytest.mark.skipif(not pathlib.Path(CHROMIUM).exists(),
                                reason="Debian's chromium is not installed (.ci/run installs it)")


def sample_clinic(root: pathlib.Path) -> pathlib.Path:
    """A data folder with the practitioner "lee" and the sample course."""
    db = init_data_folder(root)
    with db.session() as s:
        access.add_user(s, access.owner("test"), "lee", "a long enough secret", "practitioner", "Dr Lee")
        s.commit()
    load_sample_course(db, ACTOR)
    db.close()
    return root


def test_sign_in_and_see_progress(tmp_path):
    with app_server(sample_clinic(tmp_path / "data")) as url, browser_page() as page:
        sign_in(page, url, "lee", "a long enough secret")
        open_progress(page)
        chart = page.locator("[data-testid='stVegaLiteChart']").first
        chart.wait_for(timeout=60_000)
        chart.locator("canvas, svg").first.wait_for(timeout=60_000)  # drawn (Vega renders after the page)
        image = page.locator("[data-testid='stImage'] img").first
        image.wait_for(timeout=60_000)
        page.wait_for_function("img => img.complete && img.naturalWidth > 100", arg=image.element_handle(),
                               timeout=60_000)
        page.get_by_text("beyond measurement noise").first.wait_for(timeout=60_000)


def test_record_a_session_upload_photos_and_draw_a_region(tmp_path):
    """In Chromium: a typed date of birth is kept; a session is recorded and selected for photos; a body-area
    photo is uploaded and its region drawn on the photo, then saved in the photo's pixels."""
    db = init_data_folder(tmp_path / "data")
    with db.session() as s:
        access.add_user(s, access.owner("test"), "lee", "a long enough secret", "practitioner", "Dr Lee")
        s.commit()
    body = client_with_course(db, "Bo Body", sessions=0, marketing=False, with_photos=False)
    head = locate_face(decode(sample_bytes(1)))
    cx, cy = np.round(head.face.xy[50]).astype(int)
    scene = np.ascontiguousarray(head.rgb[cy - 150:cy + 450, cx - 350:cx + 250])  # 600 x 600, no face found
    shot = tmp_path / "left-cheek.jpg"
    shot.write_bytes(encode(scene, "JPEG", quality=92))
    with app_server(tmp_path / "data") as url, browser_page() as page:
        sign_in(page, url, "lee", "a long enough secret")
        # A date of birth typed as the field asks is kept, whatever the century.
        page.get_by_text("Add a client").click()
        page.get_by_role("textbox", name="Name", exact=True).fill("Tia Typed")
        dob = page.get_by_test_id("stForm").get_by_test_id("stDateInput").locator("input")
        settle(page)
        dob.press_sequentially("01/06/1941", delay=30)  # not the field's format: dropped, and the form says so
        dob.press("Tab")
        page.get_by_role("button", name="Add client").click()
        page.get_by_text("Date of birth: enter a date as YYYY/MM/DD").wait_for(timeout=60_000)
        settle(page)  # the rerun replaces the form's widgets: type into the new field, not the old one
        for _ in range(3):  # headless Chromium may drop keystrokes while it redraws the form after the error
            dob.click()
            dob.press("Control+a")
            dob.press("Backspace")
            dob.press_sequentially("1941-06-01", delay=30)  # typed with dashes, the field's mask reads 1941/06/01
            dob.press("Tab")
            if dob.input_value() == "1941/06/01":
                break
        assert dob.input_value() == "1941/06/01"
        page.get_by_role("button", name="Add client").click()
        page.get_by_text("added. Their access code").wait_for(timeout=60_000)
        with db.session() as s:
            assert records.client_overview(s, ACTOR, "Tia Typed")[0].date_of_birth == date(1941, 6, 1)
        # Record a session for Bo Body (each step waits for the app's rerun, which replaces the widgets).
        choose(page, "Work with", f"Bo Body (#{body['client']})")
        page.get_by_role("button", name="Open this client").click()
        page.get_by_role("tab", name="Screening").wait_for(timeout=60_000)
        settle(page)
        page.get_by_role("link", name="Session & photos").click()
        settle(page)
        page.get_by_role("button", name="Record session").click()
        page.get_by_text("Session 1 recorded on").wait_for(timeout=60_000)
        photos_for = page.get_by_test_id("stSelectbox").filter(has_text="Photos for")
        chosen = photos_for.locator("input").input_value() or photos_for.inner_text()
        assert f"Session 1, {date.today():%Y-%m-%d} (0 photos)" in chosen, chosen  # selected for photos
        # A body-area photo, its region drawn on the photo.
        canvas = upload_body_area_photo(page, "left cheek", shot)
        page.get_by_text("no region marked").wait_for(timeout=60_000)
        box = canvas.bounding_box()
        corners = [(310, 260), (420, 280), (410, 450), (320, 440)]  # in the photo's pixels
        scale = box["width"] / 600
        for x, y in [*corners, corners[0]]:  # clicking the first corner again closes the polygon
            canvas.click(position={"x": x * scale, "y": y * scale})
            page.wait_for_timeout(150)
        page.get_by_text("region marked: 4 points").wait_for(timeout=60_000)
        page.get_by_role("button", name="Save 1 photo(s) to the session").click()
        page.get_by_text("Saved and analysed 1 photo(s).").wait_for(timeout=120_000)
    with db.session() as s:
        photo = s.scalar(select(Photo).where(Photo.session_id == records.get_client(s, ACTOR, body["client"])
                                             .courses[0].sessions[0].id))
    db.close()
    assert photo.view == "left cheek"
    assert np.allclose(photo.region, corners, atol=2.5)  # within a canvas pixel or two of where it was clicked


def test_the_wipe_is_dragged_in_the_browser(tmp_path):
    """The before/after wipe: dragged on the photo, with no message to the server per step."""
    with app_server(sample_clinic(tmp_path / "data")) as url, browser_page() as page:
        sent = []
        page.on("websocket", lambda ws: ws.on("framesent", lambda frame: sent.append(frame)))
        sign_in(page, url, "lee", "a long enough secret")
        open_progress(page)
        page.get_by_role("tab", name="Wipe").click()
        wipe = page.frame_locator("iframe").first.locator("#wipe")
        wipe.wait_for(timeout=60_000)
        wipe.scroll_into_view_if_needed()
        box = wipe.bounding_box()
        assert box["height"] <= 600 and box["width"] <= 600  # fits the screen
        assert wipe.get_attribute("aria-valuenow") == "50"
        page.wait_for_timeout(1000)
        before = len(sent)
        assert before > 0  # the page did talk to the server (so a message per step would be seen)
        y = box["y"] + box["height"] / 2
        page.mouse.move(box["x"] + box["width"] * 0.5, y)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.2, y, steps=10)
        page.mouse.up()
        assert 15 <= int(wipe.get_attribute("aria-valuenow")) <= 25
        page.wait_for_timeout(500)
        assert len(sent) == before  # every step was drawn in the browser
