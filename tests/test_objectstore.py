"""Photos in S3-compatible object storage (a real SeaweedFS, with SSE-S3), and the store's lock across
processes on a real PostgreSQL server (started by the fixtures in conftest; see tests/servers.py)."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest
from botocore.stub import ANY, Stubber

from tracker.db import init_data_folder, open_data_folder
from tracker.errors import RecordError
from tracker.photostore import FileLocks, PhotoUnreadable, S3Store, StoreBusy, StoreProblem, open_store, sha256_of
from tracker_helpers import sample_bytes

ROOT = pathlib.Path(__file__).resolve().parents[1]
WAIT_S = 60


@pytest.fixture
def bucket(s3_server):
    return s3_server.new_bucket()


def s3_store(s3_server, bucket, tmp_path, prefix="clinic-a/photos", sse="AES256") -> S3Store:
    return S3Store(s3_server.client(), bucket, prefix, tmp_path / "cache", FileLocks(tmp_path / ".lock"), sse)


def test_originals_are_content_addressed_encrypted_and_never_overwritten(s3_server, bucket, tmp_path):
    store, client = s3_store(s3_server, bucket, tmp_path), s3_server.client()
    data = sample_bytes(1)
    digest = store.put(data)
    key = f"clinic-a/photos/{digest[:2]}/{digest}"
    assert digest == sha256_of(data) and store.key(digest) == key and store.exists(digest)
    assert store.get(digest) == data and store.all_hashes() == {digest}
    head = client.head_object(Bucket=bucket, Key=key)
    assert head["ServerSideEncryption"] == "AES256"
    stored = b"".join(p.read_bytes() for p in (s3_server.folder / "data").rglob("*") if p.is_file())
    assert data[1000:1200] not in stored  # encrypted at rest
    # Two processes storing the same photo at once: the second conditional PUT is refused, harmlessly.
    store.exists = lambda _digest: False
    assert store.put(data) == digest
    assert client.head_object(Bucket=bucket, Key=key)["ETag"] == head["ETag"]
    with pytest.raises(client.exceptions.ClientError, match="PreconditionFailed"):
        client.put_object(Bucket=bucket, Key=key, Body=b"other bytes", IfNoneMatch="*")


def test_a_corrupt_or_missing_object_is_never_returned(s3_server, bucket, tmp_path):
    store, client = s3_store(s3_server, bucket, tmp_path), s3_server.client()
    good, bad = store.put(sample_bytes(1)), store.put(sample_bytes(2))
    client.put_object(Bucket=bucket, Key=store.key(bad), Body=sample_bytes(2)[:-10] + b"0123456789")
    with pytest.raises(PhotoUnreadable, match="corrupt") as caught:
        store.get(bad)
    assert caught.value.code == "corrupt" and caught.value.problem == StoreProblem(bad, "corrupt")
    gone = sha256_of(b"never stored")
    with pytest.raises(PhotoUnreadable) as caught:
        store.get(gone)
    assert caught.value.code == "missing"
    assert store.verify({good, bad, gone}) == sorted([StoreProblem(bad, "corrupt"), StoreProblem(gone, "missing")],
                                                    key=lambda p: p.sha256)


def test_garbage_collection_removes_only_this_store_s_unreferenced_objects(s3_server, bucket, tmp_path):
    store, client = s3_store(s3_server, bucket, tmp_path), s3_server.client()
    other = s3_store(s3_server, bucket, tmp_path / "b", prefix="clinic-b")  # another store in the same bucket
    kept, orphan = store.put(sample_bytes(1)), store.put(sample_bytes(2))
    theirs = other.put(sample_bytes(3))
    client.put_object(Bucket=bucket, Key="clinic-a/photos/zz/not-a-photo", Body=b"x")
    (store.cache_dir(orphan) / "thumb.jpg").parent.mkdir(parents=True)
    (store.cache_dir(orphan) / "thumb.jpg").write_bytes(b"derived")
    assert store.unreferenced({kept}) == [StoreProblem(orphan, "unreferenced"),
                                          StoreProblem("zz/not-a-photo", "not a stored photo")]
    assert len(store.collect_garbage(lambda: {kept})) == 2
    assert store.all_hashes() == {kept} and store.unreferenced({kept}) == []
    assert not store.cache_dir(orphan).exists() and other.all_hashes() == {theirs}


def test_kms_encryption_is_asked_for_on_every_put(tmp_path):
    import boto3

    client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s")
    store = S3Store(client, "clinic", "", tmp_path, FileLocks(tmp_path / ".lock"), "aws:kms", "key-1")
    with Stubber(client) as stub:
        stub.add_client_error("head_object", http_status_code=404)
        stub.add_response("put_object", {}, {"Bucket": "clinic", "Key": ANY, "Body": b"x", "IfNoneMatch": "*",
                                             "ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "key-1"})
        store.put(b"x")
        stub.assert_no_pending_responses()
    with pytest.raises(RecordError, match="unknown server-side encryption"):
        open_store("s3://clinic/photos", tmp_path, None, {"TRACKER_S3_SSE": "rot13"})
    with pytest.raises(RecordError, match="neither a folder nor"):
        open_store("s3://Not_A_Bucket!/x", tmp_path, None, {})


# --- the lock across processes and machines -------------------------------------------------------

HOLDER = """
import sys
from tracker.db import open_data_folder
db = open_data_folder(*sys.argv[1:4])
lock = db.store.acquire(exclusive=sys.argv[4] == "exclusive")
print("held", flush=True)
sys.stdin.readline()
lock.release()
print("released", flush=True)
"""


@pytest.fixture
def group(tmp_path, postgres_server, s3_server, monkeypatch):
    """A clinic group's settings: one PostgreSQL database and one bucket, set in the environment."""
    settings = {"TRACKER_S3_ENDPOINT_URL": s3_server.endpoint, "AWS_ACCESS_KEY_ID": s3_server.access_key,
                "AWS_SECRET_ACCESS_KEY": s3_server.secret_key, "AWS_DEFAULT_REGION": s3_server.region}
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    url, store = postgres_server.new_database(), f"s3://{s3_server.new_bucket()}/photos"
    init_data_folder(tmp_path / "first-machine", url, store).close()
    return url, store


