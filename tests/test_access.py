"""Sign-in, sessions and roles in the records layer and the command line, on real SQLite data folders."""

from __future__ import annotations

import hashlib
import io
import secrets
import tomllib

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, select, text

from tracker import access, clientdata, records
from tracker.cli import main
from tracker.db import alembic_config, init_data_folder, open_data_folder
from tracker.errors import NotAllowed, RecordError
from tracker.models import AuditEvent, Client, User
from tracker_helpers import ACTOR, SAMPLES

PASSWORD = "a long enough secret"
OWNER = ACTOR


@pytest.fixture
def db(tmp_path):
    db = init_data_folder(tmp_path / "data")
    yield db
    db.close()


def add_staff(db, username="lee", role="practitioner", display_name="Dr Lee") -> int:
    with db.session() as s:
        user = access.add_user(s, OWNER, username, PASSWORD, role, display_name)
        s.commit()
        return user.id


def add_client(db, name="Ada Example") -> tuple[int, str]:
    with db.session() as s:
        client, code = records.add_client(s, ACTOR, name)
        s.commit()
        return client.id, code


def old_hash(secret: str) -> str:
    """A hash as the first release stored it: scrypt at n=2**14."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt${2**14}$8$1${salt.hex()}${digest.hex()}"


@pytest.fixture
def scrypt_calls(monkeypatch):
    """Counts every scrypt computed (the work a sign-in does)."""
    calls = []
    real = hashlib.scrypt

    def counting(*args, **kwargs):
        calls.append(kwargs.get("n"))
        return real(*args, **kwargs)

    monkeypatch.setattr(hashlib, "scrypt", counting)
    return calls


def test_secrets_use_scrypt_at_n_2_17_or_more(db):
    stored = access.hash_secret("x" * 12)
    _, n, r, p, salt, digest = stored.split("$")
    assert int(n) >= 2**17 and int(r) == 8 and len(bytes.fromhex(salt)) == 16
    assert access.verify_secret("x" * 12, stored) and not access.verify_secret("y" * 12, stored)


def test_unknown_and_known_accounts_cost_the_same_work(db, scrypt_calls):
    """Timing must not tell which usernames or client ids exist: each attempt computes one scrypt."""
    add_staff(db)
    add_client(db)
    with db.session() as s:
        for attempt in (lambda: access.authenticate(s, "lee", "wrong password!"),
                        lambda: access.authenticate(s, "nobody", "wrong password!"),
                        lambda: access.authenticate(s, "lee\x00" + "x" * 100, "wrong password!"),
                        lambda: access.client_for_code(s, "1-AAAA-AAAA"),
                        lambda: access.client_for_code(s, "999-AAAA-AAAA"),
                        lambda: access.client_for_code(s, "not a code")):
            scrypt_calls.clear()
            assert attempt() is None
            assert scrypt_calls == [access._N], "every failed attempt must cost exactly one full scrypt"


def test_old_hashes_verify_and_are_upgraded_at_sign_in(db):
    client_id, _ = add_client(db)
    with db.session() as s:
        s.add(User(username="old", display_name="Old", role="practitioner", password_hash=old_hash(PASSWORD)))
        s.get(Client, client_id).access_code_hash = old_hash(f"{client_id}-ABCD-EFGH")
        s.commit()
    with db.session() as s:
        access.sign_in_staff(s, "old", PASSWORD)
        access.sign_in_client(s, f"{client_id}-abcd-efgh")
    with db.session() as s:
        user = s.scalar(select(User).where(User.username == "old"))
        assert user.password_hash.startswith(f"scrypt${2**17}$")
        assert s.get(Client, client_id).access_code_hash.startswith(f"scrypt${2**17}$")
        assert access.authenticate(s, "old", PASSWORD) is not None


ODD_CODES = ["²-AAAA-AAAA", "1234567890123456789012345-AAAA-AAAA", "９９-AAAA-AAAA", "-", "", "1-AAAA",
             "1-AAAA-AAAA-AAAA", "1-AAAA-AAAA\x00", "1" * 400]


def test_odd_access_codes_are_refused_without_a_traceback(db):
    add_client(db)
    with db.session() as s:
        for code in ODD_CODES:
            with pytest.raises(access.SignInRefused, match="not valid"):
                access.sign_in_client(s, code)


def test_lockout_per_account_is_shared_by_every_process(db):
    add_staff(db)
    other_process = open_data_folder(db.folder.root)  # a second app process on the same data folder
    now = 1_000_000.0
    try:
        for _ in range(access.MAX_FAILURES):
            with db.session() as s, pytest.raises(access.SignInRefused, match="wrong password"):
                access.sign_in_staff(s, "lee", "wrong password!", now=now)
        with other_process.session() as s, pytest.raises(access.SignInRefused, match="Too many failed sign-ins"):
            access.sign_in_staff(s, "lee", PASSWORD, now=now + 60)
        # An unknown account locks the same way, so a lockout does not reveal which accounts exist.
        for _ in range(access.MAX_FAILURES):
            with db.session() as s, pytest.raises(access.SignInRefused, match="wrong password"):
                access.sign_in_staff(s, "nobody", "wrong password!", now=now)
        with db.session() as s, pytest.raises(access.SignInRefused, match="Too many"):
            access.sign_in_staff(s, "nobody", "wrong password!", now=now)
        with other_process.session() as s:
            assert access.sign_in_staff(s, "lee", PASSWORD, now=now + access.LOCKOUT_S + 1).username == "lee"
            # Success clears the count: the next mistake is not a lockout.
        with db.session() as s, pytest.raises(access.SignInRefused, match="wrong password"):
            access.sign_in_staff(s, "lee", "wrong password!", now=now + access.LOCKOUT_S + 2)
    finally:
        other_process.close()


def test_lockout_per_client_code(db):
    client_id, code = add_client(db)
    other_id, other_code = add_client(db, "Ben Example")
    now = 1_000_000.0
    for _ in range(access.MAX_FAILURES):
        with db.session() as s, pytest.raises(access.SignInRefused, match="not valid"):
            access.sign_in_client(s, f"{client_id}-AAAA-AAAA", now=now)
    with db.session() as s:
        with pytest.raises(access.SignInRefused, match="Too many"):
            access.sign_in_client(s, code, now=now)
        assert access.sign_in_client(s, other_code, now=now).client_id == other_id  # other clients unaffected
        assert access.sign_in_client(s, code, now=now + access.LOCKOUT_S + 1).client_id == client_id


def test_migration_0003_upgrades_a_0001_database(tmp_path):
    """A database at the first release's schema gains the sign-in table; its accounts still sign in."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    command.upgrade(alembic_config(engine), "0001")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO users (username, display_name, role, password_hash, active, created_at) "
                          "VALUES ('ada', 'Ada', 'admin', :h, 1, '2026-01-01 00:00:00')"), {"h": old_hash(PASSWORD)})
    assert "sign_in_failures" not in inspect(engine).get_table_names()
    engine.dispose()
    db = open_data_folder(tmp_path, url)  # upgrades to the newest revision
    try:
        assert "sign_in_failures" in inspect(db.engine).get_table_names()
        with db.session() as s:
            with pytest.raises(access.SignInRefused):
                access.sign_in_staff(s, "ada", "wrong password!")
            assert access.sign_in_staff(s, "ada", PASSWORD).role == "admin"
    finally:
        db.close()


