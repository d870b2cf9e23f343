"""The app's forms through Streamlit's AppTest (issue 17): a form starts empty for the next record, a
correction's reason belongs to that correction only, and the photo correction preselects nothing."""

from __future__ import annotations

import pathlib
from datetime import date, timedelta

import pytest
from streamlit.testing.v1 import AppTest

from browser import CHROMIUM, app_server, browser_page, choose, settle, sign_in
from tracker import access, records
from tracker.db import init_data_folder
from tracker.errors import RecordError
from tracker_helpers import ACTOR, client_with_course, with_practitioner

APP = str(pathlib.Path(__file__).resolve().parents[1] / "app.py")
PASSWORD = "a long enough secret"


@pytest.fixture(scope="module")
def clinic(tmp_path_factory):
    """A data folder with a practitioner; each test adds the clients it needs."""
    root = tmp_path_factory.mktemp("clinic") / "data"
    db = with_practitioner(root)
    yield {"root": root, "db": db}
    db.close()


def staff_on(clinic, monkeypatch, client_id: int, page: str) -> AppTest:
    """The app signed in as the practitioner, on ``page`` for ``client_id``."""
    monkeypatch.setenv("TRACKER_DATA_DIR", str(clinic["root"]))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.text_input(key="username").input("lee")
    at.text_input(key="password").input(PASSWORD)
    at.button[0].click().run()
    at.session_state.client_id = client_id
    return at.switch_page(page).run()


def messages(elements) -> list[str]:
    return [e.value for e in elements]


SESSION_DETAILS = {"products": "HA complex | B77 | 2027-06-30 | 3", "anaesthetic": "EMLA 5 %",
                   "session_notes": "first pass", "reactions": "mild redness", "aftercare": "SPF 50 for a week"}


def test_a_recorded_session_leaves_the_form_empty_for_the_next(clinic, monkeypatch):
    """Issue 17.4: session 1's reactions, anaesthetic, aftercare and products were saved into sessions 2-4."""
    ids = client_with_course(clinic["db"], "Nell Next", sessions=0, with_photos=False)
    at = staff_on(clinic, monkeypatch, ids["client"], "app_pages/session.py")
    at.date_input(key="held_on").set_value(date(2026, 1, 12))
    at.text_input(key="practitioner").input("Dr Stand-in")
    at.multiselect(key="session_areas").set_value(["face", "neck"])
    for key, value in SESSION_DETAILS.items():
        (at.text_area if key in ("products", "session_notes") else at.text_input)(key=key).input(value)
    at.button(key="FormSubmitter:new_session-Record session").click().run()
    assert "Session 1 recorded on 2026-01-12. Photos below go to this session." in messages(at.success)
    # The form opens as new: nothing of session 1 is offered for session 2.
    for key in SESSION_DETAILS:
        assert (at.text_area if key in ("products", "session_notes") else at.text_input)(key=key).value == ""
    assert at.text_input(key="practitioner").value == "Dr Lee"
    assert at.multiselect(key="session_areas").value == ["face"]
    assert at.date_input(key="held_on").value == date.today()
    at.date_input(key="held_on").set_value(date(2026, 2, 9))
    at.button(key="FormSubmitter:new_session-Record session").click().run()
    assert "Session 2 recorded on 2026-02-09. Photos below go to this session." in messages(at.success)
    with clinic["db"].session() as s:
        first, second = records.get_course(s, ACTOR, ids["course"]).sessions
        assert (first.immediate_reactions, first.anaesthetic, first.practitioner) == (
            "mild redness", "EMLA 5 %", "Dr Stand-in")
        assert (second.immediate_reactions, second.anaesthetic, second.aftercare, second.notes) == ("", "", "", "")
        assert second.products == [] and second.practitioner == "Dr Lee" and second.areas == ["face"]


