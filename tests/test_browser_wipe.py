"""The before/after wipe in a real browser: dragged on the photo, with no message to the server per step."""

from __future__ import annotations

import pathlib

import pytest

from browser import CHROMIUM, app_server, browser_page, open_progress, sign_in
from tracker import access
from tracker.db import init_data_folder
from tracker.samples import load_sample_course
from tracker_helpers import ACTOR

pytestmark = pytest.mark.skipif(not pathlib.Path(CHROMIUM).exists(),
                                reason="Debian's chromium is not installed (.ci/run installs it)")


def test_the_wipe_is_dragged_in_the_browser(tmp_path):
    db = init_data_folder(tmp_path / "data")
    with db.session() as s:
        access.add_user(s, "lee", "a long enough secret", "practitioner", "Dr Lee")
        s.commit()
    load_sample_course(db, ACTOR)
    db.close()
    with app_server(tmp_path / "data") as url, browser_page() as page:
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
