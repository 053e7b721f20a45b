"""Welch power spectral density of complex IQ, one-shot and streaming.

The estimate is the classic Welch average (window, overlap, |FFT|^2, average) plus the detectors a
monitoring receiver offers over the same segments: max-hold (``peak``), ``min`` and ``rms``. The result
is fftshifted, so index 0 is the most negative offset from the tuned centre frequency.

``detector="mean"`` equals ``np.fft.fftshift(scipy.signal.welch(..., detrend=False,
return_onesided=False))`` to float32 rounding: same periodic window, same segment positions
(``step = nfft - int(nfft * overlap)``, trailing samples that do not fill a segment are ignored), same
``density`` (per Hz) and ``spectrum`` (per bin) scaling.

Speed: segments are processed in cache-sized batches. A Numba kernel gathers and windows a batch into a
complex64 buffer, ``scipy.fft.fft`` transforms it in place, and a second kernel folds |X|^2 into a float64
accumulator, so nothing of size ``n_segments * nfft`` is ever allocated.
"""

from __future__ import annotations

import numpy as np
import scipy.fft
import scipy.signal

from dsp import _kernels

WINDOWS: dict[str, str] = {
    "hann": "hann",
    "blackmanharris": "blackmanharris",
    "flattop": "flattop",
    "rect": "boxcar",
}
DETECTORS: dict[str, int] = {
    "mean": _kernels.DETECTOR_SUM,
    "peak": _kernels.DETECTOR_MAX,
    "min": _kernels.DETECTOR_MIN,
    "rms": _kernels.DETECTOR_SUMSQ,
}
SCALINGS = ("density", "spectrum")

# Complex samples per FFT batch: 2**16 complex64 = 512 KiB, about an L2 cache (measured best of 2**13..2**18).
_BATCH_SAMPLES = 2**16


def window_coefficients(window: str, nfft: int) -> np.ndarray:
    """The periodic (DFT-even) window of length ``nfft``, float64, as scipy.signal.welch builds it."""
    if window not in WINDOWS:
        raise ValueError(f"unknown window {window!r}: choose one of {sorted(WINDOWS)}")
    return scipy.signal.get_window(WINDOWS[window], nfft, fftbins=True).astype(np.float64)


def enbw_bins(window: str, nfft: int) -> float:
    """Equivalent noise bandwidth of the window in bins: ``nfft * sum(w^2) / sum(w)^2`` (Hann: 1.5).

    Converts between the two scalings: ``spectrum = density * bin_hz * enbw_bins``. Per-bin power for
    integration (emissions, channel power, noise floor) is ``density * bin_hz``; a CW tone's peak bin in
    that unit reads its power less ``10 log10(enbw_bins)`` dB.
    """
    w = window_coefficients(window, nfft)
    return float(nfft * np.sum(w * w) / np.sum(w) ** 2)


def psd_frequencies(sample_rate_hz: float, nfft: int) -> np.ndarray:
    """Bin centre offsets from the tuned frequency (Hz), fftshifted (ascending)."""
    return np.fft.fftshift(np.fft.fftfreq(nfft, d=1.0 / sample_rate_hz))


def segment_step(nfft: int, overlap: float) -> int:
    """Hop between segment starts in samples, as scipy.signal.welch derives it from ``noverlap``."""
    return nfft - int(nfft * overlap)


