"""A clinic group's backup and command line, on SQLite+folder and on PostgreSQL+S3 (the ``backends`` matrix):
incremental backups whose restore reproduces every row and every photo exactly, and ``check``, ``export``,
``erase``, ``gallery``, ``backup`` and ``restore`` from the command line on either store."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import date

import pytest
from sqlalchemy import create_engine, inspect, select

from tracker import backup, clientdata, photos, records
from tracker.cli import main
from tracker.db import init_data_folder, open_data_folder
from tracker.errors import RecordError
from tracker.models import Client, Photo
from tracker.photostore import PhotoUnreadable, sha256_of
from tracker_helpers import ACTOR, client_with_course, new_folder, sample_bytes

pytestmark = pytest.mark.backends


def every_row(db) -> dict[str, list]:
    """Every table's rows (reflected, so nothing is left out), as JSON text, in primary-key order."""
    with db.engine.connect() as conn:
        return {t.name: [json.dumps(list(r), default=str) for r in conn.execute(t.select().order_by(*t.primary_key))]
                for t in backup._tables(conn)}


def every_object(db) -> dict[str, str]:
    """Every stored original, by name, with the SHA-256 of its bytes as read back from the store."""
    return {digest: sha256_of(db.store.get(digest)) for digest in db.store.all_hashes()}


def open_target(folder):
    return open_data_folder(folder.root, folder.database_url, folder.photo_store)


def test_an_incremental_backup_restores_every_row_and_photo_exactly(db, tmp_path, backend):
    client_with_course(db, "Ada Example", sessions=2)
    with db.session() as s:
        photos.analyse_pending(s, db.store, ACTOR)
    full = tmp_path / "backups" / "monday.zip"
    first = backup.backup(db, full, actor=ACTOR)
    assert sorted(first["photos"]) == sorted(db.store.all_hashes()) and len(first["files"]) == 3
    # Tuesday: a new client with a new photo, another erased (its id must never come back).
    gone = client_with_course(db, "Zelda Erasable", sessions=1, with_photos=False)
    clientdata.erase_client(db, db.store, ACTOR, gone["client"])
    more = client_with_course(db, "Bea Second", sessions=3)
    incremental = tmp_path / "backups" / "tuesday.zip"
    second = backup.backup(db, incremental, previous=[full], actor=ACTOR)
    new_photos = db.store.all_hashes() - set(first["photos"])
    assert new_photos == {sha256_of(sample_bytes(3))}
    assert set(second["files"]) == {"tracker.db" if db.folder.database_file else "records.jsonl",
                                    *(f"photos/{d[:2]}/{d}" for d in new_photos)}  # only what Monday lacks
    assert set(second["photos"]) == db.store.all_hashes()

    # Alone, the incremental archive lacks Monday's photos: refused, and nothing is written.
    alone = new_folder(backend, tmp_path / "alone")
    with pytest.raises(RecordError, match="lacks 2 photos .*--previous"):
        backup.restore(incremental, alone, actor=ACTOR)
    assert not alone.root.exists()
    if alone.database_file is None:
        assert inspect(create_engine(alone.database_url)).get_table_names() == []

    target = new_folder(backend, tmp_path / "restored")
    backup.restore(incremental, target, previous=[full], actor=ACTOR)
    restored = open_target(target)
    assert every_row(restored) == every_row(db)
    assert every_object(restored) == every_object(db) == {d: d for d in db.store.all_hashes()}
    assert restored.store.verify(restored.store.all_hashes()) == []
    with restored.session() as s:  # the erased client's id is not given out again after a restore either
        client, _ = records.add_client(s, ACTOR, "Cy Next", date(1990, 1, 1), "", 3)
        assert client.id > max(gone["client"], more["client"])
    restored.close()


def archive_of(path, members: dict[str, bytes]) -> None:
    """A zip of ``members`` with its manifest, as a backup writes it."""
    files = {name: sha256_of(data) for name, data in members.items()}
    photos_listed = [name.split("/")[-1] for name in members if name.startswith("photos/")]
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        zf.writestr("manifest.json", json.dumps({"files": files, "photos": photos_listed}))


