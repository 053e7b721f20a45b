"""The localiser of a full judgement on a worker thread, with the server loop filing reports meanwhile.

A full judgement holds the server loop for 50-150 ms of CPU, nearly all of it in the localiser (a
pure computation on the arguments the engine gives it). A first sight in a safety-of-life band that
arrives meanwhile should not wait for it: its provisional alert is due within 250 ms. While the
server runs the engine's due judgements (:meth:`LocaliserOffload.armed`), the engine hands each
localiser run to :meth:`LocaliserOffload.run`, which computes it on one worker thread and, until it
is done, lets the loop handle the sensor messages that arrive (``service``): they are stored, acked
and filed with the engine (a first sight publishes its provisional alert), never judged (the intake
files without judging). Anything else the loop does (API, ticks, archive) waits for the judgement,
as before.

Outside a judgement, and for a localiser run started while reports are being handled (the
provisional path itself), ``run`` computes inline: the loop never re-enters the intake.

Both threads share the interpreter lock: left alone they would alternate every switch interval and
a first sight's provisional path would take twice its CPU time. While the loop handles a batch
(:meth:`LocaliserOffload.priority`) the worker waits at its next Python function call (a trace
function of the worker thread only, about 15 % of the localiser's CPU time).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")

#: Serve sensor messages for up to ``timeout_s``, returning early when ``wake_fd`` is readable (the
#: worker is done): ``service(timeout_s, wake_fd)``.
Service = Callable[[float, int], None]


class LocaliserOffload:
    """Runs localiser computations on a worker thread while the loop serves sensor messages."""

    def __init__(self, service: Service, poll_s: float = 0.05) -> None:
        self.service = service
        self.poll_s = poll_s
        self._pool: ThreadPoolExecutor | None = None
        self._wake: tuple[int, int] | None = None  # pipe: the worker's done callback writes, the loop polls
        self._armed = False
        self._waiting = False
        self._owner: int | None = None
        self._paused = False  # read by the worker's trace function at every call
        self._resume = threading.Event()
        self._resume.set()
        #: Localiser runs computed on the worker (the rest: inline).
        self.offloaded = 0

    @contextmanager
    def armed(self) -> Iterator[None]:
        """Within this block (the engine's judgements, in the loop thread) localiser runs are offloaded."""
        self._armed, self._owner = True, threading.get_ident()
        try:
            yield
        finally:
            self._armed = False

    def run(self, fn: Callable[[], T]) -> T:
        """``fn()``: on the worker while serving sensor messages when armed; inline otherwise."""
        if not self._armed or self._waiting or threading.get_ident() != self._owner:
            return fn()
        if self._pool is None or self._wake is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="borderwatch-localiser")
            self._wake = os.pipe()
            os.set_blocking(self._wake[0], False)
        r, w = self._wake
        fut: Future[T] = self._pool.submit(self._work, fn)
        fut.add_done_callback(lambda _f: os.write(w, b"."))
        self.offloaded += 1
        self._waiting = True
        try:
            while not fut.done():
                self.service(self.poll_s, r)
        finally:
            self._waiting = False
            fut.exception()  # wait for it (a service that raised) before the pipe is emptied
            try:
                while os.read(r, 64):
                    pass
            except BlockingIOError:
                pass
        return fut.result()

    @contextmanager
    def priority(self) -> Iterator[None]:
        """The loop's own work during a run (a batch of reports): the worker waits until it is done."""
        self._resume.clear()
        self._paused = True
        try:
            yield
        finally:
            self._paused = False
            self._resume.set()

    def _work(self, fn: Callable[[], T]) -> T:
        sys.settrace(self._on_call)  # this (worker) thread only
        try:
            return fn()
        finally:
            sys.settrace(None)

    def _on_call(self, frame: object, event: str, arg: object) -> None:
        if self._paused:
            self._resume.wait()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        if self._wake is not None:
            for fd in self._wake:
                os.close(fd)
            self._wake = None
