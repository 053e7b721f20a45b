"""A real PostgreSQL for the tests: one throwaway cluster per test session, one database per test.

The cluster comes from :mod:`station_db.pg_cluster` (initdb into a temporary directory, a free
loopback port, unix socket in that directory, stopped and deleted at the end of the session).
Tests skip, saying why, only when no PostgreSQL server binaries are installed (``make test``
installs Debian's ``postgresql`` when it can) or the psycopg driver is missing.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from station_db.pg_cluster import PgCluster, PostgresUnavailableError, start_cluster

_names = itertools.count(1)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg not installed (pip install 'borderwatch[postgres]')")
    try:
        cluster = start_cluster()
    except PostgresUnavailableError as exc:
        pytest.skip(f"no PostgreSQL server here: {exc}")
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_url(pg_cluster: PgCluster) -> str:
    """A fresh, empty database on the session's cluster."""
    return pg_cluster.create_database(f"t{next(_names)}")
