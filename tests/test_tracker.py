"""The records layer on a real SQLite data folder: round trips, rules, consent, erasure, backup, crashes."""

from __future__ import annotations

import io
import json
import sqlite3
from datetime import date, timedelta

import pytest
from PIL import Image
from sqlalchemy import create_engine, func, inspect, select, text

from tracker import access, backup, clientdata, gallery, photos, progress, records
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from tracker.db import alembic_config, head_revision, migrate, open_data_folder
from tracker.errors import BadPhoto, DuplicatePhoto, DuplicateRecord, NeedsConfirmation, NotAllowed, RecordError
from tracker.models import AuditEvent, Base, Client, Photo, PhotoAnalysis, RecordVersion
from tracker.photostore import atomic_write, sha256_of
from tracker_helpers import ACTOR, client_with_course, injected, new_folder, sample_bytes

pytestmark = pytest.mark.backends

@pytest.mark.only_default_backend
def test_migration_builds_the_schema_on_an_empty_database(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    migrate(engine)
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables and "alembic_version" in tables
    migrate(engine)  # running again changes nothing
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == head_revision()
        assert conn.execute(text("PRAGMA journal_mode")).scalar() in ("wal", "delete")
        # The migrations build exactly the models' schema.
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


@pytest.mark.only_default_backend
def test_corrections_migration_upgrades_a_0001_database_with_records(tmp_path):
    """0004 adds history, chosen baselines, removed photos and stale analyses to a database made by 0001."""
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    command.upgrade(alembic_config(engine), "0001")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO clients (id, name, contact, notes, created_at) "
                          "VALUES (1, 'Ada', '', '', '2026-01-01')"))
        conn.execute(text("INSERT INTO courses (id, client_id, treatment, areas, planned_sessions, interval_days, "
                          "status, started_on) VALUES (1, 1, 't', '[]', 4, 28, 'active', '2026-01-12')"))
        conn.execute(text("INSERT INTO sessions (id, course_id, number, held_on, practitioner, technique, areas, "
                          "anaesthetic, notes, immediate_reactions, aftercare) "
                          "VALUES (1, 1, 1, '2026-01-12', 'Dr', 'gun', '[]', '', '', '', '')"))
        conn.execute(text("INSERT INTO photos (id, session_id, sha256, view, original_name, format, width, height, "
                          "size_bytes, imported_at) VALUES (1, 1, 'ab', 'front', 'a.jpg', 'JPEG', 1, 1, 1, "
                          "'2026-01-12')"))
        conn.execute(text("INSERT INTO photo_analyses (id, photo_id, analysis_version, created_at) "
                          "VALUES (1, 1, 'x', '2026-01-12')"))
    migrate(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT stale FROM photo_analyses")).scalar() == 0
        assert conn.execute(text("SELECT removed_at FROM photos")).scalar() is None
        assert set(inspect(engine).get_table_names()) >= {"record_versions", "view_baselines"}
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    command.downgrade(alembic_config(engine), "0001")
    assert "record_versions" not in inspect(engine).get_table_names()


@pytest.mark.only_default_backend
def test_data_folder_uses_wal(db):
    with db.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_every_record_round_trips(db, tmp_path):
    ids = client_with_course(db, sessions=2)
    with db.session() as s:
        photos.analyse_pending(s, db.store, ACTOR)
    again = open_data_folder(db.folder.root)
    with again.session() as s:
        client = s.get(Client, ids["client"])
        assert (client.name, client.date_of_birth, client.contact, client.fitzpatrick) == (
            "Ada Example", date(1985, 12, 10), "ada@example.org", 2)
        assert client.screenings[0].patch_test_result == "negative"
        assert client.screenings[0].open_contraindications == []
        assert sorted(c.kind for c in client.consents) == ["marketing", "photography", "treatment"]
        course = client.courses[0]
        assert (course.treatment, course.areas, course.planned_sessions, course.interval_days) == (
            "skin rejuvenation", ["face"], 4, 28)
        first, second = course.sessions
        assert (first.number, second.number, first.technique, first.practitioner) == (1, 2, "gun", "Dr Test")
        assert first.products[0].batch == "B1" and first.products[0].expiry == date(2027, 6, 30)
        photo = first.photos[0]
        assert photo.view == "front" and photo.sha256 == sha256_of(sample_bytes(1))
        assert photo.captured_at.date() == date(2026, 1, 12)  # from EXIF
        assert again.store.get(photo.sha256) == sample_bytes(1)  # byte for byte
        later = second.photos[0].analyses[0]
        assert later.reference_photo_id == photo.id and later.analysis_version
        assert later.result["change"]["redness_a_star"] == pytest.approx(injected(2), abs=0.2)
        actions = {(e.action, e.entity) for e in s.scalars(select(AuditEvent))}
        assert {("create", "client"), ("create", "consent"), ("import", "photo"), ("analyse", "photo")} <= actions
    again.close()


def test_access_codes_and_passwords_are_stored_hashed(db):
    with db.session() as s:
        client, code = records.add_client(s, ACTOR, "Ben Example")
        user = access.add_user(s, ACTOR, "ada", "correct horse battery", "practitioner")
        s.commit()
        assert code not in client.access_code_hash and "correct horse" not in user.password_hash
        assert access.client_for_code(s, code).id == client.id
        assert access.client_for_code(s, code.lower()).id == client.id
        assert access.client_for_code(s, f"{client.id}-AAAA-AAAA") is None
        assert access.authenticate(s, "ada", "correct horse battery").id == user.id
        assert access.authenticate(s, "ada", "wrong password!") is None
        with pytest.raises(RecordError, match="10 characters"):
            access.add_user(s, ACTOR, "bob", "short", "admin")
        with pytest.raises(RecordError, match="already exists"):
            access.add_user(s, ACTOR, "ada", "another long one", "admin")


@pytest.mark.only_default_backend
def test_a_client_sees_only_their_own_records():
    mine = access.Viewer("client", "client", client_id=3)
    assert access.may_see(mine, Client(id=3, clinic_id=1))
    assert not access.may_see(mine, Client(id=4, clinic_id=1)) and not access.may_see(mine, None)
    with pytest.raises(NotAllowed):
        access.require_staff(mine)
    staff = access.Viewer("dr", "practitioner", clinics=frozenset({1}))
    assert access.may_see(staff, Client(id=4, clinic_id=1)) and not access.may_see(staff, Client(id=5, clinic_id=2))
    assert access.may_see(access.owner("cli"), Client(id=5, clinic_id=2))  # the server's owner: every clinic
    with pytest.raises(NotAllowed):
        access.require_admin(staff)


def test_course_needs_screening_and_consent_or_an_override(db):
    with db.session() as s:
        client, _ = records.add_client(s, ACTOR, "Cara Example")
        with pytest.raises(NotAllowed, match="treatment consent"):
            records.start_course(s, ACTOR, client.id, "hair loss", ["scalp"], 4, 28, date(2026, 2, 1))
        records.give_consent(s, ACTOR, client.id, "treatment", date(2026, 1, 1), "Cara Example")
        with pytest.raises(NotAllowed, match="no screening"):
            records.start_course(s, ACTOR, client.id, "hair loss", ["scalp"], 4, 28, date(2026, 2, 1))
        records.record_screening(s, ACTOR, client.id, date(2026, 1, 20), {"anticoagulants_or_aspirin"})
        with pytest.raises(NotAllowed, match="anticoagulants or aspirin"):
            records.start_course(s, ACTOR, client.id, "hair loss", ["scalp"], 4, 28, date(2026, 2, 1))
        course = records.start_course(s, ACTOR, client.id, "hair loss", ["scalp"], 4, 28, date(2026, 2, 1),
                                      override_reason="aspirin stopped 10 days before, GP letter on file")
        assert course.override_reason.startswith("aspirin stopped") and course.override_by == ACTOR.name
        with pytest.raises(RecordError, match="expired"):
            records.add_session(s, ACTOR, course.id, date(2026, 2, 1), "Dr", "manual",
                                products=[{"product": "X", "batch": "1", "expiry": date(2026, 1, 1)}])
        with pytest.raises(RecordError, match="technique"):
            records.add_session(s, ACTOR, course.id, date(2026, 2, 1), "Dr", "laser")


def test_photo_import_refuses_bad_input_and_keeps_nothing(db):
    ids = client_with_course(db, sessions=1, with_photos=False)
    session_id = ids["sessions"][0]
    with db.session() as s:
        with pytest.raises(BadPhoto) as bad:
            photos.import_photos(s, db.store, ACTOR, session_id, [
                photos.Incoming("good.jpg", sample_bytes(1)), photos.Incoming("notes.txt", b"not a photo")])
        assert bad.value.code == "not_an_image" and "notes.txt" in bad.value.message
        s.rollback()
        assert s.scalar(select(Photo).where(Photo.session_id == session_id)) is None
    assert db.store.all_hashes() == set()  # every file is checked before anything is written
    with db.session() as s:
        photos.import_photos(s, db.store, ACTOR, session_id, [photos.Incoming("a.jpg", sample_bytes(1))])
        s.commit()
        with pytest.raises(DuplicatePhoto):
            photos.import_photos(s, db.store, ACTOR, session_id, [photos.Incoming("again.jpg", sample_bytes(1))])


def test_photos_need_photography_consent(db):
    ids = client_with_course(db, sessions=1, with_photos=False)
    with db.session() as s:
        records.withdraw_consent(s, ACTOR, ids["client"], "photography", date(2026, 1, 10))
        with pytest.raises(NotAllowed, match="photography consent"):
            photos.import_photos(s, db.store, ACTOR, ids["sessions"][0], [photos.Incoming("a.jpg", sample_bytes(1))])


def test_an_import_killed_half_way_leaves_the_store_consistent(db, monkeypatch):
    ids = client_with_course(db, sessions=2, with_photos=False)
    real_put, calls = type(db.store).put, []

    def crash_after_one(self, data):
        if calls:
            raise KeyboardInterrupt("power cut")
        calls.append(1)
        return real_put(self, data)

    monkeypatch.setattr(type(db.store), "put", crash_after_one)
    items = [photos.Incoming(f"{n}.jpg", sample_bytes(n)) for n in (1, 2, 3)]
    with db.session() as s, pytest.raises(KeyboardInterrupt):
        photos.import_photos(s, db.store, ACTOR, ids["sessions"][0], items)
    monkeypatch.setattr(type(db.store), "put", real_put)
    with db.session() as s:
        referenced = set(s.scalars(select(Photo.sha256)))
    assert referenced == set()  # no half record
    assert db.store.verify(referenced) == []
    assert len(db.store.collect_garbage(lambda: referenced)) == 1  # the one original written before the cut
    assert db.store.all_hashes() == set()
    with db.session() as s:  # the same import now succeeds
        assert len(photos.import_photos(s, db.store, ACTOR, ids["sessions"][0], items)) == 3
        s.commit()


@pytest.mark.only_default_backend
def test_atomic_write_never_leaves_a_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "photo.jpg"

    def fail(*_):
        raise OSError("disk full")

    monkeypatch.setattr("os.replace", fail)
    with pytest.raises(OSError):
        atomic_write(target, b"x" * 10_000)
    assert not target.exists() and list(tmp_path.iterdir()) == []


def test_withdrawn_marketing_consent_keeps_a_client_out_of_later_galleries(db, tmp_path):
    ada = client_with_course(db, "Ada Example", sessions=2)
    ben = client_with_course(db, "Ben Example", sessions=2)
    private = client_with_course(db, "Cy Private", sessions=2, marketing=False)
    with db.session() as s:
        photos.analyse_pending(s, db.store, ACTOR)  # a gallery offers only pairs judged comparable
        before = gallery.export_gallery(s, db.store, ACTOR, tmp_path / "g1", date(2026, 5, 1))
        offered = {p.client_id for p in gallery.eligible_pairs(s, ACTOR, date(2026, 5, 1))}
        assert offered == {ada["client"], ben["client"]}
        records.withdraw_consent(s, ACTOR, ada["client"], "marketing", date(2026, 5, 2))
        s.commit()
        assert gallery.eligible_pairs(s, ACTOR, date(2026, 5, 1))  # the past is unchanged ...
        after = gallery.export_gallery(s, db.store, ACTOR, tmp_path / "g2", date(2026, 5, 3))
        s.commit()
    assert len(before) == 2 and len(after) == 1
    assert after[0].name.startswith(f"course{ben['course']}-")
    with db.session() as s:  # never consented to marketing: in no gallery at any date
        assert private["client"] not in {p.client_id for p in gallery.eligible_pairs(s, ACTOR, date(2026, 5, 1))}


def test_gallery_images_carry_no_exif(db, tmp_path):
    ids = client_with_course(db, sessions=1)
    exif = Image.Exif()
    exif.get_ifd(0x8825)[2] = (51.0, 30.0, 0.0)  # GPS latitude in the original
    buf = io.BytesIO()
    Image.open(io.BytesIO(sample_bytes(2))).save(buf, format="JPEG", exif=exif.tobytes())
    assert Image.open(io.BytesIO(buf.getvalue())).getexif().get_ifd(0x8825)
    with db.session() as s:
        ses = records.add_session(s, ACTOR, ids["course"], date(2026, 2, 9), "Dr", "gun")
        photos.import_photos(s, db.store, ACTOR, ses.id, [photos.Incoming("gps.jpg", buf.getvalue())])
        photos.analyse_pending(s, db.store, ACTOR)
        written = gallery.export_gallery(s, db.store, ACTOR, tmp_path / "g", date(2026, 5, 1))
    exported = Image.open(written[0])
    assert not exported.getexif() and "exif" not in exported.info
    with db.session() as s:  # de-identified: the file names carry no course id or typed view (issue 16)
        hidden = gallery.export_gallery(s, db.store, ACTOR, tmp_path / "d", date(2026, 5, 1), mode="mask_eyes")
    assert [p.name for p in hidden] == ["pair-1.png"] and written[0].name.startswith(f"course{ids['course']}-front")


def test_erasure_leaves_no_photo_row_or_cache_file(db):
    keep = client_with_course(db, "Keep Example", sessions=1, with_photos=False)
    gone = client_with_course(db, "Zelda Erasable", sessions=2)
    with db.session() as s:
        photos.analyse_pending(s, db.store, ACTOR)
        hashes = set(s.scalars(select(Photo.sha256).where(Photo.id.in_(gone["photos"]))))
    for digest in hashes:
        atomic_write(db.store.cache_dir(digest) / "thumb.png", b"derived")
    clientdata.erase_client(db, db.store, ACTOR, gone["client"])
    with db.session() as s:
        assert s.get(Client, gone["client"]) is None and s.get(Client, keep["client"]) is not None
        assert s.scalar(select(Photo).where(Photo.id.in_(gone["photos"]))) is None
        assert s.scalar(select(PhotoAnalysis).where(PhotoAnalysis.photo_id.in_(gone["photos"]))) is None
        events = list(s.scalars(select(AuditEvent).where(AuditEvent.client_id == gone["client"])))
        assert events == []
    assert not any(db.store.exists(h) or db.store.cache_dir(h).exists() for h in hashes)
    if db.folder.database_file is None:
        return  # PostgreSQL: the rows are gone (above); its files are the server's
    # Nothing of the client is left in the database file or its write-ahead log.
    files = [db.folder.database_file, db.folder.database_file.with_name("tracker.db-wal")]
    assert not any(b"Zelda Erasable" in f.read_bytes() for f in files if f.exists())
    with sqlite3.connect(db.folder.database_file) as conn:
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'"):
            cols = [c[1] for c in conn.execute(f"PRAGMA table_info({table})")]
            if "client_id" in cols and table != "audit_events":
                left = conn.execute(f"SELECT count(*) FROM {table} WHERE client_id=?", (gone["client"],))
                assert left.fetchone()[0] == 0


def test_erasure_keeps_an_original_another_record_still_uses(db):
    keep = client_with_course(db, "Keep Example", sessions=1)
    gone = client_with_course(db, "Zelda Erasable", sessions=2)  # same sample photo in session 1
    clientdata.erase_client(db, db.store, ACTOR, gone["client"])
    assert db.store.exists(sha256_of(sample_bytes(1))) and not db.store.exists(sha256_of(sample_bytes(2)))
    with db.session() as s:
        assert db.store.verify(set(s.scalars(select(Photo.sha256)))) == []
        assert s.get(Client, keep["client"]) is not None


def test_export_holds_the_records_the_originals_the_history_and_who_accessed_them(db, tmp_path):
    ids = client_with_course(db, sessions=2)
    with db.session() as s:
        records.update_client(s, ACTOR, ids["client"], "moved house", contact="ada@new.example")
        photos.remove_photo(s, db.store, ACTOR, ids["photos"][1], "unusable")
        s.commit()
        path = clientdata.export_client(s, db.store, ACTOR, ids["client"], tmp_path / "export")
        s.commit()
    record = json.loads(path.read_text())
    assert record["client"]["name"] == "Ada Example" and "access_code_hash" not in record["client"]
    assert record["client"]["contact"] == "ada@new.example" and record["client"]["clinic"] == "Main clinic"
    sessions = record["courses"][0]["sessions"]
    assert len(sessions) == 2 and all("hexsel" in x for x in sessions)
    removed = sessions[1]["photos"][0]
    assert removed["id"] == ids["photos"][1] and removed["removed_reason"] == "unusable"  # held until erasure
    exported = sorted((tmp_path / "export" / "photos").iterdir())
    assert [p.read_bytes() for p in exported] == [sample_bytes(1), sample_bytes(2)]
    corrected = [v for v in record["history"] if v["entity"] == "client"]
    assert [(v["previous"], v["reason"], v["actor"]) for v in corrected] == [
        ({"contact": "ada@example.org"}, "moved house", ACTOR.name)]
    assert {"create", "change"} <= {e["action"] for e in record["access_log"]}
    assert all(e["at"] and "actor" not in e for e in record["access_log"])  # when, not which member of staff


def test_backup_then_restore_gives_identical_hashes(db, tmp_path, backend):
    client_with_course(db, sessions=2)
    archive = tmp_path / "backup.zip"
    manifest = backup.backup(db.folder, archive, actor=ACTOR)
    target = new_folder(backend, tmp_path / "restored")
    backup.restore(archive, target, actor=ACTOR)
    restored = open_data_folder(target.root, target.database_url, target.photo_store)
    assert restored.store.all_hashes() == db.store.all_hashes() and len(manifest["files"]) == 3
    assert restored.store.verify(restored.store.all_hashes()) == []
    with db.session() as a, restored.session() as b:
        rows = lambda s: [(c.id, c.name, len(c.courses[0].sessions)) for c in s.scalars(select(Client))]  # noqa: E731
        assert rows(a) == rows(b)
    restored.close()
    with pytest.raises(RecordError, match="not empty"):
        backup.restore(archive, target, actor=ACTOR)


def test_a_damaged_backup_is_refused_before_anything_is_written(db, tmp_path, backend):
    client_with_course(db, sessions=1)
    archive = tmp_path / "backup.zip"
    backup.backup(db.folder, archive, actor=ACTOR)
    data = bytearray(archive.read_bytes())
    start = data.find(b"\xff\xd8\xff")  # inside the stored photo
    data[start + 5000:start + 5010] = b"0123456789"
    damaged = tmp_path / "damaged.zip"
    damaged.write_bytes(bytes(data))
    target = new_folder(backend, tmp_path / "target")
    with pytest.raises(RecordError, match="damaged|readable"):
        backup.restore(damaged, target, actor=ACTOR)
    assert not (tmp_path / "target").exists()
    if target.database_file is None:  # PostgreSQL: the database is left as empty as it was
        assert inspect(create_engine(target.database_url)).get_table_names() == []


def test_course_progress_lists_each_session_change(db):
    ids = client_with_course(db, sessions=3)
    with db.session() as s:
        photos.analyse_pending(s, db.store, ACTOR)
        rows = progress.course_progress(s, ACTOR, records.get_course(s, ACTOR, ids["course"]))
    assert [r.status for r in rows] == ["baseline", "compared", "compared"]
    redness = [r.change("redness_a_star") for r in rows[1:]]
    assert redness[0].change == pytest.approx(injected(2), abs=0.2)
    assert redness[1].change == pytest.approx(injected(3), abs=0.2)
    # The bound comes from real re-captures: a* -1 (session 2) is within it, a* -2 (session 3) beyond.
    assert abs(injected(2)) < redness[0].bound < abs(injected(3))
    assert [c.verdict for c in redness] == [progress.WITHIN, progress.BEYOND]
    assert "redness down" in rows[2].change("redness_a_star").sentence()


def test_client_overview_counts_courses_and_sessions(db):
    client_with_course(db, "Ada Example", sessions=2, with_photos=False)
    with db.session() as s:
        rows = records.client_overview(s, ACTOR)
    assert [(r.name, r.courses, r.sessions, r.last_session) for r in rows] == [("Ada Example", 1, 2, date(2026, 2, 9))]


# --- corrections, history, session guards, due dates and recall (issue 9) ---------------------------

def test_dates_are_checked_not_dropped(db):
    with db.session() as s:
        with pytest.raises(RecordError, match="before 1900-01-01"):
            records.add_client(s, ACTOR, "Old", date(1899, 12, 31))
        with pytest.raises(RecordError, match="after"):
            records.add_client(s, ACTOR, "Unborn", date.today().replace(year=date.today().year + 1))
        with pytest.raises(RecordError, match="not a date"):
            records.add_client(s, ACTOR, "Typed", "1985/06/01")
        client, _ = records.add_client(s, ACTOR, "Eldest", date(1900, 1, 1))
        assert client.date_of_birth == date(1900, 1, 1)
        with pytest.raises(RecordError, match="consultation date"):
            records.record_screening(s, ACTOR, client.id, date(2999, 1, 1))
        with pytest.raises(RecordError, match="needs the date it was given"):
            records.give_consent(s, ACTOR, client.id, "treatment", None, "Eldest")


def test_a_session_out_of_order_beyond_the_plan_or_in_the_future_needs_confirmation(db):
    ids = client_with_course(db, sessions=0, with_photos=False)
    course = ids["course"]
    with db.session() as s:
        first = records.add_session(s, ACTOR, course, date(2026, 2, 9), "Dr", "gun")
        with pytest.raises(NeedsConfirmation, match="out of date order with session 1") as found:
            records.add_session(s, ACTOR, course, date(2026, 2, 1), "Dr", "gun")
        assert len(found.value.warnings) == 1
        second = records.add_session(s, ACTOR, course, date(2026, 2, 1), "Dr", "gun", confirmed=True)
        assert (first.number, second.number) == (1, 2)
        with pytest.raises(NeedsConfirmation, match="in the future"):
            records.add_session(s, ACTOR, course, date.today() + timedelta(days=3), "Dr", "gun")
        records.add_session(s, ACTOR, course, date(2026, 3, 9), "Dr", "gun")
        records.add_session(s, ACTOR, course, date(2026, 4, 6), "Dr", "gun")
        with pytest.raises(NeedsConfirmation, match="plans 4 sessions and this would be session 5"):
            records.add_session(s, ACTOR, course, date(2026, 5, 4), "Dr", "gun")
        with pytest.raises(RecordError, match="session date 2026-01-01 is before 2026-01-12"):
            records.add_session(s, ACTOR, course, date(2026, 1, 1), "Dr", "gun")
        records.set_course_status(s, ACTOR, course, "stopped", "client moved away")
        with pytest.raises(NeedsConfirmation, match="the course is stopped"):
            records.add_session(s, ACTOR, course, date(2026, 4, 20), "Dr", "gun", confirmed=False)
        s.commit()


def test_the_same_session_submitted_twice_is_recorded_once(db):
    course = client_with_course(db, sessions=0, with_photos=False)["course"]
    product = [{"product": "HA", "batch": "B1", "expiry": None, "volume_ml": 2.0}]
    with db.session() as s:
        records.add_session(s, ACTOR, course, date(2026, 1, 12), "Dr", "gun", products=product)
        s.commit()
    with db.session() as s:  # a second click: a new request, the same form
        with pytest.raises(DuplicateRecord, match="recorded moments ago"):
            records.add_session(s, ACTOR, course, date(2026, 1, 12), "Dr", "gun", products=product, confirmed=True)
        assert len(records.get_course(s, ACTOR, course).sessions) == 1


DR_A, DR_B = access.owner("dr.a"), access.owner("dr.b")


def test_corrections_keep_every_previous_version_and_erasure_removes_them(db):
    ids = client_with_course(db, sessions=1, with_photos=False)
    client_id = ids["client"]
    with db.session() as s:
        with pytest.raises(RecordError, match="needs a reason"):
            records.update_client(s, DR_A, client_id, "", name="Ada Corrected")
        assert records.update_client(s, DR_A, client_id, "typo in the name", name="Ada Corrected",
                                     date_of_birth=date(1985, 12, 1)) == ["date_of_birth", "name"]
        with pytest.raises(RecordError, match="nothing to change"):
            records.update_client(s, DR_A, client_id, "again", name="Ada Corrected")
        client = records.get_client(s, ACTOR, client_id)
        records.amend_screening(s, DR_B, client.screenings[0].id, "forgot aspirin", anticoagulants_or_aspirin=True)
        assert records.open_contraindications(client) == ["anticoagulants or aspirin"]
        treatment = next(c for c in client.consents if c.kind == "treatment")
        records.amend_consent(s, DR_B, treatment.id, "wrong date on the form", given_on=date(2026, 1, 4))
        records.set_course_status(s, DR_B, ids["course"], "stopped", "client moved away")
        records.amend_session(s, DR_B, ids["sessions"][0], "batch misread", notes="checked",
                              products=[{"product": "HA complex", "batch": "B9", "expiry": date(2027, 6, 30),
                                         "volume_ml": 3.0}])
        s.commit()
        trail = records.history(s, ACTOR, client_id)
        assert [(v.entity, v.actor) for v in trail][::-1] == [
            ("client", "dr.a"), ("screening", "dr.b"), ("consent", "dr.b"), ("course", "dr.b"), ("session", "dr.b")]
        assert trail[-1].previous == {"name": "Ada Example", "date_of_birth": "1985-12-10"}
        assert trail[-1].reason == "typo in the name"
        assert trail[0].previous["products"][0]["batch"] == "B1" and trail[0].previous["notes"] == ""
        assert trail[1].previous == {"status": "active"}
        assert records.get_course(s, ACTOR, ids["course"]).status == "stopped"
        assert [h.session_id for h in records.batch_recall(s, ACTOR, " b9 ")] == ids["sessions"]
        assert records.batch_recall(s, ACTOR, "B1") == []
    clientdata.erase_client(db, db.store, ACTOR, client_id)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(RecordVersion)) == 0


