"""Welch spectrum of one dwell that also keeps when the power was there: a mean PSD per time slot.

A sweep's time-averaged spectrum tells what is on the band, not when. The parts of one transmitter
(the two tones of an FSK, the keying sidebands of an OOK remote) are told apart from two devices side
by side by *when* they are on, so the sensor needs the dwell's spectrum at a few milliseconds'
resolution without keeping its IQ. This accumulator gives both from one pass over the samples: every
Welch segment's |X|^2 is added to the row of its time slot (``segments_per_slot`` consecutive
segments); the dwell's Welch estimate is the sum of the rows.

Cost: the same window + FFT as :class:`dsp.welch.WelchAccumulator`, which it subclasses (same segment
positions, window, scaling, block feeding, so ``result()`` equals it to float rounding), one add per bin
and segment into the slot row instead of into one accumulator, and ``slots x nfft`` float32 of memory
(at most ``MAX_SLOTS`` rows: a long dwell gets longer slots). With a ``peak``/``min``/``rms`` detector
the detector's accumulator is folded as well (one more pass over the transform).

The kernel :func:`accumulate_slots` has the numpy twin :func:`accumulate_slots_np` that defines it.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from dsp import _kernels
from dsp.welch import WelchAccumulator, segment_step

#: Time resolution asked for (s): FSK symbols and keying are far shorter, packets far longer.
SLOT_S = 0.002
#: Rows kept at most per dwell (memory: MAX_SLOTS * nfft * 4 bytes).
MAX_SLOTS = 256


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


class SlottedWelch(WelchAccumulator):
    """Streaming Welch estimate of one dwell plus the mean PSD of each time slot of it.

    Feed IQ blocks of any length with :meth:`update`; :meth:`result` is the dwell's estimate (offsets,
    power per the detector and scaling, fftshifted), :meth:`slot_sums` each slot's summed |X|^2 in FFT
    order and the factor that makes it a mean power in the scaling's unit (the sensor looks at a few
    bins of every slot and at whole rows of a few, so nothing is scaled or reordered that is not read).
    ``dwell_samples`` sizes the slots (:func:`slot_layout`).

    A :class:`dsp.welch.WelchAccumulator` whose per-batch fold (:meth:`_accumulate`) and ``mean`` sum
    (:meth:`_summed_power`) go to the slot rows; settings checks, reset, windowing, the batch loop and
    the carrying of segments across blocks are the parent's, so the two cannot disagree on where a
    segment lies. The FFT runs on one worker, as this class always did; with one worker the parent's
    batch is the same 2**16-sample batch this class used before it shared the parent's loop.
    """

    def __init__(self, sample_rate_hz: float, nfft: int, dwell_samples: int, *, window: str = "hann",
                 overlap: float = 0.5, detector: str = "mean", scaling: str = "density",
                 slot_s: float = SLOT_S, max_slots: int = MAX_SLOTS) -> None:
        super().__init__(sample_rate_hz, nfft, window=window, overlap=overlap, detector=detector,
                         scaling=scaling, workers=1)
        if not slot_s > 0 or max_slots < 1:
            raise ValueError(f"slot_s must be > 0 and max_slots >= 1, got {slot_s!r}, {max_slots!r}")
        self.segs_per_slot, self.n_slots = slot_layout(self.sample_rate_hz, self.nfft, self.overlap,
                                                       int(dwell_samples), slot_s, max_slots)
        # Never zeroed: a slot's first segment overwrites its row (accumulate_slots), so reset() need not.
        self._slots = np.zeros((self.n_slots, self.nfft), dtype=np.float32)

    @property
    def slot_s(self) -> float:
        """Time between slot starts (s)."""
        return self.segs_per_slot * self.step / self.sample_rate_hz

    def _accumulate(self, spec: np.ndarray, n: int) -> None:
        """Fold the batch into the rows of its segments' slots; the detector's accumulator only when it is
        not ``mean`` (the ``mean`` sum is the sum of the rows, :meth:`_summed_power`)."""
        accumulate_slots(spec, n, self.segments, self.segs_per_slot, self._slots)
        if self._code != _kernels.DETECTOR_SUM:
            _kernels.accumulate_power(spec, n, self._acc, self._code)

    def _summed_power(self) -> np.ndarray:
        """The ``mean`` detector's sum over segments: the sum of the used slot rows, as float64."""
        return self._slots[: self._used()].sum(axis=0).astype(np.float64)

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