def test_a_logical_dump_restores_on_either_database_and_a_crafted_one_is_refused(db, tmp_path, backend):
    """The portable dump moves records between SQLite and PostgreSQL; it is data: rows go into the schema's
    own tables with bound parameters, and a dump naming anything else is refused, leaving the target empty."""
    client_with_course(db, sessions=2)
    out = io.BytesIO()
    with db.engine.connect() as conn:
        referenced = backup.dump_records(conn, out)
    members = {f"photos/{d[:2]}/{d}": db.store.get(d) for d in referenced}
    archive_of(tmp_path / "dump.zip", {"records.jsonl": out.getvalue(), **members})
    target = new_folder(backend, tmp_path / "restored")
    backup.restore(tmp_path / "dump.zip", target, actor=ACTOR)
    restored = open_target(target)
    assert every_row(restored) == every_row(db) and every_object(restored) == every_object(db)
    restored.close()

    crafted = out.getvalue().replace(b'{"table": "clients"', b'{"table": "pg_authid"', 1)
    archive_of(tmp_path / "crafted.zip", {"records.jsonl": crafted, **members})
    target = new_folder(backend, tmp_path / "target")
    with pytest.raises(RecordError, match="table or column the schema lacks"):
        backup.restore(tmp_path / "crafted.zip", target, actor=ACTOR)
    assert not target.root.exists()
    if target.database_file is None:
        assert inspect(create_engine(target.database_url)).get_table_names() == []
    # Rows whose keys point nowhere (the clients left out) are refused by the database's own constraints.
    lines, table = [], None
    for line in out.getvalue().splitlines(keepends=True):
        item = json.loads(line)
        table = item["table"] if isinstance(item, dict) and "table" in item else table
        if not (table == "clients" and isinstance(item, list)):
            lines.append(line)
    archive_of(tmp_path / "orphans.zip", {"records.jsonl": b"".join(lines), **members})
    with pytest.raises(RecordError, match="do not fit the schema"):
        backup.restore(tmp_path / "orphans.zip", target, actor=ACTOR)
    assert not target.root.exists()


def test_check_export_erase_gallery_backup_and_restore_from_the_command_line(db, tmp_path, capsys, backend):
    ids = client_with_course(db, sessions=2)
    with db.session() as s:
        photos.analyse_pending(s, db.store, ACTOR)

    def cli(*argv, folder=None):
        where = ["--data", str(db.folder.root)] if folder is None else [
            "--data", str(folder.root), "--database-url", folder.database_url,
            *(["--photo-store", folder.photo_store] if folder.photo_store else [])]
        code = main([*where, *map(str, argv)])
        out = capsys.readouterr()
        return code, out.out, out.err

    code, out, _ = cli("check")
    assert code == 0 and "2 photos verified" in out
    code, out, _ = cli("gallery", "export", tmp_path / "gallery", "--date", "2026-12-31")
    assert code == 0 and "1 before/after pairs" in out and len(list((tmp_path / "gallery").iterdir())) == 1
    code, out, _ = cli("export", ids["client"], tmp_path / "export")
    assert code == 0 and len(list((tmp_path / "export" / "photos").iterdir())) == 2
    code, out, _ = cli("backup", tmp_path / "clinic.zip")
    assert code == 0 and "2 photos" in out
    target = new_folder(backend, tmp_path / "restored")
    code, out, err = cli("restore", tmp_path / "clinic.zip", folder=target)
    assert code == 0 and "2 photos" in out, err
    assert cli("check", folder=target)[0] == 0

    # A damaged original is reported by check, and refused when read, on either store.
    digest = sha256_of(sample_bytes(2))
    damage(db.store, digest)
    code, out, err = cli("check")
    assert code == 2 and f"{digest}: corrupt" in out and "1 problems" in err
    with pytest.raises(PhotoUnreadable):
        db.store.get(digest)
    code, _, err = cli("export", ids["client"], tmp_path / "export2")
    assert code == 2 and "corrupt in the photo store" in err

    code, out, _ = cli("erase", ids["client"], "--yes")
    assert code == 0 and "2 photo files removed" in out
    assert db.store.all_hashes() == set() and cli("check")[0] == 0


