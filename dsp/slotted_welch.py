"""Welch spectrum of one dwell that also keeps when the power was there: a mean PSD per time slot.

A sweep's time-averaged spectrum tells what is on the band, not when. The parts of one transmitter
(the two tones of an FSK, the keying sidebands of an OOK remote) are told apart from two devices side
by side by *when* they are on, so the sensor needs the dwell's spectrum at a few milliseconds'
resolution without keeping its IQ. This accumulator gives both from one pass over the samples: every
Welch segment's |X|^2 is added to the row of its time slot (``segments_per_slot`` consecutive
segments); the dwell's Welch estimate is the sum of the rows.

Cost: the same window + FFT as :class:`dsp.welch.WelchAccumulator` (same segment positions, window,
scaling, so ``result()`` equals it to float rounding), one add per bin and segment into the slot row
instead of into one accumulator, and ``slots x nfft`` float32 of memory (at most ``MAX_SLOTS`` rows:
a long dwell gets longer slots). With a ``peak``/``min``/``rms`` detector the detector's accumulator
is folded as well (one more pass over the transform).

The kernel :func:`accumulate_slots` has the numpy twin :func:`accumulate_slots_np` that defines it.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.fft
from numba import njit

from dsp import _kernels
from dsp.welch import DETECTORS, SCALINGS, psd_frequencies, segment_step, window_coefficients

#: Time resolution asked for (s): FSK symbols and keying are far shorter, packets far longer.
SLOT_S = 0.002
#: Rows kept at most per dwell (memory: MAX_SLOTS * nfft * 4 bytes).
MAX_SLOTS = 256
#: Complex samples per FFT batch (about an L2 cache, as the Welch accumulator uses).
BATCH_SAMPLES = 1 << 16


@njit(cache=True, nogil=True)
def accumulate_slots(spec, nseg, first_seg, segs_per_slot, slots):  # pragma: no cover - compiled
    """Fold |spec[s, i]|^2 of the first ``nseg`` rows into ``slots[(first_seg + s) // segs_per_slot, i]``.

    A slot's first segment overwrites its row (no zeroing pass between dwells); segments past the last
    row are added to the last row (a source that delivered more than planned).
    """
    nfft = spec.shape[1]
    last = slots.shape[0] - 1
    for s in range(nseg):
        seg = first_seg + s
        r = seg // segs_per_slot
        if r > last:
            r = last
        if seg % segs_per_slot == 0 and seg // segs_per_slot <= last:
            for i in range(nfft):
                v = spec[s, i]
                slots[r, i] = v.real * v.real + v.imag * v.imag
        else:
            for i in range(nfft):
                v = spec[s, i]
                slots[r, i] += v.real * v.real + v.imag * v.imag


def accumulate_slots_np(spec: np.ndarray, nseg: int, first_seg: int, segs_per_slot: int, slots: np.ndarray) -> None:
    """Numpy twin of :func:`accumulate_slots` (updates ``slots`` in place)."""
    p = spec[:nseg].real.astype(np.float32) ** 2 + spec[:nseg].imag.astype(np.float32) ** 2
    last = slots.shape[0] - 1
    for s in range(nseg):
        seg = first_seg + s
        r = min(seg // segs_per_slot, last)
        if seg % segs_per_slot == 0 and seg // segs_per_slot <= last:
            slots[r] = p[s]
        else:
            slots[r] += p[s]


def slot_layout(sample_rate_hz: float, nfft: int, overlap: float, dwell_samples: int,
                slot_s: float = SLOT_S, max_slots: int = MAX_SLOTS) -> tuple[int, int]:
    """(segments per slot, slots) for a dwell of ``dwell_samples``: slots near ``slot_s``, at most ``max_slots``."""
    step = segment_step(nfft, overlap)
    n_seg = max(1, (max(dwell_samples, nfft) - nfft) // step + 1)
    per_slot = max(1, round(slot_s * sample_rate_hz / step), math.ceil(n_seg / max_slots))
    return per_slot, math.ceil(n_seg / per_slot)


class SlottedWelch:
    """Streaming Welch estimate of one dwell plus the mean PSD of each time slot of it.

    Feed IQ blocks of any length with :meth:`update`; :meth:`result` is the dwell's estimate (offsets,
    power per the detector and scaling, fftshifted), :meth:`slot_sums` each slot's summed |X|^2 in FFT
    order and the factor that makes it a mean power in the scaling's unit (the sensor looks at a few
    bins of every slot and at whole rows of a few, so nothing is scaled or reordered that is not read).
    ``dwell_samples`` sizes the slots (:func:`slot_layout`).
    """

    def __init__(self, sample_rate_hz: float, nfft: int, dwell_samples: int, *, window: str = "hann",
                 overlap: float = 0.5, detector: str = "mean", scaling: str = "density",
                 slot_s: float = SLOT_S, max_slots: int = MAX_SLOTS) -> None:
        if not (np.isfinite(sample_rate_hz) and sample_rate_hz > 0):
            raise ValueError(f"sample_rate_hz must be a positive number, got {sample_rate_hz!r}")
        if int(nfft) != nfft or nfft < 2:
            raise ValueError(f"nfft must be an integer >= 2, got {nfft!r}")
        if not 0.0 <= overlap < 1.0:
            raise ValueError(f"overlap must be a fraction in [0, 1), got {overlap!r}")
        if detector not in DETECTORS:
            raise ValueError(f"unknown detector {detector!r}: choose one of {sorted(DETECTORS)}")
        if scaling not in SCALINGS:
            raise ValueError(f"unknown scaling {scaling!r}: choose one of {list(SCALINGS)}")
        if not slot_s > 0 or max_slots < 1:
            raise ValueError(f"slot_s must be > 0 and max_slots >= 1, got {slot_s!r}, {max_slots!r}")
        self.sample_rate_hz = float(sample_rate_hz)
        self.nfft = int(nfft)
        self.step = segment_step(self.nfft, overlap)
        self.segs_per_slot, self.n_slots = slot_layout(self.sample_rate_hz, self.nfft, overlap, int(dwell_samples),
                                                       slot_s, max_slots)
        win = window_coefficients(window, self.nfft)
        self._win2 = np.repeat(win.astype(np.float32), 2)
        if scaling == "density":
            self._scale = 1.0 / (self.sample_rate_hz * float(np.sum(win * win)))
        else:
            self._scale = 1.0 / float(np.sum(win)) ** 2
        self._code = DETECTORS[detector]
        self._batch = max(1, BATCH_SAMPLES // self.nfft)
        self._buf = np.empty((self._batch, self.nfft), dtype=np.complex64)
        self._buf_f = self._buf.view(np.float32)
        self._slots = np.zeros((self.n_slots, self.nfft), dtype=np.float32)
        self.reset()

    @property
    def slot_s(self) -> float:
        """Time between slot starts (s)."""
        return self.segs_per_slot * self.step / self.sample_rate_hz

    def reset(self) -> None:
        """Forget every sample fed so far (a new dwell)."""
        if self._code == _kernels.DETECTOR_MAX:
            self._acc = np.full(self.nfft, -np.inf)
        elif self._code == _kernels.DETECTOR_MIN:
            self._acc = np.full(self.nfft, np.inf)
        else:
            self._acc = np.zeros(self.nfft)
        self._tail = np.zeros(0, dtype=np.complex64)
        self.segments = 0

    def _process(self, x: np.ndarray, start: int, nseg: int) -> None:
        xf = x.view(np.float32)
        done = 0
        while done < nseg:
            n = min(self._batch, nseg - done)
            _kernels.window_segments(xf, start + done * self.step, self.step, n, self._win2, self._buf_f)
            spec = scipy.fft.fft(self._buf[:n], axis=1, workers=1, overwrite_x=True)
            accumulate_slots(spec, n, self.segments, self.segs_per_slot, self._slots)
            if self._code != _kernels.DETECTOR_SUM:
                _kernels.accumulate_power(spec, n, self._acc, self._code)
            self.segments += n
            done += n

    def _n_segments(self, length: int, first: int = 0) -> int:
        if length - first < self.nfft:
            return 0
        return (length - first - self.nfft) // self.step + 1

    def update(self, iq_block: np.ndarray) -> None:
        """Add a block of complex IQ samples (any length); segments straddling blocks are kept."""
        x = np.ascontiguousarray(iq_block, dtype=np.complex64)
        if x.ndim != 1:
            raise ValueError(f"iq_block must be one-dimensional, got shape {x.shape}")
        pos = 0
        if self._tail.size:
            head = np.concatenate([self._tail, x[: self.nfft - 1]])
            n_head = min(self._n_segments(head.size), -(-self._tail.size // self.step))
            if n_head:
                self._process(head, 0, n_head)
            pos = n_head * self.step - self._tail.size
            if pos < 0:
                self._tail = head[n_head * self.step :].copy()
                return
        n_body = self._n_segments(x.size, pos)
        if n_body:
            self._process(x, pos, n_body)
        self._tail = x[pos + n_body * self.step :].copy()

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """(offsets_hz, power) of the whole dwell per the detector and scaling, fftshifted."""
        if self.segments == 0:
            raise ValueError(f"no complete segment yet: SlottedWelch needs at least nfft={self.nfft} samples")
        if self._code == _kernels.DETECTOR_SUM:
            power = self._slots[: self._used()].sum(axis=0).astype(np.float64) * (self._scale / self.segments)
        elif self._code == _kernels.DETECTOR_SUMSQ:
            power = np.sqrt(self._acc / self.segments) * self._scale
        else:
            power = self._acc * self._scale
        return psd_frequencies(self.sample_rate_hz, self.nfft), np.fft.fftshift(power)

    def _used(self) -> int:
        return min(self.n_slots, -(-self.segments // self.segs_per_slot))

    def slot_sums(self) -> tuple[np.ndarray, np.ndarray]:
        """(sums, weights): (slots, nfft) summed |X|^2 of each slot that holds a segment, in FFT order (not
        fftshifted; a view, valid until the next update), and per slot the factor that makes a row its
        mean power in the scaling's unit."""
        used = self._used()
        counts = np.full(used, float(self.segs_per_slot))
        if used:
            counts[-1] = self.segments - self.segs_per_slot * (used - 1)
        return self._slots[:used], self._scale / counts


__all__ = ["MAX_SLOTS", "SLOT_S", "SlottedWelch", "accumulate_slots", "accumulate_slots_np", "slot_layout"]
