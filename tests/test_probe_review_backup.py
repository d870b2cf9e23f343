"""Attacker probes of restore (issue 16.2, 16.4, 16.5): crafted archives, built as tests/test_data_safety.py does.

Each probe restores an archive an attacker made and says what must happen: refused with a RecordError and
nothing left behind, or restored without the attacker's extra. A probe that found a hole is marked
xfail(strict=True) with the file and line: it fails (XPASS) once the hole is fixed.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import zipfile
from datetime import date

import pytest
from sqlalchemy import select

from test_data_safety import _crafted_database, assert_nothing_written, make_archive
from tracker import access, backup, records
from tracker.db import open_data_folder
from tracker.errors import RecordError
from tracker.models import Client, SetupToken, User
from tracker_helpers import ACTOR

pytestmark = pytest.mark.only_default_backend


def restored(tmp_path):
    return open_data_folder(tmp_path / "restored")


def refused(archive, tmp_path, match: str | None = None) -> None:
    before = {p for p in tmp_path.rglob("*")}
    with pytest.raises(RecordError, match=match):
        backup.restore(archive, tmp_path / "restored", actor=ACTOR)
    assert_nothing_written(tmp_path, tmp_path / "restored", before)


# --- a crafted tracker.db ----------------------------------------------------------------------------------

def test_a_trigger_on_a_table_the_migrations_rebuild_is_not_installed(tmp_path):
    archive = _crafted_database(tmp_path, "CREATE TABLE kept (x TEXT)",
                                "CREATE TRIGGER t AFTER INSERT ON clients BEGIN "
                                "INSERT INTO kept VALUES (NEW.name); END",
                                "DROP TABLE kept")
    backup.restore(archive, tmp_path / "restored", actor=ACTOR)
    with sqlite3.connect(tmp_path / "restored" / "tracker.db") as conn:
        assert not conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall()


def test_a_view_in_place_of_a_table_is_refused(tmp_path):
    """clinics dropped and replaced by a view: the clients then name clinics that are not restored."""
    archive = _crafted_database(tmp_path, "PRAGMA foreign_keys=OFF", "CREATE TABLE c2 AS SELECT * FROM clinics",
                                "DROP TABLE clinics", "CREATE VIEW clinics AS SELECT * FROM c2")
    refused(archive, tmp_path)


def test_a_staff_role_outside_the_known_roles_is_refused(tmp_path):
    archive = _crafted_database(tmp_path, "PRAGMA ignore_check_constraints = ON",
                                "UPDATE users SET role = 'owner' WHERE username = 'admin'")
    try:
        backup.restore(archive, tmp_path / "restored", actor=ACTOR)
    except RecordError:
        return
    db = restored(tmp_path)
    with db.session() as s:
        who = access.sign_in_staff(s, "admin", "a long enough secret")
        assert who.role == "owner" and access.allowed(who, "restore")
        s.commit()
    db.close()
    pytest.fail("a crafted role 'owner' was restored and signs in with the owner's powers")


def test_a_name_over_its_bound_is_refused(tmp_path):
    archive = _crafted_database(tmp_path, "UPDATE clients SET name = printf('%.*c', 200000, 'x')")
    refused(archive, tmp_path)


def test_no_setup_token_is_restored(tmp_path):
    known = hashlib.sha256(b"attacker-knows-this").hexdigest()
    archive = _crafted_database(tmp_path, "DELETE FROM clinic_staff", "DELETE FROM users",
                                "INSERT INTO setup_tokens (sha256, created_at) "
                                f"VALUES ('{known}', '2026-01-01 00:00:00')")
    backup.restore(archive, tmp_path / "restored", actor=ACTOR)
    db = restored(tmp_path)
    with db.session() as s:
        assert s.scalar(select(SetupToken)) is None
        assert not access.setup_token_valid(s, "attacker-knows-this")
    db.close()


def test_an_id_at_the_top_of_the_range_is_refused_or_leaves_room(tmp_path):
    archive = _crafted_database(tmp_path, "PRAGMA foreign_keys=OFF",
                                "UPDATE clients SET id = 9223372036854775807",
                                "UPDATE courses SET client_id = 9223372036854775807",
                                "UPDATE screenings SET client_id = 9223372036854775807",
                                "UPDATE consents SET client_id = 9223372036854775807",
                                "UPDATE audit_events SET client_id = 9223372036854775807 WHERE client_id IS NOT NULL",
                                "UPDATE record_versions SET client_id = 9223372036854775807 "
                                "WHERE client_id IS NOT NULL")
    try:
        backup.restore(archive, tmp_path / "restored", actor=ACTOR)
    except RecordError:
        return
    db = restored(tmp_path)
    with db.session() as s:
        records.add_client(s, ACTOR, "Next Client", date(1990, 1, 1))
        s.commit()
    db.close()


# --- a crafted logical dump (records.jsonl) -------------------------------------------------------------------

def dump_archive(tmp_path, *lines: bytes, header: bytes | None = None):
    head = header if header is not None else json.dumps(
        {"format": backup.RECORDS_FORMAT, "revision": _revision()}).encode()
    return make_archive(tmp_path / "dump.zip", {backup.RECORDS: b"\n".join([head, *lines]) + b"\n"})


def _revision() -> str:
    from tracker.db import head_revision
    return head_revision()


MALFORMED = {
    "header a list": (b"[]", ()),
    "header of another format": (json.dumps({"format": "x", "revision": "0007"}).encode(), ()),
    "bad utf-8": (None, (b'{"table": "clinics", "columns": ["id", "name"]}', b'[1, "\xff\xfe"]')),
    "nan id": (None, (b'{"table": "clinics", "columns": ["id", "name"]}', b'[NaN, "x"]')),
    "deep nesting": (None, (b'{"table": "clinics", "columns": ["id", "name"]}', b"[" * 200000 + b"]" * 200000)),
    "row before a table": (None, (b'[1, "x"]',)),
    "wrong width": (None, (b'{"table": "clinics", "columns": ["id", "name"]}', b'[1, "x", 3]')),
    "sequence a float": (None, (b'{"sequences": {"clients": 1.5}}',)),
    "sequence a bool": (None, (b'{"sequences": {"clients": true}}',)),
    "sequence of no table": (None, (b'{"sequences": {"sqlite_master": 3}}',)),
    "alembic rows": (None, (b'{"table": "alembic_version", "columns": ["version_num"]}', b'["0001"]')),
    "sqlite_sequence rows": (None, (b'{"table": "sqlite_sequence", "columns": ["name", "seq"]}', b'["x", 1]')),
    "a date that is not one": (None, (b'{"table": "clinics", "columns": ["id", "name", "created_at"]}',
                                      b'[1, "x", "yesterday"]')),
    "a column name with sql": (None, (b'{"table": "clinics", "columns": ["id", "name\\"); DROP TABLE users; --"]}',
                                      b'[1, "x"]')),
    "a table name with sql": (None, (b'{"table": "clinics\\"; DROP TABLE users; --", "columns": ["id"]}',
                                     b"[1]")),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_a_malformed_dump_is_refused_with_a_message(tmp_path, name):
    header, lines = MALFORMED[name]
    refused(dump_archive(tmp_path, *lines, header=header), tmp_path)


def test_a_dump_restores_no_row_into_the_migrated_seed_twice_and_no_erased_id_reused(tmp_path):
    """A dump naming a sequence below the highest id it loads: the next client still gets a fresh id."""
    lines = (b'{"table": "clinics", "columns": ["id", "name", "created_at"]}',
             b'[1, "Main clinic", "2026-01-01T00:00:00"]',
             b'{"table": "clients", "columns": ["id", "name", "clinic_id", "created_at", "contact", "notes"]}',
             b'[7, "Old", 1, "2026-01-01T00:00:00", "", ""]',
             b'{"sequences": {"clients": 3}}')
    backup.restore(dump_archive(tmp_path, *lines), tmp_path / "restored", actor=ACTOR)
    db = restored(tmp_path)
    with db.session() as s:
        client, _ = records.add_client(s, ACTOR, "New", date(1990, 1, 1))
        s.commit()
        assert client.id > 7
        assert s.scalar(select(Client.name).where(Client.id == 7)) == "Old"
        assert s.scalar(select(User)) is None
    db.close()


def test_a_zip_member_named_like_the_records_twice_is_refused(tmp_path):
    path = tmp_path / "twice.zip"
    head = json.dumps({"format": backup.RECORDS_FORMAT, "revision": _revision()}).encode() + b"\n"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(backup.RECORDS, head)
        with pytest.warns(UserWarning):
            zf.writestr(backup.RECORDS, head + b'{"table": "users", "columns": ["id"]}\n')
        zf.writestr(backup.MANIFEST, json.dumps({"files": {backup.RECORDS: hashlib.sha256(head).hexdigest()}}))
    refused(path, tmp_path)


# --- stale staging folders ------------------------------------------------------------------------------------

def test_a_fifo_as_the_mark_does_not_hang_the_cleanup(tmp_path):
    import os
    import threading
    planted = tmp_path / ".data-restore-abcdefgh"
    planted.mkdir()
    os.mkfifo(planted / backup.STAGING_MARK)
    done = threading.Event()
    worker = threading.Thread(target=lambda: (backup.clean_interrupted_restores(tmp_path), done.set()), daemon=True)
    worker.start()
    finished = done.wait(3)
    if not finished:  # release the open() so that the thread ends
        fd = os.open(planted / backup.STAGING_MARK, os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
        worker.join(3)
    assert finished, "clean_interrupted_restores waited on the FIFO"


def test_a_symlinked_staging_folder_or_mark_is_left_alone(tmp_path):
    import os
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / backup.STAGING_MARK).write_text("")
    (victim / "keep.txt").write_text("keep")
    os.symlink(victim, tmp_path / ".data-restore-abcdefgh")
    other = tmp_path / ".data-restore-ijklmnop"
    other.mkdir()
    os.symlink(victim / "keep.txt", other / backup.STAGING_MARK)
    backup.clean_interrupted_restores(tmp_path)
    assert (victim / "keep.txt").read_text() == "keep"
    assert other.exists()


# --- zip bombs -------------------------------------------------------------------------------------------------

ROWS_BOMB = """
import pathlib, resource, sys, tracemalloc
resource.setrlimit(resource.RLIMIT_AS, (4 * 2**30, 4 * 2**30))  # never more than this, whatever happens
from tracker import access, backup
from tracker.errors import RecordError
tracemalloc.start()  # Python's own allocations: the parsed rows, whatever the allocator gives back to the system
try:
    backup.restore(pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), actor=access.owner("dr.test"))
