"""The Streamlit app through Streamlit's AppTest: first-run setup, sign-in, sessions that end,
role checks, staff accounts, a session with uploads, the progress page and a gallery export, on a
real data folder."""

from __future__ import annotations

import pathlib
import re
import time
from datetime import date

import numpy as np
import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from analysis import decode, locate_face
from analysis.simulate import Recapture
from conftest import encode
from app_pages.common import plain
from tracker import access, clientdata, photos, records
from tracker.db import init_data_folder
from tracker.models import AuditEvent, Client, Photo
from tracker.samples import load_sample_course
from tracker_helpers import ACTOR, client_with_course, sample_bytes

APP = str(pathlib.Path(__file__).resolve().parents[1] / "app.py")
PASSWORD = "a long enough secret"
OWNER = access.owner(ACTOR)


@pytest.fixture(scope="module")
def clinic(tmp_path_factory):
    """A data folder with a practitioner, the sample course and a second client."""
    root = tmp_path_factory.mktemp("clinic") / "data"
    db = init_data_folder(root)
    with db.session() as s:
        access.add_user(s, OWNER, "lee", PASSWORD, "practitioner", "Dr Lee")
        s.commit()
    sample = load_sample_course(db, ACTOR)
    other = client_with_course(db, "Olga Other", sessions=2)
    with db.session() as s:
        photos.analyse_pending(s, db.store, ACTOR, other["client"])  # a gallery offers analysed, comparable pairs
    with db.session() as s:
        code = records.reset_access_code(s, ACTOR, sample)
        s.commit()
    yield {"root": root, "db": db, "sample": sample, "other": other, "sample_code": code}
    db.close()


def app(root, monkeypatch) -> AppTest:
    monkeypatch.setenv("TRACKER_DATA_DIR", str(root))
    return AppTest.from_file(APP, default_timeout=120)


def sign_in_staff(at: AppTest, password: str = PASSWORD, username: str = "lee") -> AppTest:
    at.run()
    at.text_input(key="username").input(username)
    at.text_input(key="password").input(password)
    return at.button[0].click().run()


def sign_in_client(at: AppTest, code: str) -> AppTest:
    at.run()
    at.text_input(key="access_code").input(code)
    return at.button[1].click().run()


def signed_out(at: AppTest) -> bool:
    return "viewer" not in at.session_state and at.title[0].value == "Skin progress tracker"


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def test_first_visitor_cannot_become_admin_without_the_setup_token(tmp_path, monkeypatch, capsys):
    """Major 2: the first admin needs the one-time token printed on the server's console."""
    at = app(tmp_path / "fresh", monkeypatch)
    at.run()
    assert at.subheader[0].value.startswith("First run")
    assert any("python -m tracker user add" in m.value for m in at.markdown)  # the owner is told how
    printed = capsys.readouterr().err
    token = re.search(r"Setup token for the first admin account of .*:\s+(\S+)", printed).group(1)
    assert not any(token in str(m.value) for m in [*at.markdown, *at.caption, *at.text])  # never shown in the app
    at.text_input(key="first_username").input("admin")
    at.text_input(key="first_name").input("Dr Admin")
    at.text_input(key="first_password").input(PASSWORD)
    at.text_input(key="first_again").input(PASSWORD)
    at.checkbox(key="first_sample").uncheck()
    for guess in ("", "0" * len(token), token[:-1]):
        at.text_input(key="setup_token").input(guess)
        at.button[0].click().run()
        assert "viewer" not in at.session_state and any("setup token" in e for e in errors(at))
    with init_data_folder(tmp_path / "fresh").session() as s:
        assert not access.has_users(s)
    at.text_input(key="setup_token").input(token)
    at.button[0].click().run()
    assert not at.exception and at.session_state.viewer.role == "admin"
    assert at.title[0].value == "Clients"
    # Once a staff account exists, no visitor is offered the setup again.
    again = app(tmp_path / "fresh", monkeypatch)
    again.run()
    assert not again.subheader and "setup_token" not in [w.key for w in again.text_input]


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
    for code in ("999-AAAA-AAAA", "²-AAAA-AAAA", "1234567890123456789012345-AAAA-AAAA"):
        sign_in_client(at, code)
        assert any("not valid" in e for e in errors(at)) and not at.exception
    sign_in_client(at, clinic["sample_code"])
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
    at.file_uploader(key="uploads").set_value([("front.jpg", sample_bytes(1), "image/jpeg"),
                                               ("scan.jpg", b"%PDF-1.7 not a photo", "image/jpeg")])
    at.run()
    assert any("scan.jpg" in e and "not an image" in e for e in errors(at))  # next to the bad file, no traceback
    assert any(s.value.startswith("face found") for s in at.success)
    assert any(s.value.startswith("view recognised: front") for s in at.success)
    at.button(key="save_photos").click().run()
    assert any("Saved and analysed 1 photo" in s.value for s in at.success)
    with db.session() as s:
        saved = s.scalars(select(Photo).join(Photo.session)).all()
        assert any(p.original_name == "front.jpg" and p.analyses for p in saved)