def test_next_session_due_and_the_due_list(db):
    ids = client_with_course(db, sessions=2, with_photos=False)  # sessions on 2026-01-12 and 2026-02-09, every 28 days
    with db.session() as s:
        course = records.get_course(s, ACTOR, ids["course"])
        assert records.next_due(course) == date(2026, 3, 9)
        due = records.due_courses(s, ACTOR, today=date(2026, 3, 12))
        assert [(d.course_id, d.days_overdue) for d in due] == [(ids["course"], 3)]
        assert records.due_courses(s, ACTOR, today=date(2026, 2, 20)) == []
        records.set_course_status(s, ACTOR, ids["course"], "completed", "done early")
        assert records.next_due(course) is None and records.due_courses(s, ACTOR, today=date(2026, 3, 12)) == []


def test_a_chosen_baseline_is_honoured_and_makes_old_analyses_stale(db):
    ids = client_with_course(db, sessions=3)
    first, second, third = ids["photos"]
    with db.session() as s:
        photos.analyse_pending(s, db.store, ACTOR)
        assert photos.first_of_view(s, ids["course"], "front").id == first
        with pytest.raises(RecordError, match="needs a reason"):
            photos.choose_baseline(s, ACTOR, second, " ")
        assert photos.choose_baseline(s, ACTOR, second, "session 1 was overexposed") == 3
        s.commit()
        assert photos.first_of_view(s, ids["course"], "front").id == second
        assert {p.id for p in photos.pending(s, ACTOR)} == {first, second, third}
        photos.analyse_pending(s, db.store, ACTOR)
        rows = {r.photo_id: r for r in progress.course_progress(s, ACTOR, records.get_course(s, ACTOR, ids["course"]))}
        assert rows[second].status == "baseline"
        assert photos.latest_analysis(s.get(Photo, first)).reference_photo_id == second
        (latest, *_) = records.history(s, ACTOR, ids["client"])
        assert latest.previous == {"view": "front", "photo_id": first, "chosen": False}


