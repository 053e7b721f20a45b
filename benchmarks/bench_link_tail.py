"""The shape of a target link's multipath pull for a noise-like (wideband digital) emission, from the simulator's
own rays: the numbers behind :data:`dsp.link_multipath.UNREAD_TAIL_NU` / ``UNREAD_TAIL_SCALE_S``.

Each link draws its rays from :data:`sdr.sources.sim_tdoa.MIXED` (1-3 rays 0.2-3 us late, 3-15 dB down, random
phase); its pull is the peak of the correlation of the waveform received through it against the clean waveform,
i.e. of |sum_f P(f) H(f) exp(j 2 pi f tau)| over the waveform's power spectrum P (from
:func:`sdr.sources.sim_tdoa.waveform`), found on a 20 ns grid and refined by a parabola. A pair's pull is the
peak of sum_f P conj(H_0) H_i exp(...): nearly the difference of its two links' pulls. Printed: the |pull|
quantiles of links (about their median: a constant lateness cancels in every pair) and of pairs, and those of a
Student t link (and of a pair of them) for a few degrees of freedom and scales, and of the Gaussian of 160 m
the covariance states.

    python benchmarks/bench_link_tail.py [--links 20000] [--seed 12345] [--bandwidth-hz 150e3]
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from dsp.multilat import C_M_S
from sdr.sources.sim_tdoa import MIXED, waveform

FS = 250e3
QUANTILES = (50, 80, 90, 95, 98, 99)


def _responses(rng: np.random.Generator, f_hz: np.ndarray, n: int) -> np.ndarray:
    """n links' channel responses H(f) of the mixed profile (direct ray plus its later ones)."""
    h = np.empty((n, f_hz.size), np.complex128)
    for k in range(n):
        rays, direct = MIXED.rays(rng, k)
        h[k] = direct + sum(a * np.exp(1j * ph - 2j * np.pi * f_hz * d) for d, a, ph in rays)
    return h


def _peaks(x: np.ndarray, p: np.ndarray, f_hz: np.ndarray) -> np.ndarray:
    """Lag (s) of the peak of |sum_f P X exp(j 2 pi f tau)| per row of ``x``, later positive."""
    tau = np.arange(-6e-6, 6e-6, 20e-9)
    r = np.abs((x * p) @ np.exp(2j * np.pi * f_hz[:, None] * tau[None, :]))
    i = np.clip(np.argmax(r, axis=1), 1, tau.size - 2)
    rows = np.arange(i.size)
    y0, y1, y2 = r[rows, i - 1], r[rows, i], r[rows, i + 1]
    return -(tau[i] + 0.5 * (y0 - y2) / (y0 - 2 * y1 + y2) * (tau[1] - tau[0]))


def _q(x: np.ndarray) -> str:
    return " ".join(f"{v:>5.0f}" for v in np.percentile(np.abs(x), QUANTILES))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--links", type=int, default=20000, help="link pairs drawn")
    ap.add_argument("--seed", type=int, default=12345)
    ap.add_argument("--bandwidth-hz", type=float, default=150e3)
    args = ap.parse_args()
    n_fft = 2048
    spec = np.fft.fftshift(np.abs(np.fft.fft(waveform("wideband", args.bandwidth_hz, 64 * n_fft, FS, 1)
                                             .reshape(64, n_fft), axis=1)) ** 2, axes=1).mean(axis=0)
    f_hz = np.fft.fftshift(np.fft.fftfreq(n_fft, 1 / FS))
    keep = spec > 1e-3 * spec.max()
    f_hz, p = f_hz[keep][::4], spec[keep][::4] / spec.max()
    rng = np.random.default_rng(args.seed)
    h0, hi = _responses(rng, f_hz, args.links), _responses(rng, f_hz, args.links)
    links = np.concatenate([_peaks(h0, p, f_hz), _peaks(hi, p, f_hz)]) * C_M_S
    pairs = _peaks(np.conj(h0) * hi, p, f_hz) * C_M_S
    links = links - np.median(links)
    print(f"{2 * args.links} links of profile {MIXED.name}, {args.bandwidth_hz / 1e3:.0f} kHz noise-like waveform; "
          f"|pull| quantiles {'/'.join(map(str, QUANTILES))} % (m)")
    print(f"{'simulator rays':<26} link {_q(links)} | pair {_q(pairs)} | link r.m.s. "
          f"{math.sqrt(float(np.mean(links**2))):.0f} m")
    t_rng = np.random.default_rng(1)
    for nu, scale in ((2.0, 70.0), (2.0, 80.0), (2.0, 90.0), (2.5, 80.0), (3.0, 80.0), (math.inf, 160.0)):
        draw = (scale * (t_rng.standard_normal((200_000, 2)) if math.isinf(nu)
                         else t_rng.standard_t(nu, (200_000, 2))))
        label = f"Gaussian {scale:.0f} m" if math.isinf(nu) else f"Student t {nu:g} dof, {scale:.0f} m"
        print(f"{label:<26} link {_q(draw[:, 0])} | pair {_q(draw[:, 1] - draw[:, 0])}")


if __name__ == "__main__":
    main()