def test_a_correction_reason_is_not_offered_for_the_next_correction(clinic, monkeypatch):
    """Issue 17.11: the reason typed for one correction stayed in its field and went with the next one."""
    ids = client_with_course(clinic["db"], "Rhea Reason", sessions=1, with_photos=False)
    session_id = ids["sessions"][0]
    at = staff_on(clinic, monkeypatch, ids["client"], "app_pages/session.py")
    at.text_area(key=f"amend_notes_{session_id}").input("left cheek first")
    at.text_input(key=f"amend_reason_{session_id}").input("notes were incomplete")
    at.button(key=f"FormSubmitter:amend_session_{session_id}-Save correction").click().run()
    assert "Session 1 corrected." in messages(at.success)
    assert at.text_input(key=f"amend_reason_{session_id}").value == ""
    at.text_area(key=f"amend_notes_{session_id}").input("left cheek first, then right")
    at.button(key=f"FormSubmitter:amend_session_{session_id}-Save correction").click().run()
    assert "a correction needs a reason" in messages(at.error)
    # Nor is a confirmation: a date out of order is confirmed for one correction only.
    at.date_input(key=f"amend_held_on_{session_id}").set_value(date.today() + timedelta(days=1))
    at.text_input(key=f"amend_reason_{session_id}").input("booked ahead")
    at.checkbox(key=f"amend_confirm_{session_id}").check()
    at.button(key=f"FormSubmitter:amend_session_{session_id}-Save correction").click().run()
    assert "Session 1 corrected." in messages(at.success)
    assert at.checkbox(key=f"amend_confirm_{session_id}").value is False
    at.date_input(key=f"amend_held_on_{session_id}").set_value(date.today() + timedelta(days=2))
    at.text_input(key=f"amend_reason_{session_id}").input("moved again")
    at.button(key=f"FormSubmitter:amend_session_{session_id}-Save correction").click().run()
    assert any("is in the future" in w for w in messages(at.error)), messages(at.error)
    # On the client record too: the details, and a course's status.
    at.switch_page("app_pages/record.py").run()
    at.text_input(key="edit_contact").input("rhea@example.org")
    at.text_input(key="edit_reason").input("new address")
    at.button(key="FormSubmitter:edit_client-Save details").click().run()
    assert at.text_input(key="edit_reason").value == ""
    at.selectbox(key=f"status_{ids['course']}").set_value("stopped")
    at.text_input(key=f"status_reason_{ids['course']}").input("client travelling")
    at.button(key=f"FormSubmitter:course_status_{ids['course']}-Set status").click().run()
    assert f"Course #{ids['course']} is now stopped." in messages(at.success)
    assert at.text_input(key=f"status_reason_{ids['course']}").value == ""
    with clinic["db"].session() as s:
        reasons = [v.reason for v in records.history(s, ACTOR, ids["client"])]
    assert sorted(reasons) == sorted(["notes were incomplete", "booked ahead", "new address", "client travelling"])


def test_a_photo_correction_preselects_nothing_and_shows_only_its_fields(clinic, monkeypatch):
    """Issue 17.12: the popover preselected "make it the baseline" and "another client's photo" (which deletes
    the original at once) and showed every action's fields at once."""
    ids = client_with_course(clinic["db"], "Petra Photo", sessions=1)
    photo_id = ids["photos"][0]
    at = staff_on(clinic, monkeypatch, ids["client"], "app_pages/session.py")
    action = at.radio(key=f"photo_action_{photo_id}")
    assert action.value is None
    keys = {w.key for w in [*at.selectbox, *at.text_input, *at.button]}
    assert not {f"photo_removal_{photo_id}", f"photo_to_session_{photo_id}", f"photo_to_view_{photo_id}",
                f"photo_why_{photo_id}", f"FormSubmitter:photo_{photo_id}-Apply"} & keys  # nothing to apply yet
    action.set_value("move").run()
    keys = {w.key for w in [*at.selectbox, *at.text_input]}
    assert {f"photo_to_session_{photo_id}", f"photo_to_view_{photo_id}"} <= keys
    assert f"photo_removal_{photo_id}" not in keys
    at.radio(key=f"photo_action_{photo_id}").set_value("remove").run()
    assert at.selectbox(key=f"photo_removal_{photo_id}").value is None
    assert f"photo_to_view_{photo_id}" not in {w.key for w in at.text_input}
    at.text_input(key=f"photo_why_{photo_id}").input("wrong folder")
    at.button(key=f"FormSubmitter:photo_{photo_id}-Apply").click().run()
    assert "Choose why the photo is removed." in messages(at.error)
    with clinic["db"].session() as s:
        assert [p.id for p in records.get_session(s, ACTOR, ids["sessions"][0]).photos] == [photo_id]
    at.selectbox(key=f"photo_removal_{photo_id}").set_value("wrong_client").run()
    assert any("deleted at once" in w.value for w in at.warning)  # said before Apply, not after
    at.button(key=f"FormSubmitter:photo_{photo_id}-Apply").click().run()
    assert f"Photo {photo_id} removed (another client's photo)." in messages(at.success)
    with clinic["db"].session() as s:
        assert records.get_session(s, ACTOR, ids["sessions"][0]).photos == []


