"""Several app instances on one database: nothing correct depends on one process's memory.

Two real app processes (``streamlit run app.py``) on one PostgreSQL database and one photo store see each
other's writes, driven in Debian's Chromium: a client added through one is found through the other, and a
photo saved through one is shown, analysed, through the other. The first admin's setup token printed by one
process is accepted by another.
"""

from __future__ import annotations

import pathlib
import re

import pytest
import streamlit as st

from browser import CHROMIUM, app_server, browser_page, choose, settle, sign_in
from conftest import GROUP_BACKEND, Backend, apply_environment
from test_app import PASSWORD, app, errors
from tracker import access, records
from tracker.db import init_data_folder
from tracker_helpers import ACTOR, SAMPLES, client_with_course

needs_chromium = pytest.mark.skipif(not pathlib.Path(CHROMIUM).exists(),
                                    reason="Debian's chromium is not installed (.ci/run installs it)")


def shared_records(tmp_path: pathlib.Path, monkeypatch, postgres_server, s3_server) -> tuple[pathlib.Path, ...]:
    """Two data folders, one per instance (as on two machines: each keeps only its own cache of derived
    images), and the environment, set here too, that points both at one PostgreSQL database and one S3 bucket."""
    env = Backend(GROUP_BACKEND, postgres_server, s3_server).environment()
    apply_environment(monkeypatch, env)
    return tmp_path / "first", tmp_path / "second", {k: v for k, v in env.items() if v is not None}


def choose_client(page, label: str) -> None:
    choose(page, "Work with", label)
    page.get_by_role("button", name="Open this client").click()
    page.get_by_role("tab", name="Screening").wait_for(timeout=60_000)
    settle(page)


@needs_chromium
def test_two_app_instances_on_one_database_and_store_see_each_other_s_writes(tmp_path, monkeypatch,
                                                                             postgres_server, s3_server):
    root, other_root, env = shared_records(tmp_path, monkeypatch, postgres_server, s3_server)
    db = init_data_folder(root)
    assert db.engine.dialect.name == "postgresql" and type(db.store).__name__ == "S3Store"
    with db.session() as s:
        access.add_user(s, ACTOR, "lee", PASSWORD, "practitioner", "Dr Lee")
        s.commit()
    pia = client_with_course(db, "Pia Photo", sessions=1, marketing=False, with_photos=False)
    photo = SAMPLES / "session-1-front.jpg"
    with app_server(root, env) as first, app_server(other_root, env) as second, browser_page() as a:
        b = a.context.browser.new_page(viewport=a.viewport_size)  # a second browser session of its own
        assert first != second
        sign_in(a, first, "lee", PASSWORD)
        sign_in(b, second, "lee", PASSWORD)
        # A client added through the first instance ...
        a.get_by_text("Add a client").click()
        a.get_by_role("textbox", name="Name", exact=True).fill("Wren Written")
        dob = a.get_by_test_id("stForm").get_by_test_id("stDateInput").locator("input")
        settle(a)
        for _ in range(3):  # headless Chromium may drop keystrokes while it redraws the form
            dob.click()
            dob.press("Control+a")
            dob.press("Backspace")
            dob.press_sequentially("1990-05-17", delay=30)
            dob.press("Tab")
            if dob.input_value() == "1990/05/17":
                break
        a.get_by_role("button", name="Add client").click()
        a.get_by_text("added. Their access code").wait_for(timeout=60_000)
        # ... is found through the second.
        settle(b)
        search = b.get_by_role("textbox", name="Find a client by name")
        search.fill("Wren")
        search.press("Enter")
        settle(b)
        with db.session() as s:
            [wren] = records.client_overview(s, ACTOR, "Wren Written")
        choose(b, "Work with", f"Wren Written (#{wren.id})")  # fails unless the second instance lists her
        search.fill("Pia")
        search.press("Enter")
        settle(b)
        # A photo saved (and analysed) through the second instance ...
        choose_client(b, f"Pia Photo (#{pia['client']})")
        b.get_by_role("link", name="Session & photos").click()
        settle(b)
        b.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(photo))
        b.get_by_role("button", name="Save 1 photo(s) to the session").click(timeout=120_000)
        b.get_by_text("Saved and analysed 1 photo(s).").wait_for(timeout=120_000)
        # ... is shown, from the shared store, and analysed, through the first.
        settle(a)
        a.get_by_role("link", name="Clients").click()
        settle(a)
        choose_client(a, f"Pia Photo (#{pia['client']})")
        a.get_by_role("link", name="Session & photos").click()
        a.get_by_text("session-1-front.jpg, view front - baseline of this view").wait_for(timeout=60_000)
        a.get_by_text("Analysis: analysed").wait_for(timeout=60_000)
        image = a.locator("[data-testid='stImage'] img").first
        image.wait_for(timeout=60_000)
        a.wait_for_function("img => img.complete && img.naturalWidth > 100", arg=image.element_handle(),
                            timeout=60_000)
    db.close()


def test_a_setup_token_printed_by_one_instance_is_accepted_by_another(tmp_path, monkeypatch, capsys,
                                                                       postgres_server, s3_server):
    root, other_root, _ = shared_records(tmp_path, monkeypatch, postgres_server, s3_server)
    first = app(root, monkeypatch)
    first.run()
    token = re.search(r"Setup token for the first admin account of .*:\s+(\S+)", capsys.readouterr().err).group(1)
    st.cache_resource.clear()  # what a second process starts with: nothing in memory
    second = app(other_root, monkeypatch)
    second.run()
    other = re.search(r"Setup token for the first admin account of .*:\s+(\S+)", capsys.readouterr().err).group(1)
    assert other != token  # each process prints its own ...
    second.text_input(key="first_username").input("admin")
    second.text_input(key="first_password").input(PASSWORD)
    second.text_input(key="first_again").input(PASSWORD)
    second.checkbox(key="first_sample").uncheck()
    second.text_input(key="setup_token").input(token)  # ... and accepts the other's
    second.button[0].click().run()
    assert not second.exception and not errors(second)
    assert second.session_state.viewer.role == "admin"
    with init_data_folder(root).session() as s:
        assert not access.setup_token_valid(s, other)  # every token is spent once the first admin exists