def test_a_removed_photo_leaves_progress_and_gallery_but_its_original_stays_until_erasure(db, tmp_path):
    ids = client_with_course(db, sessions=3)
    first, second, third = ids["photos"]
    with db.session() as s:
        photos.analyse_pending(s, db.store, ACTOR)
        digest = s.get(Photo, third).sha256
        with pytest.raises(RecordError, match="removal reason is one of"):
            photos.remove_photo(s, db.store, ACTOR, third, "because")
        photos.remove_photo(s, db.store, ACTOR, third, "unusable", "motion blur")
        s.commit()
        course = records.get_course(s, ACTOR, ids["course"])
        assert [r.photo_id for r in progress.course_progress(s, ACTOR, course)] == [first, second]
        assert [(p.before.id, p.after.id) for p in gallery.eligible_pairs(s, ACTOR)] == [(first, second)]
        assert photos.pending(s, ACTOR) == []
        removed = s.get(Photo, third)
        assert (removed.removed_reason, removed.removed_by) == ("unusable", ACTOR.name)
        (latest, *_) = records.history(s, ACTOR, ids["client"])
        assert latest.reason == "blurred, badly lit or otherwise unusable: motion blur"
        # Removing the baseline moves it to the next photo and makes the analyses stale.
        assert photos.remove_photo(s, db.store, ACTOR, first, "duplicate") >= 1
        s.commit()
        assert photos.first_of_view(s, ids["course"], "front").id == second
    assert db.store.exists(digest)  # kept until the client is erased
    clientdata.erase_client(db, db.store, ACTOR, ids["client"])
    assert not db.store.exists(digest)