def test_a_session_ends_when_its_credential_changes(db):
    """The check every page run makes (``access.current``)."""
    add_staff(db, "lee")
    add_staff(db, "kim")
    add_staff(db, "max")
    client_id, code = add_client(db)
    with db.session() as s:
        lee, kim, max_ = (access.sign_in_staff(s, name, PASSWORD) for name in ("lee", "kim", "max"))
        client = access.sign_in_client(s, code)
        assert access.current(s, lee) == lee and access.current(s, client) == client
        access.deactivate_user(s, OWNER, "lee")
        access.reset_password(s, OWNER, "kim")
        s.scalar(select(User).where(User.username == "max")).role = "admin"
        records.reset_access_code(s, ACTOR, client_id)
        s.commit()
        assert access.current(s, lee) is None and access.current(s, kim) is None and access.current(s, max_) is None
        assert access.current(s, client) is None
        client = access.sign_in_client(s, records.reset_access_code(s, ACTOR, client_id))
        s.commit()
    clientdata.erase_client(db, db.store, ACTOR, client_id)
    with db.session() as s:
        # Even if a new client were given the erased client's id, the old session does not open it.
        reused = Client(id=client_id, name="Someone New", clinic_id=1)
        s.add(reused)
        s.flush()
        reused.access_code_hash = access.hash_secret(access.new_access_code(client_id))
        s.commit()
        assert access.current(s, client) is None
        assert access.current(s, access.owner("cli")) is None  # no database account: never an app session