def test_a_session_correction_covers_every_field_of_the_session(clinic, monkeypatch):
    """Issue 17.10: the session correction lacked reactions, anaesthetic, aftercare, areas and practitioner."""
    ids = client_with_course(clinic["db"], "Sia Session", sessions=1, with_photos=False)
    session_id = ids["sessions"][0]
    at = staff_on(clinic, monkeypatch, ids["client"], "app_pages/session.py")
    typed = {"practitioner": "Dr Second", "anaesthetic": "none", "reactions": "pinpoint bleeding",
             "aftercare": "no make-up for 12 h"}
    for field, value in typed.items():
        at.text_input(key=f"amend_{field}_{session_id}").input(value)
    at.multiselect(key=f"amend_areas_{session_id}").set_value(["face", "neck"])
    at.text_input(key=f"amend_reason_{session_id}").input("filled in after the session")
    at.button(key=f"FormSubmitter:amend_session_{session_id}-Save correction").click().run()
    assert "Session 1 corrected." in messages(at.success) and not at.error
    with clinic["db"].session() as s:
        fixed = records.get_session(s, ACTOR, session_id)
        assert (fixed.practitioner, fixed.anaesthetic, fixed.immediate_reactions, fixed.aftercare, fixed.areas) == (
            "Dr Second", "none", "pinpoint bleeding", "no make-up for 12 h", ["face", "neck"])
        previous = records.history(s, ACTOR, ids["client"])[0].previous
    assert previous == {"practitioner": "Dr Test", "anaesthetic": "", "immediate_reactions": "", "aftercare": "",
                        "areas": ["face"]}
    at.text_input(key=f"amend_practitioner_{session_id}").input(" ")
    at.text_input(key=f"amend_reason_{session_id}").input("unknown")
    at.button(key=f"FormSubmitter:amend_session_{session_id}-Save correction").click().run()
    assert "a session needs its practitioner" in messages(at.error)


def test_a_screening_correction_covers_the_patch_test_and_notes(clinic, monkeypatch):
    """Issue 17.10: the screening correction lacked the patch test and the notes, and the list never showed
    the patch test."""
    ids = client_with_course(clinic["db"], "Tess Test", sessions=0, with_photos=False)  # patch test negative
    at = staff_on(clinic, monkeypatch, ids["client"], "app_pages/record.py")
    assert any("patch test negative on 2026-01-05" in x.value for x in at.text)
    at.date_input(key="fix_patch_on").set_value(date(2026, 1, 6))
    at.selectbox(key="fix_patch_result").set_value("positive")
    at.text_area(key="fix_screening_notes").input("erythema at 48 h")
    at.text_input(key="fix_screening_reason").input("read at 48 h, not 24")
    at.button(key="FormSubmitter:amend_screening-Save correction").click().run()
    assert "Screening corrected." in messages(at.success)
    assert any("patch test positive on 2026-01-06" in x.value for x in at.text)
    with clinic["db"].session() as s:
        (screening,) = records.get_client(s, ACTOR, ids["client"]).screenings
        assert (screening.patch_test_on, screening.patch_test_result, screening.notes) == (
            date(2026, 1, 6), "positive", "erythema at 48 h")
    # A date cleared by Escape comes back empty: the correction is refused, not saved with a result alone.
    at.date_input(key="fix_patch_on").set_value(None)
    at.text_input(key="fix_screening_reason").input("date cleared")
    at.button(key="FormSubmitter:amend_screening-Save correction").click().run()
    assert any("needs both its date and its result" in e for e in messages(at.error))
    at.selectbox(key="patch_result").set_value("negative")
    at.button(key="FormSubmitter:screening-Record screening").click().run()
    assert any("needs both its date and its result" in e for e in messages(at.error))
    with clinic["db"].session() as s:
        (screening,) = records.get_client(s, ACTOR, ids["client"]).screenings
        assert screening.patch_test_on == date(2026, 1, 6)