except (RecordError, MemoryError) as exc:
    print("refused:", type(exc).__name__, getattr(exc, "message", ""))
print("peak_growth_mb", tracemalloc.get_traced_memory()[1] / 2**20)
"""


def test_rows_at_the_line_limit_do_not_add_up_in_memory(tmp_path):
    import subprocess
    import sys
    from tracker.db import head_revision
    rows = 3
    line = b"[[" + b"[]," * ((4 * 2**20 - 16) // 3) + b"[]]]\n"
    parts = [json.dumps({"format": backup.RECORDS_FORMAT, "revision": head_revision()}).encode() + b"\n",
             b'{"table": "clinics", "columns": ["name"]}\n'] + [line] * rows
    archive = tmp_path / "rows.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(backup.RECORDS, b"".join(parts))
        zf.writestr(backup.MANIFEST, json.dumps({"files": {backup.RECORDS: hashlib.sha256(b"".join(parts))
                                                           .hexdigest()}}))
    assert archive.stat().st_size < 2**17
    done = subprocess.run([sys.executable, "-c", ROWS_BOMB, str(archive), str(tmp_path / "restored")],
                          capture_output=True, text=True, timeout=300)
    growth = float(done.stdout.split("peak_growth_mb")[1])
    assert "refused" in done.stdout, done.stdout + done.stderr
    assert growth < 150, f"{rows} rows of a 4 MiB line took {growth:.0f} MB"
