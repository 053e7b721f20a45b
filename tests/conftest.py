"""Shared fixtures: the read-only ../shared data folder, free loopback ports, a ZeroMQ context, Qt."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from pg_testkit import pg_cluster, pg_url  # noqa: F401  (a real PostgreSQL: fixtures for the shared store)
from security_testkit import secure  # noqa: F401  (a CURVE-secured server on loopback, its keys, a context)

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The project's read-only shared data (P.1546 tables, boundaries, recordings)."""
    if not SHARED.is_dir():
        pytest.skip(f"shared data folder not found at {SHARED}")
    return SHARED


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def loopback_port() -> int:
    return free_port()


@pytest.fixture
def ctx():
    """A ZeroMQ context for the test's own sockets, destroyed (linger 0) when the test ends."""
    import zmq

    c = zmq.Context()
    yield c
    c.destroy(linger=0)


@pytest.fixture(scope="session")
def qapp():
    """One QApplication for the GUI tests (offscreen, see QT_QPA_PLATFORM above)."""
    from PySide6.QtWidgets import QApplication

    return QApplication.instance() or QApplication([])
