"""Clinics within a group: the migration into the default clinic, the access rule in the library (a
practitioner sees their clinics' clients only, a group admin all), the audit log's clinic, managing clinics
from the command line, and the same rule through the app (AppTest)."""

from __future__ import annotations

import io
import pathlib
import re
from datetime import date

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, event, select, text
from sqlalchemy.exc import IntegrityError
from streamlit.testing.v1 import AppTest

from tracker import access, clientdata, clinics, gallery, photos, records, reports
from tracker.cli import main
from tracker.db import _sqlite_pragmas, alembic_config, init_data_folder
from tracker.errors import NotFound, RecordError
from tracker.models import AuditEvent, Base, Client, User
from tracker_helpers import ACTOR, client_with_course

ROOT = pathlib.Path(__file__).resolve().parents[1]
PASSWORD = "a long enough secret"
OWNER = ACTOR
LATER = date(2027, 1, 1)  # every course of the fixture is due by then


# --- the migration -------------------------------------------------------------------------------

def check_migration_0005(engine) -> None:
    """Upgrade a database at 0004 holding records to the head, check every record landed in the default
    clinic with nothing lost, and downgrade again; on SQLite or PostgreSQL."""
    command.upgrade(alembic_config(engine), "0004")
    with engine.begin() as conn:
        for name in ("Ada", "Ben", "Cy"):
            conn.execute(text("INSERT INTO clients (name, contact, notes, created_at) "
                              "VALUES (:n, '', '', '2026-01-01')"), {"n": name})
        conn.execute(text("INSERT INTO courses (client_id, treatment, areas, planned_sessions, interval_days, "
                          "status, started_on) VALUES (2, 't', '[]', 4, 28, 'active', '2026-01-12')"))
        conn.execute(text("DELETE FROM clients WHERE id = 3"))  # erased: its id is never given again
        for username, role in (("ann", "practitioner"), ("gia", "admin")):
            conn.execute(text("INSERT INTO users (username, display_name, role, password_hash, active, created_at) "
                              "VALUES (:u, :u, :r, 'x', :a, '2026-01-01')"), {"u": username, "r": role, "a": True})
        conn.execute(text("INSERT INTO audit_events (at, actor, action, entity, entity_id, client_id) VALUES "
                          "('2026-01-02', 'ann', 'view', 'client', 1, 1), "
                          "('2026-01-02', 'gia', 'login', 'user', 2, NULL)"))
    command.upgrade(alembic_config(engine), "head")
    with engine.begin() as conn:
        (default, name), = conn.execute(text("SELECT id, name FROM clinics")).fetchall()
        assert name == "Main clinic"
        assert conn.execute(text("SELECT id, name, clinic_id FROM clients ORDER BY id")).fetchall() == [
            (1, "Ada", default), (2, "Ben", default)]
        assert conn.execute(text("SELECT client_id FROM courses")).scalar() == 2
        assert conn.execute(text("SELECT user_id FROM clinic_staff WHERE clinic_id = :c ORDER BY user_id"),
                            {"c": default}).scalars().all() == [1, 2]
        assert conn.execute(text("SELECT entity, clinic_id FROM audit_events ORDER BY id")).fetchall() == [
            ("client", default), ("user", None)]
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
        with pytest.raises(IntegrityError):  # a client needs a clinic now
            with conn.begin_nested():
                conn.execute(text("INSERT INTO clients (name, contact, notes, created_at) "
                                  "VALUES ('Nobody', '', '', '2026-02-01')"))
        conn.execute(text("INSERT INTO clients (name, contact, notes, created_at, clinic_id) "
                          "VALUES ('Di', '', '', '2026-02-01', :c)"), {"c": default})
        di = conn.execute(text("SELECT id FROM clients WHERE name = 'Di'")).scalar()
        assert di > 3  # never the erased 3 (PostgreSQL's refused insert above took 4 from its sequence)
    command.downgrade(alembic_config(engine), "0004")
    with engine.begin() as conn:
        assert conn.execute(text("SELECT name FROM clients ORDER BY id")).scalars().all() == ["Ada", "Ben", "Di"]
        conn.execute(text("DELETE FROM clients WHERE name = 'Di'"))
        conn.execute(text("INSERT INTO clients (name, contact, notes, created_at) VALUES ('Ed', '', '', '2026-03-01')"))
        assert conn.execute(text("SELECT id FROM clients WHERE name = 'Ed'")).scalar() > di


