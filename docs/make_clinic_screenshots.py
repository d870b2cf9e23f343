"""Screenshots of a group of two clinics, taken in headless Chromium.

    python docs/make_clinic_screenshots.py

Starts the app on a temporary data folder with two clinics (Main clinic and
North, a client in each), a practitioner of each and a group admin, and saves
beside this file: the admin's Staff accounts page with its Clinics tab
(``clinics-staff.png``) and a practitioner's client list, which shows only
their clinic (``clinics-clients.png``).
"""

import pathlib
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parent / "tests")]

from browser import app_server, browser_page, sign_in  # noqa: E402
from tracker import access, clinics  # noqa: E402
from tracker.db import init_data_folder  # noqa: E402
from tracker_helpers import client_with_course  # noqa: E402

PASSWORD = "a long enough secret"


def group_folder(root: pathlib.Path) -> None:
    db = init_data_folder(root)
    owner = access.owner("setup")
    with db.session() as s:
        main_clinic = clinics.list_clinics(s, owner)[0].id
        north = clinics.add_clinic(s, owner, "North").id
        access.add_user(s, owner, "gia", PASSWORD, "admin", "Gia Group", ["Main clinic"])
        access.add_user(s, owner, "ann", PASSWORD, "practitioner", "Dr Ann", ["Main clinic"])
        access.add_user(s, owner, "bob", PASSWORD, "practitioner", "Dr Bob", ["North"])
        s.commit()
    client_with_course(db, "Ada Main", sessions=1, with_photos=False, clinic_id=main_clinic)
    client_with_course(db, "Nia North", sessions=1, with_photos=False, clinic_id=north)
    db.close()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(tmp) / "data"
        group_folder(root)
        with app_server(root) as url, browser_page() as page:
            sign_in(page, url, "gia", PASSWORD)
            page.get_by_role("link", name="Staff accounts").click()
            page.get_by_role("tab", name="Clinics").click()
            page.get_by_text("Save the clinics").wait_for(timeout=60_000)
            page.wait_for_timeout(1500)
            page.screenshot(path=HERE / "clinics-staff.png")
        with app_server(root) as url, browser_page() as page:
            sign_in(page, url, "bob", PASSWORD)
            page.get_by_text("Find a client by name").wait_for(timeout=60_000)
            page.wait_for_timeout(1500)
            page.screenshot(path=HERE / "clinics-clients.png")


if __name__ == "__main__":
    main()