@pytest.mark.parametrize("view", ["[x](http://evil.example)", "a/../b", "x" * 61, "front\nforged"])
def test_moving_a_photo_to_a_view_checks_the_name_like_an_import(db, view):
    """Issue 16.9: `photos move --view` and the app's "Move to view" skipped the body-area name check."""
    ids = client_with_course(db, sessions=1)
    with db.session() as s:
        with pytest.raises(RecordError, match="use front, left_45, right_45 or a body area's name"):
            photos.move_photo(s, ACTOR, ids["photos"][0], "typo", view=view)
        photos.move_photo(s, ACTOR, ids["photos"][0], "a body area", view=" left thigh ")
        assert s.get(Photo, ids["photos"][0]).view == "left thigh"


def test_another_clients_photo_is_deleted_with_its_original_once_committed(db):
    ids = client_with_course(db, sessions=2)
    first, second = ids["photos"]
    with db.session() as s:
        digest = s.get(Photo, second).sha256
        photos.remove_photo(s, db.store, ACTOR, second, "wrong_client")
        s.rollback()  # a failed transaction deletes nothing
    assert db.store.exists(digest)
    with db.session() as s:
        photos.remove_photo(s, db.store, ACTOR, second, "wrong_client")
        assert db.store.exists(digest)  # not before the commit
        s.commit()
        assert s.get(Photo, second) is None
        event = s.scalars(select(AuditEvent).where(AuditEvent.entity == "photo", AuditEvent.action == "delete")).one()
        assert (event.entity_id, event.detail) == (second, {"reason": "wrong_client"})
        assert not [v for v in records.history(s, ACTOR, ids["client"]) if v.entity == "photo"]
    assert not db.store.exists(digest)