def test_progress_page(clinic, monkeypatch):
    at = sign_in_staff(app(clinic["root"], monkeypatch))
    at.session_state.client_id = clinic["sample"]
    at.switch_page("app_pages/progress.py").run()
    assert not at.exception and not errors(at)
    assert any("redness down" in m.value and "beyond measurement noise" in m.value for m in at.markdown)
    assert len(at.get("vega_lite_chart")) >= 3 and len(at.get("image")) >= 3  # no texture chart or heat map
    # texture has no noise floor calibrated on real photos: no chart, and the page says why
    assert any("not yet validated on real photos" in c.value or "calibrated on real repeated photos" in c.value
               for c in at.caption)
    assert len(at.dataframe) == 1
    wipe = at.get("iframe")[0].proto  # dragged in the browser: both photos travel once, in the page
    assert wipe.srcdoc.count("data:image/jpeg;base64,") == 2 and "pointermove" in wipe.srcdoc


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


def test_a_body_area_photo_with_its_region(clinic, monkeypatch):
    """No face: the practitioner names the area and marks the region; alignment is by image features."""
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
    for session_id, shot in zip(sessions, shots):
        at.selectbox(key="photo_session").set_value(session_id).run()
        at.selectbox(key="view_choice").set_value("body area").run()
        at.text_input(key="body_area").input("left cheek").run()
        at.text_input(key="region").input("310,260 420,280 410,450 320,440").run()
        at.file_uploader(key="uploads").set_value(("area.jpg", shot, "image/jpeg")).run()
        assert any(x.value.startswith("region marked: yes") for x in at.success), [e.value for e in at.error]
        at.button(key="save_photos").click().run()
        assert any("Saved and analysed 1 photo" in x.value for x in at.success), errors(at)
    with db.session() as s:
        later = s.scalar(select(Photo).where(Photo.session_id == sessions[1]))
        result = later.analyses[-1].result
    assert later.view == "left cheek" and result["alignment"]["method"] == "features"
    assert abs(result["change"]["redness_a_star"]) < 0.3


def test_a_client_session_ends_when_the_code_is_reissued_or_the_client_erased(clinic, monkeypatch):
    """Major 6: re-validated at every run, even if the erased client's id were given to a new client."""
    db = clinic["db"]
    mine = client_with_course(db, "Erin Erased", sessions=1, with_photos=False)
    at = sign_in_client(app(clinic["root"], monkeypatch), mine["code"])
    assert at.session_state.viewer.client_id == mine["client"] and at.title[0].value == "Your progress"
    with db.session() as s:
        code = records.reset_access_code(s, ACTOR, mine["client"])
        s.commit()
    at.run()
    assert signed_out(at) and any("session has ended" in i.value for i in at.info)
    sign_in_client(at, code)
    assert at.title[0].value == "Your progress"
    clientdata.erase_client(db, db.store, ACTOR, mine["client"])
    newcomer = client_with_course(db, "Nora Newcomer", sessions=1, with_photos=False)
    with db.session() as s:  # the erased client's id, reused (as SQLite without AUTOINCREMENT does)
        s.get(Client, newcomer["client"]).id = mine["client"]
        s.commit()
    at.run()
    assert signed_out(at) and not at.exception


def test_a_staff_session_ends_when_the_account_is_deactivated_or_reset(clinic, monkeypatch):
    db = clinic["db"]
    with db.session() as s:
        access.add_user(s, OWNER, "kim", PASSWORD, "practitioner", "Kim")
        s.commit()
    at = sign_in_staff(app(clinic["root"], monkeypatch), username="kim")
    assert at.title[0].value == "Clients"
    with db.session() as s:
        new_password = access.reset_password(s, OWNER, "kim")
        s.commit()
    at.run()
    assert signed_out(at)
    sign_in_staff(at, new_password, "kim")
    assert at.title[0].value == "Clients"
    with db.session() as s:
        access.deactivate_user(s, OWNER, "kim")
        s.commit()
    at.run()
    assert signed_out(at)
    sign_in_staff(at, new_password, "kim")
    assert "Unknown username or wrong password." in errors(at)


