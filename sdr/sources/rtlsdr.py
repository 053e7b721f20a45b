"""A local RTL-SDR dongle through pyrtlsdr, read asynchronously into a bounded ring buffer.

pyrtlsdr is imported lazily so the rest of borderwatch works on machines without librtlsdr.
Anything going wrong on import or open (ImportError; AttributeError when pyrtlsdr meets an older
Debian librtlsdr without ``rtlsdr_set_dithering``; LibUSBError when no dongle is plugged in or it
is busy) becomes one :class:`SourceUnavailable` line that says which and how to fix it.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import numpy as np

from sdr.sources.base import (
    RingBuffer,
    SourceError,
    SourceUnavailable,
    StreamingSource,
    u8_to_complex64,
)

log = logging.getLogger(__name__)

FALLBACK_HINT = "or use --source rtltcp://HOST:PORT"


def _load_driver() -> Any:
    """Return pyrtlsdr's ``RtlSdr`` class; any failure becomes a SourceUnavailable that says why."""
    try:
        from rtlsdr import RtlSdr
    except Exception as exc:
        kind = type(exc).__name__
        if isinstance(exc, AttributeError):
            why = f"the installed librtlsdr does not match pyrtlsdr ({kind}: {exc})"
            fix = "pip install 'pyrtlsdr[lib]' (bundles a matching librtlsdr)"
        elif isinstance(exc, ImportError) and "rtlsdr" in str(exc) and "lib" not in str(exc).lower():
            why = f"pyrtlsdr is not installed ({exc})"
            fix = "pip install 'pyrtlsdr[lib]'"
        else:
            why = f"librtlsdr could not be loaded ({kind}: {exc})"
            fix = "install librtlsdr (apt install librtlsdr0) or pip install 'pyrtlsdr[lib]'"
        raise SourceUnavailable(f"RTL-SDR driver unavailable: {why}: {fix}, {FALLBACK_HINT}") from exc
    return RtlSdr


def _open_error(device_index: int, exc: BaseException) -> SourceUnavailable:
    text = str(exc)
    if "ACCESS" in text.upper() or "permission" in text.lower():
        msg = (f"RTL-SDR {device_index}: permission denied ({text}): install the rtl-sdr udev rules "
               f"and replug, {FALLBACK_HINT}")
    elif "BUSY" in text.upper():
        msg = (f"RTL-SDR {device_index} is busy ({text}): stop rtl_tcp/other SDR programs or blacklist "
               f"dvb_usb_rtl28xxu, {FALLBACK_HINT}")
    else:
        msg = (f"no RTL-SDR found at device index {device_index} ({type(exc).__name__}: {text}): "
               f"plug one in, {FALLBACK_HINT}")
    return SourceUnavailable(msg)


class RtlSdrSource(StreamingSource):
    """An RTL-SDR on USB; ``gain_db`` None selects the tuner AGC."""

    def __init__(
        self,
        device_index: int = 0,
        *,
        sample_rate_hz: float = 2.4e6,
        center_freq_hz: float = 100e6,
        gain_db: float | None = None,
        ppm: int = 0,
        buffer_s: float = 1.0,
        chunk_samples: int = 65536,
        timeout_s: float = 3.0,
    ) -> None:
        driver = _load_driver()
        self.device_index = int(device_index)
        try:
            self._sdr = driver(self.device_index)
        except Exception as exc:
            raise _open_error(self.device_index, exc) from exc
        self._lock = threading.Lock()
        self._timeout_s = float(timeout_s)
        self._chunk_samples = int(chunk_samples)
        try:
            self._sdr.sample_rate = float(sample_rate_hz)
            self._sdr.center_freq = float(center_freq_hz)
            if ppm:
                self._sdr.freq_correction = int(ppm)
        except Exception as exc:
            self._sdr.close()
            raise SourceError(f"RTL-SDR {device_index}: could not set rate/frequency/ppm: {exc}") from exc
        self._ppm = int(ppm)
        self._gain_db: float | None = None
        self.gain_db = gain_db
        self._ring = RingBuffer(max(self._chunk_samples, int(buffer_s * sample_rate_hz)))
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"rtlsdr-{device_index}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        """Driver thread: librtlsdr calls back with u8 blocks until cancelled."""
        try:
            self._sdr.read_bytes_async(self._on_bytes, 2 * self._chunk_samples)
        except Exception as exc:
            if not self._stopping.is_set():
                log.debug("RTL-SDR async read failed", exc_info=True)
                self._ring.fail(SourceUnavailable(f"RTL-SDR {self.device_index} stopped streaming ({exc}): replug it"))

    def _on_bytes(self, data: Any, _context: Any = None) -> None:
        if self._stopping.is_set():
            return
        self._ring.write(u8_to_complex64(np.frombuffer(bytes(data), dtype=np.uint8)))

    # -- Source interface ------------------------------------------------------------------
    @property
    def center_freq_hz(self) -> float:
        return float(self._sdr.center_freq)

    @property
    def sample_rate_hz(self) -> float:
        return float(self._sdr.sample_rate)

    @property
    def gain_db(self) -> float | None:
        return self._gain_db

    @gain_db.setter
    def gain_db(self, value: float | None) -> None:
        """None = tuner AGC; a number is rounded by the tuner to its nearest gain step."""
        with self._lock:
            self._sdr.gain = "auto" if value is None else float(value)
            self._gain_db = None if value is None else float(self._sdr.gain)

    def _describe(self) -> str:
        return f"RTL-SDR {self.device_index}"

    def _retune(self, freq_hz: float) -> None:
        with self._lock:
            self._sdr.center_freq = freq_hz

    def close(self) -> None:
        if getattr(self, "_stopping", None) is None or self._stopping.is_set():
            return
        self._stopping.set()
        try:
            self._sdr.cancel_read_async()
        except Exception:
            log.debug("cancel_read_async failed", exc_info=True)
        self._thread.join(timeout=2.0)
        self._ring.close()
        try:
            self._sdr.close()
        except Exception:
            log.debug("RTL-SDR close failed", exc_info=True)