def test_a_patch_test_is_its_date_and_its_result_together(clinic):
    """Issue 17.10, in the records library: a result without its date, or a date without its result, is refused
    when recorded and when corrected; both or neither is kept."""
    db = clinic["db"]
    with db.session() as s:
        client, _ = records.add_client(s, ACTOR, "Ula Undated", date(1990, 1, 1))
        for tested_on, result, missing in ((None, "negative", "date"), (date(2026, 1, 5), None, "result")):
            with pytest.raises(RecordError, match=f"needs both its date and its result \\(the {missing} is missing"):
                records.record_screening(s, ACTOR, client.id, date(2026, 1, 5), patch_test_on=tested_on,
                                         patch_test_result=result)
        untested = records.record_screening(s, ACTOR, client.id, date(2026, 1, 5))
        tested = records.record_screening(s, ACTOR, client.id, date(2026, 1, 6), patch_test_on=date(2026, 1, 6),
                                          patch_test_result="negative")
        with pytest.raises(RecordError, match="the date is missing"):
            records.amend_screening(s, ACTOR, untested.id, "added", patch_test_result="negative")
        with pytest.raises(RecordError, match="the date is missing"):
            records.amend_screening(s, ACTOR, tested.id, "cleared", patch_test_on=None)
        with pytest.raises(RecordError, match="the result is missing"):
            records.amend_screening(s, ACTOR, tested.id, "cleared", patch_test_result=None)
        assert records.amend_screening(s, ACTOR, tested.id, "no test was done", patch_test_on=None,
                                       patch_test_result=None) == ["patch_test_on", "patch_test_result"]
        assert records.amend_screening(s, ACTOR, untested.id, "added", patch_test_on=date(2026, 1, 5),
                                       patch_test_result="positive") == ["patch_test_on", "patch_test_result"]


@pytest.mark.skipif(not pathlib.Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")
def test_in_chromium_the_next_session_form_is_empty_and_saves_nothing_of_the_last(tmp_path):
    """Issue 17.4 in a real browser: a widget keeps the browser's copy of its value unless the app sets it
    before drawing it; the browser must neither show nor send session 1's reactions for session 2."""
    db = init_data_folder(tmp_path / "data")
    with db.session() as s:
        access.add_user(s, ACTOR, "lee", PASSWORD, "practitioner", "Dr Lee")
        s.commit()
    ids = client_with_course(db, "Bo Browser", sessions=0, marketing=False, with_photos=False)
    with app_server(tmp_path / "data") as url, browser_page() as page:
        sign_in(page, url, "lee", PASSWORD)
        choose(page, "Work with", f"Bo Browser (#{ids['client']})")
        page.get_by_role("button", name="Open this client").click()
        page.get_by_role("tab", name="Screening").wait_for(timeout=60_000)
        settle(page)
        page.get_by_role("link", name="Session & photos").click()
        settle(page)
        form = page.get_by_test_id("stForm").first
        day = form.get_by_test_id("stDateInput").locator("input")
        for _ in range(3):  # headless Chromium may drop keystrokes while the page redraws
            day.click()
            day.press("Control+a")
            day.press("Backspace")
            day.press_sequentially("2026-01-12", delay=30)
            day.press("Tab")
            if day.input_value() == "2026/01/12":
                break
        form.get_by_role("textbox", name="Immediate reactions").fill("mild redness")
        form.get_by_role("textbox", name="Anaesthetic").fill("EMLA 5 %")
        page.get_by_role("button", name="Record session").click()
        page.get_by_text("Session 1 recorded on 2026-01-12").wait_for(timeout=60_000)
        settle(page)
        if not page.get_by_role("button", name="Record session").is_visible():
            page.get_by_text("Record a new session").click()  # the expander closes once a session exists
            settle(page)
        assert form.get_by_role("textbox", name="Immediate reactions").input_value() == ""
        assert form.get_by_role("textbox", name="Anaesthetic").input_value() == ""
        page.get_by_role("button", name="Record session").click()
        page.get_by_text("Session 2 recorded on").wait_for(timeout=60_000)
    with db.session() as s:
        first, second = records.get_course(s, ACTOR, ids["course"]).sessions
        assert (first.immediate_reactions, first.anaesthetic) == ("mild redness", "EMLA 5 %")
        assert (second.immediate_reactions, second.anaesthetic) == ("", "")
    db.close()