def test_an_idle_session_is_signed_out(clinic, monkeypatch):
    monkeypatch.setenv("TRACKER_IDLE_MINUTES", "30")
    at = sign_in_staff(app(clinic["root"], monkeypatch))
    at.session_state.last_active = time.time() - 29 * 60
    at.run()
    assert at.title[0].value == "Clients"
    at.session_state.last_active = time.time() - 31 * 60
    at.run()
    assert signed_out(at) and any("without activity" in i.value for i in at.info)


def test_repeated_failed_sign_ins_lock_the_account(clinic, monkeypatch):
    db = clinic["db"]
    with db.session() as s:
        access.add_user(s, OWNER, "lock", PASSWORD, "practitioner", "Locked Out")
        s.commit()
    at = app(clinic["root"], monkeypatch)
    for _ in range(access.MAX_FAILURES):
        sign_in_staff(at, "wrong password!", "lock")
        assert "Unknown username or wrong password." in errors(at)
    sign_in_staff(at, PASSWORD, "lock")
    assert "viewer" not in at.session_state and any("Too many failed sign-ins" in e for e in errors(at))


def test_the_audit_log_names_the_username_not_the_display_name(clinic, monkeypatch):
    at = sign_in_staff(app(clinic["root"], monkeypatch))
    at.switch_page("app_pages/clients.py").run()
    at.text_input(key="new_name").input("Audit Example")
    at.button(key="FormSubmitter:add_client-Add client").click().run()
    assert not errors(at)
    with clinic["db"].session() as s:
        client_id = s.scalar(select(Client.id).where(Client.name == "Audit Example"))
        actors = set(s.scalars(select(AuditEvent.actor).where(AuditEvent.client_id == client_id)))
    assert actors == {"lee"}  # not "Dr Lee"


def test_only_an_admin_manages_staff_and_loads_the_sample(tmp_path, monkeypatch):
    db = init_data_folder(tmp_path / "data")
    with db.session() as s:
        access.add_user(s, OWNER, "boss", PASSWORD, "admin", "The Boss")
        access.add_user(s, OWNER, "lee", PASSWORD, "practitioner", "Dr Lee")
        s.commit()
    at = sign_in_staff(app(tmp_path / "data", monkeypatch))
    assert at.title[0].value == "Clients"
    assert "load_sample" not in [b.key for b in at.button]
    at.switch_page("app_pages/users.py").run()
    assert at.title[0].value == "Clients"  # no such page for a practitioner
    at = sign_in_staff(app(tmp_path / "data", monkeypatch), username="boss")
    assert "load_sample" in [b.key for b in at.button]
    at.switch_page("app_pages/users.py").run()
    assert at.title[0].value == "Staff accounts" and not at.exception
    assert list(at.dataframe[0].value["username"]) == ["boss", "lee"]
    at.text_input(key="new_username").input("kim")
    at.text_input(key="new_user_name").input("Kim")
    at.text_input(key="new_password").input(PASSWORD)
    at.button(key="FormSubmitter:add_user-Add account").click().run()
    assert "Account added." in [x.value for x in at.success]
    assert list(at.dataframe[0].value["username"]) == ["boss", "kim", "lee"]
    at.selectbox(key="reset_user").set_value("kim")
    at.button(key="FormSubmitter:reset_password-Reset the password").click().run()
    temporary = at.code[0].value
    with db.session() as s:
        assert access.authenticate(s, "kim", temporary) is not None
    at.run()
    assert not at.code  # shown once
    at.selectbox(key="deactivate_user").set_value("kim").run()
    at.button(key="deactivate").click().run()
    assert "Account deactivated." in [x.value for x in at.success]
    with db.session() as s:
        assert access.authenticate(s, "kim", temporary) is None
    db.close()


def test_names_are_shown_as_text_never_as_markup(clinic, monkeypatch):
    name = "![x](http://evil.example/x.png) **Dr** <img src=x> [link](http://evil.example) $x$"
    with clinic["db"].session() as s:
        access.add_user(s, OWNER, "mark", PASSWORD, "practitioner", name)
        s.commit()
    at = sign_in_staff(app(clinic["root"], monkeypatch), username="mark")
    shown = [c.value for c in at.sidebar.caption]
    assert shown == [f"Signed in as {plain(name)} (practitioner)"]
    unescaped = re.findall(r"(?<!\\)[][!()*<>$`_]", shown[0].removeprefix("Signed in as ").removesuffix(" (practitioner)"))
    assert unescaped == []  # every character markdown could act on is escaped


def test_plain_escapes_every_markdown_construct():
    assert plain("**b** _i_ `c` [l](u) ![i](u) <b> $m$ :red[x] # h\n- item") == (
        r"\*\*b\*\* \_i\_ \`c\` \[l\]\(u\) \!\[i\]\(u\) \<b\> \$m\$ \:red\[x\] \# h \- item")
