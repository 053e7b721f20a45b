"""The one small IQ-source interface every consumer (sweep, detect, daemon, tests) programs against.

Hardware, network, file and simulator sources all satisfy :class:`Source`, so the code above never
knows which it holds (STYLE.md: hardware behind a narrow interface). The :class:`RingBuffer` is
shared by the sources that receive samples on a background thread (RTL-SDR, rtl_tcp): a live
receiver keeps streaming whether or not we read, so the buffer is bounded and overflow is counted
as dropped samples instead of growing memory.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol, Self, runtime_checkable

import numpy as np


class SourceError(Exception):
    """A source was misused or its input is invalid (bad URI, bad file, tune outside a recording)."""


class SourceUnavailable(SourceError):  # noqa: N818 - the name the project pinned
    """The receiver cannot be reached (no driver, no dongle, server down); the message says how to fix it."""


@runtime_checkable
class Source(Protocol):
    """A stream of complex baseband samples around a tunable centre frequency.

    ``read(n)`` returns exactly ``n`` complex64 samples scaled so that full scale is magnitude 1,
    except a finite source (a recording) which returns fewer at its end and an empty array once
    exhausted. ``timestamp_utc`` is the UTC time of the first sample of the last read, or None
    where the source cannot know it. ``gain_db`` None means automatic gain control.
    """

    @property
    def center_freq_hz(self) -> float: ...

    @property
    def sample_rate_hz(self) -> float: ...

    @property
    def gain_db(self) -> float | None: ...

    @property
    def dropped_samples(self) -> int: ...

    @property
    def timestamp_utc(self) -> datetime | None: ...

    def read(self, n: int) -> np.ndarray: ...

    def tune(self, freq_hz: float) -> None: ...

    def close(self) -> None: ...

    def __enter__(self) -> Source: ...

    def __exit__(self, *exc: object) -> None: ...


class SourceBase:
    """Context-manager plumbing and defaults shared by the concrete sources."""

    #: False for recordings: the sweep then measures the recorded band in one "hop".
    can_retune: bool = True
    #: True for sources that end (recordings); live receivers stream forever.
    finite: bool = False
    #: dBm at the antenna port = dBFS - gain_db - dbfs_offset_db, when known (the simulator knows it;
    #: real hardware needs a calibration from the sensor config). None means uncalibrated.
    dbfs_offset_db: float | None = None

    _dropped_samples: int = 0
    _timestamp_utc: datetime | None = None
    #: tuning kept by the sources that do not ask a driver for it (rtl_tcp, recordings, simulator)
    _center_hz: float
    _rate_hz: float

    @property
    def center_freq_hz(self) -> float:
        """Centre frequency of the samples ``read`` returns (overridden where a driver or shift knows it)."""
        return self._center_hz

    @property
    def sample_rate_hz(self) -> float:
        """Complex samples per second."""
        return self._rate_hz

    @property
    def dropped_samples(self) -> int:
        """Samples lost because the consumer did not keep up (always 0 for pull-driven sources)."""
        return self._dropped_samples

    @property
    def timestamp_utc(self) -> datetime | None:
        """UTC time of the first sample of the last read, where the source knows it."""
        return self._timestamp_utc

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:  # pragma: no cover - overridden
        """Release the receiver; safe to call twice."""


def check_center_freq_hz(freq_hz: float) -> None:
    """A receiver cannot be tuned to 0 Hz or below; the message names the value asked for."""
    if freq_hz <= 0:
        raise SourceError(f"centre frequency must be > 0 Hz, got {freq_hz}")


def validate_read_count(n: int) -> int:
    """Reject nonsense read sizes early with a message naming the value."""
    n = int(n)
    if n < 0:
        raise SourceError(f"read count must be >= 0, got {n}")
    return n


def u8_to_complex64(raw: bytes | np.ndarray) -> np.ndarray:
    """Interleaved unsigned 8-bit I/Q (RTL-SDR, rtl_tcp, cu8 files) to complex64, 127.5 = zero."""
    u = np.frombuffer(raw, dtype=np.uint8) if isinstance(raw, bytes | bytearray | memoryview) else raw
    if u.size % 2:
        u = u[:-1]
    f = u.astype(np.float32)
    f -= 127.5
    f *= np.float32(1.0 / 127.5)
    return f.view(np.complex64)


def complex64_to_u8(iq: np.ndarray) -> np.ndarray:
    """complex64 (full scale 1) to interleaved u8 I/Q as an RTL-SDR would deliver it (clipped)."""
    f = np.ascontiguousarray(iq, dtype=np.complex64).view(np.float32)
    out = f * np.float32(127.5) + np.float32(127.5)
    np.rint(out, out=out)
    np.clip(out, 0.0, 255.0, out=out)
    return out.astype(np.uint8)


class RingBuffer:
    """Bounded FIFO of complex64 samples written by a receiver thread and read by the consumer.

    On overflow the oldest samples are discarded and counted in ``dropped``: a live receiver must
    never block its USB/TCP reader (that loses data upstream, invisibly) nor grow without bound.
    ``newest_monotonic`` is the monotonic time the newest sample arrived, used to date reads.
    """

    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise SourceError(f"ring buffer capacity must be > 0, got {capacity}")
        self._buf = np.zeros(int(capacity), dtype=np.complex64)
        self._capacity = int(capacity)
        self._start = 0
        self._count = 0
        self.dropped = 0
        self.newest_monotonic: float | None = None
        self._cond = threading.Condition()
        self._closed = False
        self._error: BaseException | None = None

    @property
    def available(self) -> int:
        """Samples waiting to be read."""
        with self._cond:
            return self._count

    def write(self, samples: np.ndarray) -> None:
        """Append samples, dropping (and counting) the oldest when full."""
        samples = np.asarray(samples, dtype=np.complex64)
        n = samples.size
        if n == 0:
            return
        with self._cond:
            if n >= self._capacity:
                self.dropped += self._count + (n - self._capacity)
                samples = samples[n - self._capacity :]
                n = self._capacity
                self._start = 0
                self._count = 0
            overflow = self._count + n - self._capacity
            if overflow > 0:
                self.dropped += overflow
                self._start = (self._start + overflow) % self._capacity
                self._count -= overflow
            end = (self._start + self._count) % self._capacity
            first = min(n, self._capacity - end)
            self._buf[end : end + first] = samples[:first]
            if first < n:
                self._buf[: n - first] = samples[first:]
            self._count += n
            self.newest_monotonic = time.monotonic()
            self._cond.notify_all()

    def read(self, n: int, timeout_s: float) -> tuple[np.ndarray, float | None, int]:
        """Take exactly n samples, waiting up to timeout_s.

        Returns (samples, monotonic arrival time of the newest buffered sample, samples that were
        buffered before the read); the caller turns the last two into the time of sample 0.

        Raises SourceUnavailable when the writer failed or the buffer was closed, and TimeoutError
        when the receiver delivered too little in time.
        """
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self._count < n:
                if self._error is not None:
                    raise SourceUnavailable(str(self._error)) from self._error
                if self._closed:
                    raise SourceUnavailable("the receiver stream has ended")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"receiver delivered {self._count} of {n} samples in {timeout_s:.1f} s")
                self._cond.wait(remaining)
            first = min(n, self._capacity - self._start)
            out = np.empty(n, dtype=np.complex64)
            out[:first] = self._buf[self._start : self._start + first]
            out[first:] = self._buf[: n - first]
            backlog = self._count
            self._start = (self._start + n) % self._capacity
            self._count -= n
            return out, self.newest_monotonic, backlog

    def clear(self) -> None:
        """Forget buffered samples (after a retune they belong to the old frequency)."""
        with self._cond:
            self._start = 0
            self._count = 0

    def fail(self, error: BaseException) -> None:
        """Wake the reader with the writer's error."""
        with self._cond:
            self._error = error
            self._cond.notify_all()

    def close(self) -> None:
        """Wake any waiting reader; further reads fail once the buffer is drained."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()


class StreamingSource(SourceBase):
    """Plumbing shared by live receivers that stream into a :class:`RingBuffer` on a background thread.

    RTL-SDR (USB) and rtl_tcp (network) differ only in how samples arrive and how a retune reaches
    the tuner; dropping, dating and timing out reads, and discarding samples of the old frequency on
    a retune, must behave the same for both, so it lives here once. Subclasses set ``_ring``,
    ``_timeout_s`` and ``_ppm`` in ``__init__`` and implement ``_retune`` and ``_describe``.
    """

    _ring: RingBuffer
    _timeout_s: float
    _ppm: int

    def _describe(self) -> str:  # pragma: no cover - overridden
        """Receiver name for error messages, e.g. ``RTL-SDR 0`` or ``rtl_tcp HOST:PORT``."""
        raise NotImplementedError

    def _retune(self, freq_hz: float) -> None:  # pragma: no cover - overridden
        """Send the new centre frequency (Hz, already checked > 0) to the tuner."""
        raise NotImplementedError

    @property
    def ppm(self) -> int:
        """Frequency correction applied by the tuner (parts per million)."""
        return self._ppm

    @property
    def dropped_samples(self) -> int:
        """Samples the ring buffer discarded because the consumer did not keep up."""
        return self._ring.dropped

    def tune(self, freq_hz: float) -> None:
        """Retune; samples already buffered belong to the old frequency and are discarded."""
        check_center_freq_hz(freq_hz)
        self._retune(float(freq_hz))
        self._ring.clear()

    def tune_continuous(self, freq_hz: float) -> None:
        """Retune but keep the buffered samples: a TDOA snapshot counts every sample across its retunes
        (the ones still of the old frequency fall in the snapshot's settling span)."""
        check_center_freq_hz(freq_hz)
        self._retune(float(freq_hz))

    def read(self, n: int) -> np.ndarray:
        """Exactly n samples, waiting up to the source timeout plus n samples' worth of time."""
        n = validate_read_count(n)
        rate_hz = self.sample_rate_hz
        try:
            samples, newest, backlog = self._ring.read(n, self._timeout_s + n / rate_hz)
        except TimeoutError as exc:
            raise SourceUnavailable(f"{self._describe()}: {exc}") from exc
        self._timestamp_utc = first_sample_utc(newest, backlog, rate_hz)
        return samples


def first_sample_utc(newest_monotonic: float | None, backlog: int, sample_rate_hz: float) -> datetime | None:
    """UTC time of the oldest of ``backlog`` buffered samples, given when the newest one arrived."""
    if newest_monotonic is None or sample_rate_hz <= 0:
        return None
    age_s = time.monotonic() - newest_monotonic + backlog / sample_rate_hz
    return datetime.now(UTC) - timedelta(seconds=age_s)


# -- SI numbers ----------------------------------------------------------------------------
#: SI multipliers a number may end with (source URIs, recording file names, the CLI's frequencies).
SI_SUFFIX = {"k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9}


def parse_si(text: str) -> float:
    """``2.4e6``, ``2.4M``, ``250k`` -> float; ValueError when it is not a number (callers say where)."""
    t = text.strip()
    mult = 1.0
    if t and t[-1] in SI_SUFFIX:
        mult, t = SI_SUFFIX[t[-1]], t[:-1]
    return float(t) * mult