def damage(store, digest: str) -> None:
    """Change an original's bytes behind the store's back (a disk or a service gone wrong)."""
    if hasattr(store, "client"):
        store.client.put_object(Bucket=store.bucket, Key=store.key(digest), Body=b"not the photo")
    else:
        path = store.path(digest)
        path.chmod(0o600)
        path.write_bytes(b"not the photo")


def test_a_single_clinic_s_archive_restores_onto_the_backend(tmp_path, backend):
    """A SQLite data folder's backup (its ``tracker.db`` snapshot) restores onto either backend: a clinic
    that joins a group brings its records and photos to PostgreSQL and S3."""
    single = init_data_folder(tmp_path / "single", f"sqlite:///{tmp_path / 'single.db'}", str(tmp_path / "photos"))
    ids = client_with_course(single, "Ada Example", sessions=2)
    gone = client_with_course(single, "Zelda Erasable", sessions=1, with_photos=False)["client"]
    clientdata.erase_client(single, single.store, ACTOR, gone)
    archive = tmp_path / "single.zip"
    assert "tracker.db" in backup.backup(single, archive, actor=ACTOR)["files"]
    target = new_folder(backend, tmp_path / "joined")
    backup.restore(archive, target, actor=ACTOR)
    joined = open_target(target)

    def summary(db):
        with db.session() as s:
            clients = [(c.id, c.name, c.date_of_birth) for c in s.scalars(select(Client).order_by(Client.id))]
            return clients, sorted(s.scalars(select(Photo.sha256)))

    assert summary(joined) == summary(single) and summary(joined)[0][0][0] == ids["client"]
    assert every_object(joined) == every_object(single) and len(every_object(joined)) == 2
    assert new_client_id(joined) > gone  # PostgreSQL's sequences go on from SQLite's (issue 16.4)
    single.close()
    joined.close()


def client_names(db) -> list[str]:
    with db.session() as s:
        return s.scalars(select(Client.name).order_by(Client.id)).all()


def new_client_id(db) -> int:
    with db.session() as s:
        client, _ = records.add_client(s, ACTOR, "Cy Next", date(1990, 1, 1), "", 3)
        s.commit()
        return client.id


@pytest.mark.only_default_backend  # from PostgreSQL (its own server) to the default SQLite folder
def test_a_group_s_dump_restores_into_a_single_clinic_without_reusing_ids(tmp_path, postgres_server):
    """The dump's sequences reach SQLite's ``sqlite_sequence``: an erased client's id is not given out again."""
    group = init_data_folder(tmp_path / "group", postgres_server.new_database(), str(tmp_path / "photos"))
    client_with_course(group, "Ada Example", sessions=1)
    gone = client_with_course(group, "Zelda Erasable", sessions=1, with_photos=False)["client"]
    clientdata.erase_client(group, group.store, ACTOR, gone)
    archive = tmp_path / "group.zip"
    assert "records.jsonl" in backup.backup(group, archive, actor=ACTOR)["files"]
    backup.restore(archive, tmp_path / "single", actor=ACTOR)
    single = open_data_folder(tmp_path / "single")
    assert client_names(single) == client_names(group) == ["Ada Example"]
    assert new_client_id(single) > gone
    group.close()
    single.close()


@pytest.mark.only_default_backend  # a crafted dump, refused before anything is kept
@pytest.mark.parametrize("value", [10**30, -1, "7", True, 1.5])
def test_a_dump_whose_sequence_is_not_an_id_is_refused(db, tmp_path, value):
    client_with_course(db, sessions=1, with_photos=False)
    out = io.BytesIO()
    with db.engine.connect() as conn:
        backup.dump_records(conn, out)
    *lines, last = out.getvalue().splitlines(keepends=True)
    assert b'"sequences"' in last
    archive_of(tmp_path / "crafted.zip", {"records.jsonl": b"".join(lines) + json.dumps(
        {"sequences": {"clients": value}}).encode() + b"\n"})
    with pytest.raises(RecordError, match="clients id sequence .* not an id"):
        backup.restore(tmp_path / "crafted.zip", tmp_path / "restored", actor=ACTOR)
    assert not (tmp_path / "restored").exists()