def hold(tmp_path, group, mode: str) -> subprocess.Popen:
    """Another process (on another machine, with a data folder of its own) holding the store's lock."""
    url, store = group
    process = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path / "first-machine"), url, store, mode],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert process.stdout.readline() == "held\n"
    return process


def test_an_exclusive_holder_in_one_process_blocks_a_shared_taker_in_another(tmp_path, group):
    url, location = group
    here = open_data_folder(tmp_path / "second-machine", url, location)
    assert type(here.store).__name__ == "S3Store" and type(here.store.locks).__name__ == "AdvisoryLocks"
    collector = hold(tmp_path, group, "exclusive")
    try:
        with pytest.raises(StoreBusy):
            here.store.acquire(exclusive=False, timeout=0.5)  # an import waits for garbage collection
        collector.stdin.write("\n")
        collector.stdin.flush()
        assert collector.stdout.readline() == "released\n"
        here.store.acquire(exclusive=False, timeout=WAIT_S).release()
    finally:
        collector.kill()
        collector.wait(WAIT_S)
    # Imports share the lock; a collector waits for all of them.
    importer = hold(tmp_path, group, "shared")
    try:
        here.store.acquire(exclusive=False, timeout=0).release()
        with pytest.raises(StoreBusy):
            here.store.acquire(exclusive=True, timeout=0.5)
    finally:
        importer.kill()
        importer.wait(WAIT_S)
    # A killed holder blocks nothing: the server ends its session and drops its locks.
    here.store.acquire(exclusive=True, timeout=WAIT_S).release()
    here.close()
