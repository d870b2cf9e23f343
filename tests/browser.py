"""A real app server and a real headless browser, for end-to-end tests and the README's screenshots.

Playwright drives Debian's Chromium (``/usr/bin/chromium``), launched
headless with the flags this closed network needs; Playwright's own browser
download is never used.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import socket
import subprocess
import sys
import time
import urllib.request

from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright

ROOT = pathlib.Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync", "--disable-quic"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def app_server(data_dir: pathlib.Path, env: dict | None = None):
    """``streamlit run app.py`` on a free loopback port (with ``env`` added to its environment); yields its URL."""
    port = free_port()
    env = {**os.environ, "TRACKER_DATA_DIR": str(data_dir), **(env or {})}
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless",
                             "true", "--server.address", "127.0.0.1", "--server.port", str(port),
                             "--browser.gatherUsageStats", "false"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.read() == b"ok":
                        break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the app server did not start") from None
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@contextlib.contextmanager
def browser_page():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            yield page
        finally:
            browser.close()


def sign_in(page, url: str, username: str, password: str) -> None:
    page.goto(url)
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Clients").wait_for(timeout=60_000)


def open_client(page, text: str) -> None:
    """Find a client by name on the Clients page and open their record."""
    page.get_by_role("link", name="Clients").click()
    settle(page)
    box = page.get_by_role("textbox", name="Find a client by name")
    box.fill(text)
    box.press("Enter")
    settle(page)
    page.get_by_role("button", name="Open this client").click()
    page.get_by_role("tab", name="Screening").wait_for(timeout=60_000)
    settle(page)


def open_progress(page) -> None:
    """From the Clients page: open the selected client, then their progress."""
    page.get_by_role("button", name="Open this client").click()
    page.get_by_role("tab", name="Screening").wait_for(timeout=60_000)
    page.get_by_role("link", name="Progress").click()
    page.get_by_text("Across the course").wait_for(timeout=120_000)


def choose(page, box: str, option: str, attempts: int = 3) -> None:
    """Pick ``option`` in the selectbox named ``box``, then wait for the app's rerun.

    A rerun that lands while the list is open redraws the selectbox and closes the list under the click
    (Playwright then reports the option "detached from the DOM" until it times out), so the list is opened
    again, up to ``attempts`` times."""
    for attempt in range(attempts):
        settle(page)
        page.get_by_role("combobox", name=box).click()
        try:
            page.get_by_role("option", name=option).click(timeout=10_000)
            break
        except PlaywrightTimeout:
            if attempt == attempts - 1:
                raise
            page.keyboard.press("Escape")
    settle(page)


def settle(page, timeout: int = 180_000) -> None:
    """Wait until the app has finished running the script (the "Running..." indicator is gone), so that an
    action does not land on an element a rerun is about to replace."""
    page.wait_for_timeout(300)
    page.locator("[data-testid='stStatusWidgetRunningIcon'], [data-testid='stStatusWidgetRunningManIcon']") \
        .first.wait_for(state="detached", timeout=timeout)


def upload_body_area_photo(page, area_name: str, photo: pathlib.Path, timeout: int = 60_000):
    """On the session page: choose a named body area, upload its photo, and return the drawing canvas."""
    settle(page)
    choose(page, "View", "body area")
    area = page.get_by_role("textbox", name="Body area name, e.g. neck, left hand, scalp")
    area.fill(area_name)
    area.press("Enter")
    settle(page)
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(photo))
    canvas = page.locator("canvas.upper-canvas").first
    canvas.wait_for(timeout=timeout)
    return canvas
