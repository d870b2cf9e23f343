"""The test servers themselves: a real PostgreSQL and a real S3 store with server-side encryption."""

from __future__ import annotations

from sqlalchemy import create_engine, text


def test_postgresql_server_gives_each_test_its_own_database(postgres_server):
    first, second = postgres_server.new_database(), postgres_server.new_database()
    assert first != second
    engine = create_engine(first)
    with engine.connect() as conn:
        assert conn.execute(text("SHOW server_version")).scalar().split(".")[0].isdigit()
        assert conn.execute(text("SELECT inet_server_addr()::text")).scalar().startswith("127.0.0.1")
    engine.dispose()


def test_s3_server_stores_objects_encrypted(s3_server):
    client, bucket = s3_server.client(), s3_server.new_bucket()
    body = b"photo bytes " * 1000
    client.put_object(Bucket=bucket, Key="ab/cd", Body=body, ServerSideEncryption="AES256")
    assert client.head_object(Bucket=bucket, Key="ab/cd")["ServerSideEncryption"] == "AES256"
    assert client.get_object(Bucket=bucket, Key="ab/cd")["Body"].read() == body
    # Encrypted at rest: the plaintext is nowhere in the server's files.
    stored = b"".join(p.read_bytes() for p in (s3_server.folder / "data").rglob("*") if p.is_file())
    assert body[:120] not in stored
