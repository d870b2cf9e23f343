"""End to end in a real headless browser: sign in, open a progress page, see a chart and an image."""

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


def test_sign_in_and_see_progress(tmp_path):
    db = init_data_folder(tmp_path / "data")
    with db.session() as s:
        access.add_user(s, access.owner("test"), "lee", "a long enough secret", "practitioner", "Dr Lee")
        s.commit()
    load_sample_course(db, ACTOR)
    db.close()
    with app_server(tmp_path / "data") as url, browser_page() as page:
        sign_in(page, url, "lee", "a long enough secret")
        open_progress(page)
        chart = page.locator("[data-testid='stVegaLiteChart']").first
        chart.wait_for(timeout=60_000)
        assert chart.locator("canvas, svg").count() > 0
        image = page.locator("[data-testid='stImage'] img").first
        image.wait_for(timeout=60_000)
        page.wait_for_function("img => img.complete && img.naturalWidth > 100", arg=image.element_handle(),
                               timeout=60_000)
        assert page.get_by_text("beyond measurement noise").count() > 0