def test_migration_0005_carries_every_record_into_the_default_clinic(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    event.listen(engine, "connect", _sqlite_pragmas)
    check_migration_0005(engine)
    command.upgrade(alembic_config(engine), "head")
    with engine.begin() as conn:  # the rebuilt clients table keeps AUTOINCREMENT, as every table does
        schema = dict(conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'table'")).fetchall())
        for table, sql in schema.items():
            if table in Base.metadata.tables and "id" in Base.metadata.tables[table].c:
                assert "AUTOINCREMENT" in sql, table
        assert conn.execute(text("PRAGMA foreign_key_check")).fetchall() == []


def test_migration_0005_on_postgresql(postgres_server):
    engine = create_engine(postgres_server.new_database())
    check_migration_0005(engine)
    engine.dispose()


def test_a_new_data_folder_has_one_clinic_and_needs_no_setup(tmp_path):
    db = init_data_folder(tmp_path / "data")
    with db.session() as s:
        (only,) = clinics.list_clinics(s, OWNER)
        lee = access.add_user(s, OWNER, "lee", PASSWORD, "practitioner")
        assert [c.name for c in lee.clinics] == ["Main clinic"]
        client, _ = records.add_client(s, access.staff_viewer(lee), "Ada")
        assert client.clinic_id == only.id
    db.close()


# --- the rule in the library ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def group(tmp_path_factory):
    """Two clinics: Ada in Main clinic (ann works there), Nia in North (bob); gia is the group's admin."""
    root = tmp_path_factory.mktemp("group") / "data"
    db = init_data_folder(root)
    with db.session() as s:
        main_clinic = clinics.list_clinics(s, OWNER)[0].id
        north = clinics.add_clinic(s, OWNER, "North").id
        access.add_user(s, OWNER, "ann", PASSWORD, "practitioner", "Dr Ann", ["Main clinic"])
        access.add_user(s, OWNER, "bob", PASSWORD, "practitioner", "Dr Bob", ["North"])
        access.add_user(s, OWNER, "gia", PASSWORD, "admin", "Gia")
        access.add_user(s, OWNER, "carl", PASSWORD, "practitioner", "Dr Carl", ["North"])
        access.add_user(s, OWNER, "dee", PASSWORD, "practitioner", "Dr Dee", ["Main clinic", "North"])
        s.commit()
    ada = client_with_course(db, "Ada Main", clinic_id=main_clinic)
    nia = client_with_course(db, "Nia North", clinic_id=north)
    with db.session() as s:
        photos.analyse_pending(s, db.store, ACTOR)  # a gallery offers analysed, comparable pairs
    yield {"root": root, "db": db, "main": main_clinic, "north": north, "ada": ada, "nia": nia}
    db.close()


def viewer(db, username: str) -> access.Viewer:
    with db.session() as s:
        return access.staff_viewer(s.scalar(select(User).where(User.username == username)))


def not_found_message(call) -> str:
    with pytest.raises(NotFound) as caught:
        call()
    return caught.value.message


def test_a_practitioner_lists_and_finds_only_their_clinic_s_clients(group):
    db, ann, bob = group["db"], viewer(group["db"], "ann"), viewer(group["db"], "bob")
    with db.session() as s:
        assert [r.name for r in records.client_overview(s, ann)] == ["Ada Main"]
        assert [r.name for r in records.client_overview(s, bob)] == ["Nia North"]
        assert records.client_overview(s, ann, "Nia") == []
        assert [d.client_id for d in records.due_courses(s, ann, LATER)] == [group["ada"]["client"]]
        assert {h.client_id for h in records.batch_recall(s, ann, "B1")} == {group["ada"]["client"]}
        assert {p.client_id for p in gallery.eligible_pairs(s, ann)} == {group["ada"]["client"]}
        assert {p.session.course.client_id for p in photos.pending(s, ann)} <= {group["ada"]["client"]}


def test_another_clinic_s_records_are_not_found_like_missing_ones(group, tmp_path):
    db, ann, nia = group["db"], viewer(group["db"], "ann"), group["nia"]
    with db.session() as s:
        missing = not_found_message(lambda: records.get_client(s, ann, 10**9))
        assert not_found_message(lambda: records.get_client(s, ann, nia["client"])) == \
            missing.replace(str(10**9), str(nia["client"]))
        for call in (lambda: records.get_course(s, ann, nia["course"]),
                     lambda: records.get_session(s, ann, nia["sessions"][0]),
                     lambda: photos.get_photo(s, ann, nia["photos"][0]),
                     lambda: records.history(s, ann, nia["client"]),
                     lambda: photos.pending(s, ann, nia["client"]),
                     lambda: photos.check_photo_consent(s, ann, nia["sessions"][0]),
                     lambda: records.give_consent(s, ann, nia["client"], "marketing", date(2026, 2, 1), "x"),
                     lambda: records.add_session(s, ann, nia["course"], date(2026, 5, 1), "Dr Ann", "gun"),
                     lambda: records.reset_access_code(s, ann, nia["client"]),
                     lambda: photos.remove_photo(s, db.store, ann, nia["photos"][0], "unusable"),
                     lambda: clientdata.export_client(s, db.store, ann, nia["client"], tmp_path / "export")):
            assert "no " in not_found_message(call)
        theirs = [p for p in gallery.eligible_pairs(s, OWNER) if p.client_id == nia["client"]]
        assert theirs
        assert not_found_message(lambda: reports.report_pdf(s, db.store, ann, theirs))
        assert not_found_message(lambda: gallery.export_pairs(s, db.store, ann, tmp_path / "g", theirs))
        s.rollback()
    assert not (tmp_path / "export").exists() and not (tmp_path / "g").exists()
    with db.session() as s:  # nothing was audited as done to Nia by ann
        assert not s.scalars(select(AuditEvent).where(AuditEvent.actor == "ann",
                                                      AuditEvent.client_id == nia["client"])).all()


def test_a_group_admin_sees_every_clinic_and_chooses_one(group, tmp_path):
    db, gia = group["db"], viewer(group["db"], "gia")
    ada, nia = group["ada"]["client"], group["nia"]["client"]
    with db.session() as s:
        assert [r.name for r in records.client_overview(s, gia)] == ["Ada Main", "Nia North"]
        assert [r.name for r in records.client_overview(s, gia, clinic_id=group["north"])] == ["Nia North"]
        assert {p.client_id for p in gallery.eligible_pairs(s, gia)} == {ada, nia}
        assert {p.client_id for p in gallery.eligible_pairs(s, gia, clinic_id=group["north"])} == {nia}
        assert {d.client_id for d in records.due_courses(s, gia, LATER)} == {ada, nia}
        assert records.get_client(s, gia, nia).name == "Nia North"
        pdf = reports.report_pdf(s, db.store, gia, gallery.eligible_pairs(s, gia, clinic_id=group["north"]))
        assert pdf.startswith(b"%PDF")
        written = gallery.export_gallery(s, db.store, gia, tmp_path / "north", clinic_id=group["north"])
        assert written and all(f"course{group['nia']['course']}-" in p.name for p in written)
        s.rollback()


def test_a_client_sees_only_their_own_records(group):
    db = group["db"]
    with db.session() as s:
        nia = access.client_viewer(s.get(Client, group["nia"]["client"]))
        assert [r.name for r in records.client_overview(s, nia)] == ["Nia North"]
        assert records.get_course(s, nia, group["nia"]["course"]).client_id == group["nia"]["client"]
        assert not_found_message(lambda: records.get_client(s, nia, group["ada"]["client"]))
        assert not_found_message(lambda: records.get_course(s, nia, group["ada"]["course"]))


def test_the_audit_log_records_the_clinic_of_the_record_acted_on(group):
    db, gia = group["db"], viewer(group["db"], "gia")
    with db.session() as s:
        records.get_client(s, gia, group["nia"]["client"], record_view=True)
        s.commit()
        event_ = s.scalars(select(AuditEvent).where(AuditEvent.actor == "gia").order_by(AuditEvent.id.desc())).first()
        assert (event_.action, event_.client_id, event_.clinic_id) == ("view", group["nia"]["client"], group["north"])
        created = s.scalars(select(AuditEvent).where(AuditEvent.entity == "photo",
                                                     AuditEvent.client_id == group["ada"]["client"])).all()
        assert created and {e.clinic_id for e in created} == {group["main"]}


def test_an_erasure_is_audited_in_the_erased_client_s_clinic(group):
    db = group["db"]
    with db.session() as s:
        north = viewer(db, "carl")
        gone, _ = records.add_client(s, north, "Zed Gone")
        s.commit()
    with pytest.raises(NotFound):
        clientdata.erase_client(db, db.store, viewer(db, "ann"), gone.id)
    clientdata.erase_client(db, db.store, viewer(db, "gia"), gone.id)
    with db.session() as s:
        erased = s.scalar(select(AuditEvent).where(AuditEvent.entity == "client", AuditEvent.entity_id == gone.id))
        assert (erased.action, erased.clinic_id, erased.client_id) == ("delete", group["north"], None)


def test_a_new_client_s_clinic(group):
    db = group["db"]
    with db.session() as s:
        with pytest.raises(RecordError, match="choose the client's clinic: 'Main clinic' .*'North'"):
            records.add_client(s, viewer(db, "gia"), "Nobody")
        both = viewer(db, "dee")
        with pytest.raises(RecordError, match="choose the client's clinic"):
            records.add_client(s, both, "Nobody")
        assert records.add_client(s, both, "Olly", clinic_id=group["north"])[0].clinic_id == group["north"]
        assert records.add_client(s, viewer(db, "bob"), "Pat")[0].clinic_id == group["north"]
        with pytest.raises(NotFound):  # a clinic one does not work in is no choice
            records.add_client(s, viewer(db, "bob"), "Quin", clinic_id=group["main"])
        s.rollback()


def test_memberships_apply_at_the_next_page_run(group):
    db = group["db"]
    with db.session() as s:
        with pytest.raises(RecordError, match="name the clinic"):
            access.add_user(s, OWNER, "eve", PASSWORD, "practitioner")  # two clinics: which?
        with pytest.raises(RecordError, match="no clinic named 'South': the clinics are 'Main clinic', 'North'"):
            access.add_user(s, OWNER, "eve", PASSWORD, "practitioner", clinics=["South"])
        eve = access.add_user(s, OWNER, "eve", PASSWORD, "practitioner", clinics=["North"])
        s.commit()
        signed_in = access.staff_viewer(eve)
        assert [r.name for r in records.client_overview(s, signed_in)] == ["Nia North"]
        access.set_user_clinics(s, OWNER, "eve", ["Main clinic"])
        s.commit()
        now = access.current(s, signed_in)
        assert now is not None and [r.name for r in records.client_overview(s, now)] == ["Ada Main"]
        with pytest.raises(RecordError, match="at least one clinic"):
            access.set_user_clinics(s, OWNER, "eve", [])
        with pytest.raises(Exception, match="admin"):
            access.set_user_clinics(s, now, "eve", ["North"])
        with pytest.raises(Exception, match="admin"):
            clinics.add_clinic(s, now, "South")
        s.rollback()


# --- the command line --------------------------------------------------------------------------------

def test_clinics_from_the_command_line(tmp_path, capsys):
    data = tmp_path / "data"

    def run(*argv):
        code = main(["--data", str(data), "--actor", "dr.cli", *argv])
        out = capsys.readouterr()
        return code, out.out + out.err

    assert run("init")[0] == 0
    assert run("client", "add", "--name", "Ada")[0] == 0  # one clinic: no choice to make
    assert run("clinic", "add", "North") == (0, "clinic 2 added: North\n")
    code, out = run("client", "add", "--name", "Ben")
    assert code == 2 and "choose the client's clinic: 'Main clinic' (#1), 'North' (#2)" in out
    code, out = run("client", "add", "--name", "Ben", "--clinic", "North")
    assert code == 0 and "client 2 added in North" in out
    code, out = run("client", "add", "--name", "Cy", "--clinic", "South")
    assert code == 2 and "no clinic named 'South': the clinics are 'Main clinic', 'North'" in out
    assert "Main clinic" in run("clinic", "list")[1] and "1 clients" in run("clinic", "list")[1]
    code, out = run("client", "list", "--clinic", "North")
    assert code == 0 and "Ben" in out and "Ada" not in out
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
        code, out = run("user", "add", "lee", "--role", "practitioner", "--password-stdin",
                        "--clinic", "North", "--clinic", "Main clinic")
    assert code == 0 and "clinics: Main clinic, North" in out
    assert run("user", "leave", "lee", "North") == (0, "user lee now works in: Main clinic\n")
    assert run("user", "join", "lee", "North") == (0, "user lee now works in: Main clinic, North\n")
    assert "clinics: Main clinic, North" in run("user", "list")[1]


# --- the app ---------------------------------------------------------------------------------------------

def app(root, monkeypatch) -> AppTest:
    monkeypatch.setenv("TRACKER_DATA_DIR", str(root))
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)


def signed_in(root, monkeypatch, username: str) -> AppTest:
    at = app(root, monkeypatch)
    at.run()
    at.text_input(key="username").input(username)
    at.text_input(key="password").input(PASSWORD)
    return at.button[0].click().run()


def page_text(at: AppTest) -> str:
    parts = [e.value for e in (*at.title, *at.markdown, *at.caption, *at.error, *at.info)]
    parts += [str(d.value.to_dict()) for d in at.dataframe]
    return re.sub(r"\\(.)", r"\1", " ".join(map(str, parts)))


def test_the_app_shows_a_practitioner_only_their_clinic(group, monkeypatch):
    at = signed_in(group["root"], monkeypatch, "ann")
    assert at.title[0].value == "Clients" and not at.exception
    due = [d for d in at.dataframe if "due" in d.value.columns][0]
    assert list(due.value["client"]) == ["Ada Main"]
    listed = [d for d in at.dataframe if "name" in d.value.columns][0]
    assert list(listed.value["name"]) == ["Ada Main"] and "clinic" not in listed.value.columns
    assert "Clinic: Main clinic" in page_text(at)
    at.text_input(key="client_search").input("Nia").run()
    assert "No client matches." in page_text(at)
    # Opening another clinic's client by id, whatever the session state says: not found, nothing shown.
    for page in ("record", "session", "progress"):
        at.session_state.client_id = group["nia"]["client"]
        at.switch_page(f"app_pages/{page}.py").run()
        assert not at.exception
        assert f"no client with id {group['nia']['client']}" in page_text(at) and "Nia" not in page_text(at)
    at.switch_page("app_pages/gallery.py").run()
    assert not at.exception and "gallery_clinic" not in [w.key for w in at.selectbox]
    labels = [c.label for c in at.checkbox]
    assert labels and all(f"Client #{group['ada']['client']}," in label for label in labels)


def test_the_app_lets_a_group_admin_see_and_choose_every_clinic(group, monkeypatch):
    at = signed_in(group["root"], monkeypatch, "gia")
    listed = [d for d in at.dataframe if "name" in d.value.columns][0]
    assert list(listed.value["name"])[:2] == ["Ada Main", "Nia North"]
    assert list(listed.value["clinic"])[:2] == ["Main clinic", "North"]
    assert "Clinics: all clinics" in page_text(at)
    at.switch_page("app_pages/gallery.py").run()
    assert {c.label.split(",")[0] for c in at.checkbox} == {f"Client #{group['ada']['client']}",
                                                            f"Client #{group['nia']['client']}"}
    at.selectbox(key="gallery_clinic").set_value(group["north"]).run()
    assert {c.label.split(",")[0] for c in at.checkbox} == {f"Client #{group['nia']['client']}"}
    at.session_state.client_id = group["nia"]["client"]
    at.switch_page("app_pages/record.py").run()
    assert at.title[0].value == "Nia North" and not at.exception


def test_the_admin_assigns_clinics_on_the_staff_page(group, monkeypatch):
    at = signed_in(group["root"], monkeypatch, "gia")
    at.switch_page("app_pages/users.py").run()
    table = at.dataframe[0].value.set_index("username")
    assert table.loc["ann", "clinics"] == "Main clinic" and table.loc["bob", "clinics"] == "North"
    at.selectbox(key="clinics_user").set_value("bob").run()
    at.multiselect(key="clinics_of_bob").set_value(["Main clinic", "North"])
    at.button(key="FormSubmitter:user_clinics-Save the clinics").click().run()
    assert "Clinics saved." in [x.value for x in at.success] and not at.exception
    assert at.dataframe[0].value.set_index("username").loc["bob", "clinics"] == "Main clinic, North"
    bob = signed_in(group["root"], monkeypatch, "bob")
    listed = [d for d in bob.dataframe if "name" in d.value.columns][0]
    assert {"Ada Main", "Nia North"} <= set(listed.value["name"])
    assert "new_clinic" in [w.key for w in bob.selectbox]  # two clinics: the new-client form asks which
    with group["db"].session() as s:
        access.set_user_clinics(s, OWNER, "bob", ["North"])
        s.commit()


def test_no_page_passes_a_bare_name_for_the_signed_in_viewer():
    """The library treats a plain name as the server's owner (every clinic): pages pass the Viewer itself."""
    for page in [ROOT / "app.py", *sorted((ROOT / "app_pages").glob("*.py"))]:
        found = re.findall(r"\b(?:who|viewer\(\))\.(?:name|username)\b", page.read_text())
        assert not found, (page.name, found)
