"""Security and data safety, round 3 (issue 16): the photo store, sign-in, workers and minors.

Each test fails on the code before its fix. The module is in the backend
matrix (see conftest): races run on SQLite and the photo folder and on
PostgreSQL and S3, where the store's lock is an advisory lock. Each wait is
bounded.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time

import pytest
from sqlalchemy import event, select, text

from tracker import access, clientdata, limits, photos, records
from tracker.cli import main as tracker_main
from tracker.errors import RecordError
from tracker.db import open_data_folder
from tracker.models import Client, PendingDeletion, Photo
from tracker.photos import Incoming, import_photos
from tracker.photostore import FolderStore, StoreProblem
from tracker_helpers import ACTOR, client_with_course, sample_bytes

pytestmark = pytest.mark.backends

WAIT_S = 60  # the longest any thread in these tests may take (the machine is shared)


# --- 16.3: removing another client's photo never deletes an original a record uses -----------------

def test_removing_a_wrong_client_photo_keeps_the_original_an_import_is_filing(db, monkeypatch):
    """The photo is filed under the right client while it is removed from the wrong one: an import of the same
    bytes has stored them and is about to commit when the removal's commit deletes the original.

    The interleaving is forced: the import runs between the removal's commit and its deletion of the original
    (a listener that runs before the removal's own), and may commit only once the removal asks for the store's
    exclusive lock (before the fix it never asked, and deleted at once)."""
    wrong = client_with_course(db, "Ada Example", sessions=1)
    right = client_with_course(db, "Bea Other", sessions=1, with_photos=False)
    data = sample_bytes(1)
    stored, go, failed = threading.Event(), threading.Event(), []

    def file_under_the_right_client():
        try:
            with db.session() as s:
                import_photos(s, db.store, ACTOR, right["sessions"][0], [Incoming("session-1-front.jpg", data)])
                stored.set()  # the original is in the store, its row not yet committed
                go.wait(WAIT_S)
                s.commit()
        except Exception as exc:  # reported by the test, not lost in the thread
            failed.append(exc)
            stored.set()

    importer = threading.Thread(target=file_under_the_right_client)
    acquire = db.store.acquire

    def acquire_then_let_the_import_commit(exclusive, *args, **kwargs):
        if exclusive:
            go.set()
        return acquire(exclusive, *args, **kwargs)

    monkeypatch.setattr(db.store, "acquire", acquire_then_let_the_import_commit)

    def between_commit_and_delete(_s):
        importer.start()
        assert stored.wait(WAIT_S)

    with db.session() as s:
        event.listen(s, "after_commit", between_commit_and_delete, once=True)  # before remove_photo's own
        photos.remove_photo(s, db.store, ACTOR, wrong["photos"][0], "wrong_client")
        s.commit()
    go.set()
    importer.join(WAIT_S)
    assert not importer.is_alive() and not failed, failed
    with db.session() as s:
        (digest,) = s.scalars(select(Photo.sha256)).all()
    assert db.store.verify({digest}) == []
    assert db.store.get(digest) == data


def test_removing_a_wrong_client_photo_still_deletes_its_unused_original(db):
    ids = client_with_course(db, sessions=1)
    with db.session() as s:
        digest = s.get(Photo, ids["photos"][0]).sha256
        photos.remove_photo(s, db.store, ACTOR, ids["photos"][0], "wrong_client")
        s.commit()
    assert not db.store.exists(digest)


# --- 16.6 and 16.7: sign-in attempts are counted before hashing; hashing is bounded -------------------

PASSWORD = "a long enough secret"


class Hashes:
    """Stands in for scrypt (the work of a sign-in): each call takes ``seconds``; counts calls and the most
    running at once. Its output never matches a stored hash."""

    def __init__(self, seconds: float):
        self.seconds, self.calls, self.running, self.most = seconds, 0, 0, 0
        self.lock = threading.Lock()

    def __call__(self, secret, **params):
        with self.lock:
            self.calls += 1
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(self.seconds)
        with self.lock:
            self.running -= 1
        return bytes(64)


def at_once(count: int, attempt) -> list[str]:
    """Run ``attempt(i)`` in ``count`` threads released together, each with its own session (connection);
    returns each one's outcome: the SignInRefused message, or "signed in"."""
    start, outcomes = threading.Barrier(count), [None] * count

    def run(i):
        start.wait(WAIT_S)
        try:
            attempt(i)
            outcomes[i] = "signed in"
        except access.SignInRefused as exc:
            outcomes[i] = exc.message

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_S)
    assert not any(t.is_alive() for t in threads)
    return outcomes


