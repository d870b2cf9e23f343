"""Screenshots of the app's main pages for the README, taken in headless Chromium.

    python docs/make_screenshots.py

Starts the app on a temporary data folder with a practitioner account and the
simulated sample course, and saves PNGs beside this file.
"""

import pathlib
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parent / "tests")]

from browser import app_server, browser_page, open_progress, sign_in  # noqa: E402
from tracker import access  # noqa: E402
from tracker.db import init_data_folder  # noqa: E402
from tracker.samples import load_sample_course  # noqa: E402


def main() -> None:
    data = pathlib.Path(tempfile.mkdtemp()) / "data"
    db = init_data_folder(data)
    with db.session() as s:
        access.add_user(s, access.owner("docs"), "lee", "a long enough secret", "practitioner", "Dr Lee")
        s.commit()
    load_sample_course(db, "docs")
    db.close()
    with app_server(data) as url, browser_page() as page:
        page.goto(url)
        page.get_by_role("button", name="Sign in").wait_for()
        page.screenshot(path=HERE / "signin.png")
        sign_in(page, url, "lee", "a long enough secret")
        page.locator("[data-testid='stDataFrame']").first.wait_for(timeout=60_000)
        page.wait_for_timeout(2000)
        page.screenshot(path=HERE / "clients.png")
        open_progress(page)
        page.wait_for_timeout(3000)
        page.screenshot(path=HERE / "progress.png", full_page=True)
        page.get_by_role("tab", name="Where it changed").click()
        page.wait_for_timeout(2000)
        page.screenshot(path=HERE / "progress-heatmaps.png")
        page.get_by_role("link", name="Session & photos").click()
        page.get_by_text("Photos for").wait_for(timeout=60_000)
        page.wait_for_timeout(1000)
        page.screenshot(path=HERE / "session.png")
        page.get_by_role("link", name="Gallery & reports").click()
        page.get_by_text("Download PNG").first.wait_for(timeout=60_000)
        page.wait_for_timeout(2000)
        page.screenshot(path=HERE / "gallery.png")


if __name__ == "__main__":
    main()
