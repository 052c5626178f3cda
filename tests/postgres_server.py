"""A throwaway PostgreSQL cluster on a free loopback port (Debian's postgresql package), and a fresh
database in it for each test when the tiers run on PostgreSQL (``TECHAN_TEST_DATABASE=postgresql``)."""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.exc import OperationalError

from core.settings import Settings

_numbers = itertools.count(1)
_cluster: list[str] = []  # the run's scratch cluster, while the session fixture holds it
_shop_databases: dict[Path, str] = {}
_finished: list[str] = []  # scratch databases of tests that have ended, dropped before the next is made


def on_postgres() -> bool:
    """The service and end-to-end tiers run on PostgreSQL instead of SQLite (`make test-postgres`)."""
    return os.environ.get("TECHAN_TEST_DATABASE", "sqlite").strip().lower() == "postgresql"


def _pg_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


@contextmanager
def postgres_cluster() -> Iterator[str]:
    """Start a scratch cluster (no fsync: it is thrown away) and yield its URL; stopped and removed on exit."""
    from tests.stack import free_port  # here: tests.stack imports the shared conftest, which imports this

    initdb, pg_ctl = _pg_binary("initdb"), _pg_binary("pg_ctl")
    if not (initdb and pg_ctl):
        pytest.skip("PostgreSQL server binaries not installed (apt-get install postgresql); .ci/run installs them")
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []  # the server refuses root
    data = Path(tempfile.mkdtemp(prefix="techan-pg-"))
    if as_postgres:
        shutil.chown(data, "postgres")
    port = free_port()
    subprocess.run([*as_postgres, initdb, "-D", str(data / "db"), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
                   check=True, capture_output=True, timeout=120)
    options = (f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
               "-c full_page_writes=off -c max_connections=300")
    subprocess.run([*as_postgres, pg_ctl, "-D", str(data / "db"), "-w", "-t", "60", "-l", str(data / "log"),
                    "-o", options, "start"], check=True, capture_output=True, timeout=90)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_postgres, pg_ctl, "-D", str(data / "db"), "-m", "immediate", "-w", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(data, ignore_errors=True)


@contextmanager
def scratch_database(cluster_url: str) -> Iterator[str]:
    """A new empty database in the cluster for one test. It is dropped when the next one is made, not at once:
    fixtures that use it (the app under test) may be torn down after this one."""
    with _admin(cluster_url) as connection:
        while _finished:
            old = _finished.pop()
            for database in (old, f"{old}_rasa"):  # and the trackers of a Rasa server on it
                try:
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
                except OperationalError:  # its sessions slow to go (a loaded machine): the cluster goes anyway
                    pass
        url = _create_database(connection, cluster_url, "test")
    try:
        yield url
    finally:
        _finished.append(url.rsplit("/", 1)[1])


@contextmanager
def run_cluster() -> Iterator[str | None]:
    """For the whole test run: the scratch cluster under ``TECHAN_TEST_DATABASE=postgresql``, else None."""
    if not on_postgres():
        yield None
        return
    with postgres_cluster() as url:
        _cluster.append(url)
        try:
            yield url
        finally:
            _cluster.clear()
            _shop_databases.clear()
            _finished.clear()


def shop_database_url(data_dir: Path) -> str:
    """The database of the scratch shop whose data dir is ``data_dir``: "" on SQLite (the file in the data
    dir); on PostgreSQL a database of its own in the run's cluster, created the first time it is asked for."""
    key = Path(data_dir).resolve()
    if key in _shop_databases:
        return _shop_databases[key]
    if not _cluster:
        return ""
    if key not in _shop_databases:
        with _admin(_cluster[0]) as connection:
            _shop_databases[key] = _create_database(connection, _cluster[0], "shop")
    return _shop_databases[key]


@contextmanager
def _admin(cluster_url: str) -> Iterator[Connection]:
    """A connection to the cluster's maintenance database, outside any transaction (CREATE/DROP DATABASE)."""
    admin = create_engine(Settings(_env_file=None, database_url=cluster_url).sqlalchemy_url,
                          isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            yield connection
    finally:
        admin.dispose()


def _create_database(connection: Connection, cluster_url: str, kind: str) -> str:
    """A new empty database (named for this process and ``kind``); its URL."""
    name = f"techan_{kind}_{os.getpid()}_{next(_numbers)}"
    connection.execute(text(f'CREATE DATABASE "{name}"'))
    return cluster_url.rsplit("/", 1)[0] + f"/{name}"


@contextmanager
def shop_on_postgres(data_dir: Path) -> Iterator[str]:
    """The URL of a shop's database on PostgreSQL whatever the tier runs on: in the run's cluster, or else in
    a cluster of its own (stopped on exit)."""
    if _cluster:
        yield shop_database_url(data_dir)
        return
    key = Path(data_dir).resolve()
    with postgres_cluster() as cluster_url:
        with _admin(cluster_url) as connection:
            _shop_databases[key] = _create_database(connection, cluster_url, "shop")
        try:
            yield _shop_databases[key]
        finally:
            del _shop_databases[key]
