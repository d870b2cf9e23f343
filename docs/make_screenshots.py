"""Screenshots of the app's main pages for the README, taken in headless Chromium.

    python docs/make_screenshots.py

Starts the app on a temporary data folder with a practitioner account and the
simulated sample courses (face, hair loss, cellulite), and saves PNGs beside
this file; then again with ``TRACKER_ANALYSIS=worker``, for a course whose
photos wait for the analysis workers.
"""

import pathlib
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parent / "tests")]

from browser import app_server, browser_page, open_client, settle, sign_in, upload_body_area_photo  # noqa: E402
from analysis import decode, locate_face  # noqa: E402
from PIL import Image  # noqa: E402
from tracker import access, records  # noqa: E402
from tracker.db import init_data_folder  # noqa: E402
from tracker.samples import load_sample_course  # noqa: E402
from tracker_helpers import client_with_course  # noqa: E402

SAMPLES = HERE.parent / "sample_images"


def body_area_photo(folder: pathlib.Path) -> pathlib.Path:
    """A cheek-and-jaw crop of the sample portrait: no whole face, so it is filed as a named body area."""
    head = locate_face(decode((SAMPLES / "session-1-front.jpg").read_bytes()))
    cx, cy = (int(round(v)) for v in head.face.xy[50])
    path = folder / "left-cheek.jpg"
    Image.fromarray(head.rgb[cy - 150:cy + 450, cx - 350:cx + 250]).save(path, quality=92)
    return path


def record_pages(page, folder: pathlib.Path) -> None:
    """The client record with its history, and the session page: capture checks and a region drawn."""
    open_client(page, "Sample client (simulated)")
    page.wait_for_timeout(1000)
    page.screenshot(path=HERE / "record.png")
    page.get_by_role("tab", name="History (1)").click()
    page.wait_for_timeout(1000)
    page.screenshot(path=HERE / "record-history.png")
    page.get_by_role("link", name="Session & photos").click()
    page.get_by_text("Photos for").wait_for(timeout=60_000)
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(SAMPLES / "session-4-front.jpg"))
    page.get_by_text("face found").wait_for(timeout=120_000)
    page.wait_for_timeout(2000)
    page.get_by_text("comparable with the baseline").first.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    page.screenshot(path=HERE / "session.png")
    page.get_by_test_id("stFileChipDeleteBtn").first.click()
    page.get_by_text("face found").wait_for(state="detached", timeout=60_000)
    canvas = upload_body_area_photo(page, "left cheek", body_area_photo(folder), timeout=180_000)
    page.wait_for_timeout(1000)
    scale = canvas.bounding_box()["width"] / 600
    corners = [(310, 260), (420, 280), (410, 450), (320, 440)]
    for x, y in [*corners, corners[0]]:
        canvas.click(position={"x": x * scale, "y": y * scale})
        page.wait_for_timeout(200)
    page.get_by_text("region marked").wait_for(timeout=60_000)
    page.wait_for_timeout(1000)
    canvas.scroll_into_view_if_needed()
    page.screenshot(path=HERE / "session-region.png")


def body_course_pages(page) -> None:
    """The cellulite session (views checklist, Hexsel form) and the hair-loss and cellulite progress."""
    page.set_viewport_size({"width": 1400, "height": 2600})
    open_client(page, "cellulite")
    page.get_by_role("link", name="Session & photos").click()
    page.get_by_text("Hexsel cellulite severity, session").wait_for(timeout=120_000)
    settle(page)
    page.wait_for_timeout(2500)
    page.screenshot(path=HERE / "session-cellulite.png", full_page=True)
    for text, name in (("hair loss", "progress-hair-loss.png"), ("cellulite", "progress-cellulite.png")):
        open_client(page, text)
        page.get_by_role("link", name="Progress").click()
        page.get_by_text("Across the course").wait_for(timeout=120_000)
        settle(page)
        page.wait_for_timeout(3000)
        page.screenshot(path=HERE / name, full_page=True)


def queued_pages(data: pathlib.Path) -> None:
    """With analysis workers configured: a course whose photos are queued, on the Session and Progress pages."""
    with app_server(data, {"TRACKER_ANALYSIS": "worker"}) as url, browser_page() as page:
        page.set_viewport_size({"width": 1400, "height": 1700})  # down to the session's photos and their status
        sign_in(page, url, "lee", "a long enough secret")
        open_client(page, "Quinn Queued")
        page.get_by_role("link", name="Session & photos").click()
        page.get_by_text("queued for analysis").first.wait_for(timeout=120_000)
        settle(page)
        page.screenshot(path=HERE / "session-queued.png", full_page=True)
        page.get_by_role("link", name="Progress").click()
        page.get_by_text("queued for analysis").first.wait_for(timeout=120_000)
        settle(page)
        page.screenshot(path=HERE / "progress-queued.png", full_page=True)


def main() -> None:
    data = pathlib.Path(tempfile.mkdtemp()) / "data"
    db = init_data_folder(data)
    with db.session() as s:
        access.add_user(s, access.owner("docs"), "lee", "a long enough secret", "practitioner", "Dr Lee")
        s.commit()
    client_id = load_sample_course(db, access.owner("docs"))
    client_with_course(db, "Zoe Example", sessions=2, with_photos=False)  # a course due for its next session
    client_with_course(db, "Quinn Queued", sessions=2)  # photos saved, not analysed: queued for the workers
    with db.session() as s:
        records.update_client(s, "docs", client_id, "new e-mail address", contact="ada@example.org")
        s.commit()
    db.close()
    with app_server(data) as url, browser_page() as page:
        page.goto(url)
        page.get_by_role("button", name="Sign in").wait_for()
        page.screenshot(path=HERE / "signin.png")
        sign_in(page, url, "lee", "a long enough secret")
        page.get_by_role("button", name="Open this client").wait_for(timeout=60_000)
        settle(page)
        page.locator("[data-testid='stDataFrame'] canvas").first.wait_for(timeout=60_000)  # tables drawn
        page.wait_for_timeout(2000)
        page.screenshot(path=HERE / "clients.png")
        open_client(page, "Sample client (simulated)")
        page.get_by_role("link", name="Progress").click()
        page.get_by_text("Across the course").wait_for(timeout=120_000)
        page.wait_for_timeout(3000)
        page.screenshot(path=HERE / "progress.png", full_page=True)
        page.get_by_role("tab", name="Where it changed").click()
        page.wait_for_timeout(2000)
        page.screenshot(path=HERE / "progress-heatmaps.png")
        page.get_by_role("link", name="Gallery & reports").click()
        page.get_by_text("Download PNG").first.wait_for(timeout=60_000)
        page.wait_for_timeout(2000)
        page.screenshot(path=HERE / "gallery.png")
        page.get_by_text("crop to the lower face").click()
        page.get_by_text("cropped to the region marked").wait_for(timeout=60_000)
        settle(page)
        page.get_by_text("midline_part").first.scroll_into_view_if_needed()
        page.wait_for_timeout(2000)
        page.screenshot(path=HERE / "gallery-deidentified.png")
        record_pages(page, data.parent)
        body_course_pages(page)
    queued_pages(data)


if __name__ == "__main__":
    main()
