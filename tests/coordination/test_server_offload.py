"""The judgements' localiser on a worker thread while the server loop keeps serving sensor reports."""

from __future__ import annotations

import threading

import pytest

from coordination.offload import LocaliserOffload


def test_an_armed_run_computes_on_the_worker_while_the_loop_serves_reports() -> None:
    release = threading.Event()
    served: list[float] = []
    where: list[int] = []

    def service(timeout_s: float, wake_fd: int) -> None:
        served.append(timeout_s)
        if len(served) == 3:  # the loop has served three turns while the localiser was still running
            release.set()
        release.wait(timeout_s)

    def localiser() -> str:
        where.append(threading.get_ident())
        assert release.wait(10.0), "the loop did not serve while the localiser ran"
        return "fix"

    off = LocaliserOffload(service, poll_s=0.01)
    try:
        with off.armed():
            assert off.run(localiser) == "fix"
        assert len(served) >= 3 and off.offloaded == 1
        assert where[0] != threading.get_ident()  # computed on the worker
    finally:
        off.close()


def test_runs_outside_a_judgement_and_nested_runs_are_inline() -> None:
    me = threading.get_ident()
    inner: list[int] = []

    def service(timeout_s: float, wake_fd: int) -> None:
        # a report filed meanwhile (a first sight): its own localiser run is computed here, inline
        if not inner:
            inner.append(off.run(threading.get_ident))
        threading.Event().wait(timeout_s)

    off = LocaliserOffload(service, poll_s=0.01)
    try:
        assert off.run(threading.get_ident) == me  # not armed: inline, nothing served
        with off.armed():
            worker = off.run(lambda: (threading.Event().wait(0.2), threading.get_ident())[1])
        assert worker != me and inner == [me]
        assert off.offloaded == 1
    finally:
        off.close()


def test_an_error_in_the_localiser_reaches_the_caller() -> None:
    def service(timeout_s: float, wake_fd: int) -> None:
        threading.Event().wait(timeout_s)

    def broken() -> None:
        raise ValueError("no fix")

    off = LocaliserOffload(service, poll_s=0.01)
    try:
        with off.armed(), pytest.raises(ValueError, match="no fix"):
            off.run(broken)
        with off.armed():  # and the next run works (the wake-up pipe was emptied)
            assert off.run(lambda: 42) == 42
    finally:
        off.close()