def add_staff(db) -> None:
    with db.session() as s:
        access.add_user(s, ACTOR, "lee", PASSWORD, "practitioner", "Dr Lee")
        s.commit()


@pytest.mark.parametrize("who", ["staff", "client"])
def test_concurrent_wrong_sign_ins_reach_the_hash_at_most_the_limit(db, monkeypatch, who):
    """12 wrong passwords (or codes) for one account at once: before the fix every one was hashed (the count
    was read before hashing and written after), so the lockout let 12 guesses through instead of 5."""
    if who == "staff":
        add_staff(db)
        guess = lambda s: access.sign_in_staff(s, "lee", "wrong password!")  # noqa: E731
    else:
        with db.session() as s:
            client, _ = records.add_client(s, ACTOR, "Ada Example")
            s.commit()
        guess = lambda s: access.sign_in_client(s, f"{client.id}-AAAA-AAAA")  # noqa: E731
    hashes = Hashes(0.3)
    monkeypatch.setattr(hashlib, "scrypt", hashes)

    def attempt(_i):
        with db.session() as s:
            guess(s)

    outcomes = at_once(12, attempt)
    assert hashes.calls == access.MAX_FAILURES
    assert sum("Too many failed sign-ins" in o for o in outcomes) == 12 - access.MAX_FAILURES
    with db.session() as s, pytest.raises(access.SignInRefused, match="Too many failed sign-ins"):
        guess(s)  # and the key is locked


@pytest.mark.only_default_backend
def test_no_more_hashes_than_the_limit_run_at_once(db, monkeypatch):
    """12 sign-ins to 12 accounts at once (each hash needs 128 MiB: 12 took 1.7 GB before the fix); they
    queue for the process's hashes and are all answered."""
    hashes = Hashes(0.3)
    monkeypatch.setattr(hashlib, "scrypt", hashes)

    def attempt(i):
        with db.session() as s:
            access.sign_in_staff(s, f"nobody{i}", "wrong password!")

    outcomes = at_once(12, attempt)
    assert outcomes == ["Unknown username or wrong password."] * 12
    assert hashes.calls == 12 and 1 < hashes.most <= limits.CONCURRENT_HASHES


@pytest.mark.only_default_backend
def test_a_sign_in_that_waits_too_long_for_a_hash_is_refused_clearly(db, monkeypatch):
    hashes = Hashes(1.0)
    monkeypatch.setattr(hashlib, "scrypt", hashes)
    monkeypatch.setattr(limits, "HASH_WAIT_S", 0.1)

    def attempt(i):
        with db.session() as s:
            access.sign_in_staff(s, f"nobody{i}", "wrong password!")

    outcomes = at_once(2 * limits.CONCURRENT_HASHES, attempt)
    assert outcomes.count("The server is busy checking other sign-ins: try again in a minute.") \
        == limits.CONCURRENT_HASHES
    assert hashes.most == limits.CONCURRENT_HASHES


# --- minor (c): storing the right bytes again repairs a corrupt original --------------------------------

def corrupt(store, digest: str) -> None:
    """Damage a stored original in place, as a failing disk or a careless hand would."""
    if isinstance(store, FolderStore):
        path = store.path(digest)
        path.chmod(0o600)
        path.write_bytes(b"not the photo")
        path.chmod(0o400)
    else:
        store.client.put_object(Bucket=store.bucket, Key=store.key(digest), Body=b"not the photo")


def test_storing_the_right_bytes_again_repairs_a_corrupt_original(db):
    data = sample_bytes(1)
    with db.store.locked(exclusive=False):
        digest = db.store.put(data)
        corrupt(db.store, digest)
        assert db.store.verify({digest}) == [StoreProblem(digest, "corrupt")]
        assert db.store.put(data) == digest
    assert db.store.verify({digest}) == [] and db.store.get(digest) == data


# --- minor (g): common passwords are refused ------------------------------------------------------------