def test_a_photo_moves_to_another_session_or_view_of_the_same_client_only(db):
    ids = client_with_course(db, sessions=2)
    other = client_with_course(db, "Olga Other", sessions=1, with_photos=False)
    first, second = ids["photos"]
    with db.session() as s:
        photos.analyse_pending(s, db.store, ACTOR)
        with pytest.raises(RecordError, match="same client"):
            photos.move_photo(s, ACTOR, second, "filed wrongly", session_id=other["sessions"][0])
        photos.move_photo(s, ACTOR, second, "it is the left view", view="left_45")
        s.commit()
        moved = s.get(Photo, second)
        assert moved.view == "left_45" and photos.latest_analysis(moved) is None
        assert photos.latest_analysis(s.get(Photo, first)) is not None  # front's baseline did not change
        assert records.history(s, ACTOR, ids["client"])[0].previous == {"view": "front"}
        session = records.add_session(s, ACTOR, ids["course"], date(2026, 3, 9), "Dr", "gun")
        photos.move_photo(s, ACTOR, second, "wrong session", session_id=session.id)
        s.commit()
        assert s.get(Photo, second).session.number == 3


def test_preview_needs_photography_consent_and_a_single_file_imports(db, tmp_path):
    ids = client_with_course(db, sessions=1, with_photos=False)
    with db.session() as s:
        records.withdraw_consent(s, ACTOR, ids["client"], "photography", date(2026, 1, 6))
        s.commit()
        with pytest.raises(NotAllowed, match="photography consent"):
            photos.capture_preview(s, db.store, ACTOR, ids["sessions"][0],
                                   photos.Incoming("a.jpg", b"not even decoded"))
    single = tmp_path / "one.jpg"
    single.write_bytes(sample_bytes(1))
    assert [i.name for i in photos.files_in(single)] == ["one.jpg"]