def test_only_an_admin_manages_staff_accounts(db):
    add_staff(db, "boss", "admin", "The Boss")
    add_staff(db, "lee")
    with db.session() as s:
        boss = access.sign_in_staff(s, "boss", PASSWORD)
        lee = access.sign_in_staff(s, "lee", PASSWORD)
        for by in (lee, None, access.Viewer("client", "client", client_id=1)):
            with pytest.raises(NotAllowed, match="admin"):
                access.add_user(s, by, "eve", PASSWORD, "admin")
            with pytest.raises(NotAllowed):
                access.list_users(s, by)
            with pytest.raises(NotAllowed):
                access.deactivate_user(s, by, "boss")
            with pytest.raises(NotAllowed):
                access.reset_password(s, by, "boss", "new password here")
        assert [u.username for u in access.list_users(s, boss)] == ["boss", "lee"]
        with pytest.raises(RecordError, match="last active admin"):
            access.deactivate_user(s, boss, "boss")
        temporary = access.reset_password(s, boss, "lee")
        assert len(temporary) >= access.MIN_PASSWORD
        with pytest.raises(access.SignInRefused):
            access.sign_in_staff(s, "lee", PASSWORD)
        assert access.sign_in_staff(s, "lee", temporary).username == "lee"
        # The first admin can be set up only while no staff account exists.
        with pytest.raises(NotAllowed, match="exists already"):
            access.create_first_admin(s, "eve", PASSWORD)


def test_the_audit_log_names_the_unique_username(db):
    add_staff(db, "boss", "admin", "Dr Same Name")
    with db.session() as s:
        boss = access.sign_in_staff(s, "boss", PASSWORD)
        assert (boss.username, boss.display_name, boss.name) == ("boss", "Dr Same Name", "boss")
        access.add_user(s, boss, "lee", PASSWORD, "practitioner", "Dr Same Name")
        s.commit()
        actors = set(s.scalars(select(AuditEvent.actor)))
        assert "boss" in actors and "Dr Same Name" not in actors


@pytest.mark.parametrize("username,display_name,message", [
    ("Lee Smith", "", "lower-case"), ("../lee", "", "lower-case"), ("lee", "Dr\nLee", "one line")])
def test_usernames_and_names_are_plain(db, username, display_name, message):
    with db.session() as s, pytest.raises(RecordError, match=message):
        access.add_user(s, OWNER, username, PASSWORD, "practitioner", display_name)


def test_cli_manages_staff_accounts_as_the_owner(tmp_path, capsys, monkeypatch):
    data = tmp_path / "data"

    def run(*argv, stdin=""):
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        code = main(["--data", str(data), "--actor", "owner", *argv])
        out = capsys.readouterr()
        return code, out.out, out.err

    assert run("init")[0] == 0
    assert run("user", "add", "boss", "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n")[0] == 0
    assert run("user", "add", "lee", "--role", "practitioner", "--name", "Dr Lee", "--password-stdin",
               stdin=PASSWORD + "\n")[0] == 0
    code, out, _ = run("user", "list")
    assert code == 0 and "boss" in out and "Dr Lee" in out and out.count("active") == 2
    code, out, _ = run("user", "reset-password", "lee", "--temporary")
    temporary = out.rsplit(": ", 1)[1].strip()
    assert code == 0 and "shown once" in out and len(temporary) >= 10
    assert run("user", "reset-password", "boss", "--password-stdin", stdin="another long secret\n")[0] == 0
    assert run("user", "deactivate", "lee")[0] == 0
    code, _, err = run("user", "deactivate", "boss")
    assert code == 2 and "last active admin" in err
    code, _, err = run("user", "deactivate", "nobody")
    assert code == 2 and "no user 'nobody'" in err
    code, out, _ = run("user", "list")
    assert "deactivated" in out
    db = open_data_folder(data)
    with db.session() as s:
        assert access.authenticate(s, "lee", temporary) is None  # deactivated
        assert access.authenticate(s, "boss", "another long secret") is not None
        assert {e.actor for e in s.scalars(select(AuditEvent).where(AuditEvent.entity == "user"))} == {"owner"}
    db.close()


def test_the_server_config_is_safe_by_default():
    """Major 2: loopback only, no usage statistics, no error details for users, a minimal toolbar."""
    config = tomllib.loads((SAMPLES.parent / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "127.0.0.1"
    assert config["browser"]["gatherUsageStats"] is False
    assert config["client"]["showErrorDetails"] == "none"
    assert config["client"]["toolbarMode"] == "minimal"


def test_the_idle_timeout_is_configurable(monkeypatch):
    monkeypatch.delenv("TRACKER_IDLE_MINUTES", raising=False)
    assert access.idle_timeout_s() == 30 * 60
    monkeypatch.setenv("TRACKER_IDLE_MINUTES", "5")
    assert access.idle_timeout_s() == 5 * 60
    monkeypatch.setenv("TRACKER_IDLE_MINUTES", "soon")
    assert access.idle_timeout_s() == 30 * 60