@pytest.mark.only_default_backend
@pytest.mark.parametrize("password", ["1234567890", "QwertyUiop", "  1q2w3e4r5t  ", "iloveyou12"])
def test_a_common_password_is_refused_whatever_its_case(db, password):
    with db.session() as s:
        with pytest.raises(RecordError, match="one of the most common"):
            access.add_user(s, ACTOR, "lee", password, "practitioner")
        user = access.add_user(s, ACTOR, "lee", PASSWORD, "practitioner")
        with pytest.raises(RecordError, match="one of the most common"):
            access.reset_password(s, ACTOR, user.username, password)


@pytest.mark.only_default_backend
def test_the_common_password_list_is_shipped_and_long_enough():
    common = access._common_passwords()
    assert len(common) > 1500 and all(len(p) >= access.MIN_PASSWORD for p in common)
    assert all(p == p.lower() for p in common)


# --- minor (f): a command's error line carries no SQL parameters ------------------------------------------

REFUSE_CLIENTS = {
    "sqlite": ["CREATE TRIGGER refuse BEFORE INSERT ON clients BEGIN SELECT RAISE(ABORT, 'refused'); END"],
    "postgresql": ["CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$ "
                   "LANGUAGE plpgsql",
                   "CREATE TRIGGER refuse BEFORE INSERT ON clients FOR EACH ROW EXECUTE FUNCTION refuse()"]}


def test_a_database_error_is_one_line_without_the_personal_data_it_was_writing(db, capsys):
    with db.engine.begin() as conn:
        for statement in REFUSE_CLIENTS[db.engine.dialect.name]:
            conn.execute(text(statement))
    code = tracker_main(["--data", str(db.folder.root), "client", "add", "--name", "Ada Secretname",
                         "--contact", "ada.private@example.org", "--dob", "1985-12-10"])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("error: the command failed and saved nothing") and "refused" in err
    assert err.count("\n") == 1
    assert not any(word in err for word in ("Secretname", "ada.private", "1985", "parameters", "INSERT"))


# --- minor (d): free text is bounded -------------------------------------------------------------------

def test_a_name_or_a_note_too_long_is_refused_clearly_and_nothing_is_written(db):
    with db.session() as s:
        with pytest.raises(RecordError, match=r"the client name is 200,000 characters long: at most 200"):
            records.add_client(s, ACTOR, "A" * 200_000)
        s.rollback()
        client, _ = records.add_client(s, ACTOR, "Ada Example", notes="n" * limits.TEXT_CHARS)
        s.commit()
        client_id = client.id
        with pytest.raises(RecordError, match=r"the client notes is 10,001 characters long"):
            records.update_client(s, ACTOR, client_id, "longer notes", notes="n" * (limits.TEXT_CHARS + 1))
            s.flush()
        s.rollback()
    with db.session() as s:
        assert [c.name for c in s.scalars(select(Client))] == ["Ada Example"]
        assert len(s.get(Client, client_id).notes) == limits.TEXT_CHARS


# --- minor (a): erasure never says done while the name is still in tracker.db --------------------------

@pytest.mark.only_default_backend  # the SQLite write-ahead log
def test_erasure_says_so_while_a_reader_keeps_the_name_in_the_database_then_finishes(db, monkeypatch):
    monkeypatch.setattr(clientdata, "CHECKPOINT_WAIT_S", 0.2)
    ids = client_with_course(db, "Zelda Unforgettable", sessions=1)
    reader = sqlite3.connect(db.folder.database_file)  # another program, in the middle of reading
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM clients").fetchone()
        with pytest.raises(clientdata.ErasureIncomplete, match="another program is reading the database"):
            clientdata.erase_client(db, db.store, ACTOR, ids["client"])
        with db.session() as s:
            assert s.get(Client, ids["client"]) is None and s.scalars(select(PendingDeletion)).all()
    finally:
        reader.close()
    reopened = open_data_folder(db.folder.root)  # any later command finishes the erasure
    reopened.close()
    with db.session() as s:
        assert not s.scalars(select(PendingDeletion)).all()
    for path in (db.folder.database_file, db.folder.database_file.with_name("tracker.db-wal")):
        assert not path.exists() or b"Unforgettable" not in path.read_bytes()
