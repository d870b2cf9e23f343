"""Security and data safety, round 3 (issue 16): the photo store, sign-in, workers and minors.

Each test fails on the code before its fix. The module is in the backend
matrix (see conftest): races run on SQLite and the photo folder and on
PostgreSQL and S3, where the store's lock is an advisory lock. Each wait is
bounded.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import event, select

from tracker import photos
from tracker.models import Photo
from tracker.photos import Incoming, import_photos
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