class WelchAccumulator:
    """Streaming Welch estimate: feed IQ blocks of any length, read the spectrum at any time.

    Gives the same answer as :func:`welch_psd` on the concatenation of every block fed since the last
    :meth:`reset`, including segments that straddle block edges: the samples after the last complete
    segment start are carried over to the next :meth:`update`.
    """

    def __init__(
        self,
        sample_rate_hz: float,
        nfft: int,
        *,
        window: str = "hann",
        overlap: float = 0.5,
        detector: str = "mean",
        scaling: str = "density",
        workers: int = 1,
    ) -> None:
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
        if int(workers) < 1:
            raise ValueError(f"workers must be >= 1, got {workers!r}")
        self.sample_rate_hz = float(sample_rate_hz)
        self.nfft = int(nfft)
        self.window = window
        self.overlap = float(overlap)
        self.detector = detector
        self.scaling = scaling
        self.workers = int(workers)
        self.step = segment_step(self.nfft, self.overlap)
        win = window_coefficients(window, self.nfft)
        self._win2 = np.repeat(win.astype(np.float32), 2)  # interleaved for the float32-view kernel
        if scaling == "density":
            self._scale = 1.0 / (self.sample_rate_hz * float(np.sum(win * win)))
        else:
            self._scale = 1.0 / float(np.sum(win)) ** 2
        self._code = DETECTORS[detector]
        # With several FFT workers each needs a cache-sized share, or thread start-up dominates.
        self._batch = max(1, _BATCH_SAMPLES * self.workers // self.nfft)
        self._buf = np.empty((self._batch, self.nfft), dtype=np.complex64)
        self._buf_f = self._buf.view(np.float32)
        self.reset()

    def reset(self) -> None:
        """Forget every sample fed so far."""
        if self._code == _kernels.DETECTOR_MAX:
            self._acc = np.full(self.nfft, -np.inf)
        elif self._code == _kernels.DETECTOR_MIN:
            self._acc = np.full(self.nfft, np.inf)
        else:
            self._acc = np.zeros(self.nfft)
        self._tail = np.zeros(0, dtype=np.complex64)
        self.segments = 0

    def _process(self, x: np.ndarray, start: int, nseg: int) -> None:
        """Window, transform and accumulate ``nseg`` segments of ``x`` from sample ``start``.

        The one batch loop of every accumulator built on this class (:class:`dsp.slotted_welch.SlottedWelch`
        too), so segment positions, window and transform cannot drift apart between them: a subclass changes
        only where a batch's |X|^2 goes, by overriding :meth:`_accumulate`. ``segments`` is advanced per
        batch so that :meth:`_accumulate` knows the index of the batch's first segment.
        """
        xf = x.view(np.float32)
        done = 0
        while done < nseg:
            n = min(self._batch, nseg - done)
            _kernels.window_segments(xf, start + done * self.step, self.step, n, self._win2, self._buf_f)
            # In place: the transform of a complex64 C-contiguous buffer overwrites it (no allocation).
            spec = scipy.fft.fft(self._buf[:n], axis=1, workers=self.workers, overwrite_x=True)
            self._accumulate(spec, n)
            self.segments += n
            done += n

    def _accumulate(self, spec: np.ndarray, n: int) -> None:
        """Fold the first ``n`` rows of a batch's transform ``spec`` into the detector's accumulator.

        Called once per batch, before ``segments`` counts the batch: an override that places segments in
        time reads the batch's first segment index there.
        """
        _kernels.accumulate_power(spec, n, self._acc, self._code)

    def _summed_power(self) -> np.ndarray:
        """Sum over segments of |X|^2 per bin, FFT order, float64 (the ``mean`` detector's numerator).

        An override may keep the sum elsewhere (SlottedWelch keeps it split into time-slot rows).
        """
        return self._acc

    def _n_segments(self, length: int, first: int = 0) -> int:
        """Complete segments in ``length`` samples whose starts are ``first``, ``first + step``, ..."""
        if length - first < self.nfft:
            return 0
        return (length - first - self.nfft) // self.step + 1

    def update(self, iq_block: np.ndarray) -> None:
        """Add a block of complex IQ samples (any length, converted to complex64)."""
        x = np.ascontiguousarray(iq_block, dtype=np.complex64)
        if x.ndim != 1:
            raise ValueError(f"iq_block must be one-dimensional, got shape {x.shape}")
        tail = self._tail
        pos = 0  # start of the next segment, in coordinates of the block
        if tail.size:
            # Segments starting inside the carried-over tail need at most nfft - 1 samples of the block.
            head = np.concatenate([tail, x[: self.nfft - 1]])
            n_head = min(self._n_segments(head.size), -(-tail.size // self.step))
            if n_head:
                self._process(head, 0, n_head)
            pos = n_head * self.step - tail.size
            if pos < 0:  # not enough samples yet to finish the first pending segment
                self._tail = head[n_head * self.step :].copy()
                return
        n_body = self._n_segments(x.size, pos)
        if n_body:
            self._process(x, pos, n_body)
        self._tail = x[pos + n_body * self.step :].copy()

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """(freqs_hz, power): offsets from centre and linear power per the chosen detector and scaling."""
        if self.segments == 0:
            raise ValueError(
                f"no complete segment yet: {type(self).__name__} needs at least nfft={self.nfft} samples"
            )
        acc = self._acc
        if self._code == _kernels.DETECTOR_SUM:
            power = self._summed_power() * (self._scale / self.segments)
        elif self._code == _kernels.DETECTOR_SUMSQ:
            power = np.sqrt(acc / self.segments) * self._scale
        else:
            power = acc * self._scale
        return psd_frequencies(self.sample_rate_hz, self.nfft), np.fft.fftshift(power)


def welch_psd(
    iq: np.ndarray,
    sample_rate_hz: float,
    nfft: int,
    *,
    window: str = "hann",
    overlap: float = 0.5,
    detector: str = "mean",
    scaling: str = "density",
    workers: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Welch spectrum of complex IQ: (freqs_hz offsets from centre, linear power), fftshifted.

    detector: ``mean`` (Welch average), ``peak`` (max-hold over segments), ``min`` (min-hold), ``rms``
    (root mean square over segments of the per-segment power, between mean and peak for bursty signals).
    scaling: ``density`` (power per Hz, e.g. V^2/Hz) or ``spectrum`` (power per bin).
    workers: threads for the FFT (scipy.fft ``workers``).
    """
    iq = np.asarray(iq)
    if iq.ndim != 1:
        raise ValueError(f"iq must be one-dimensional, got shape {iq.shape}")
    if iq.size < nfft:
        raise ValueError(f"iq has {iq.size} samples, fewer than nfft={nfft}")
    acc = WelchAccumulator(
        sample_rate_hz, nfft, window=window, overlap=overlap, detector=detector, scaling=scaling,
        workers=workers,
    )
    acc.update(iq)
    return acc.result()
