"""Server side of TDOA: from the sensors' synchronised snapshots to a position with an honest 95 % region.

The chain (pure: no sockets, no clocks, arrays in, a fix out): pick the sensor the target is strongest
at as the pair reference (its noise enters every pair once, so the cleanest one); for every other
sensor measure the target's time difference against it after removing the two dongles' clock offset
and drift with the reference broadcaster (:func:`dsp.tdoa_pair.pair_tdoa`); drop pairs whose
correlation is ambiguous; solve the hyperbolic fix in a local ENU frame (:func:`dsp.multilat.solve_tdoa`)
and state its 95 % ellipse.

Covariance of the range differences: each pair's sigma is its own (target lag, clock map, reference
geometry); pairs share sensor 0's recording, whose noise makes them correlated. The shared part is
approximated as half of the smaller pair's target variance on the off-diagonal (equal SNRs give
exactly that), which keeps the region from being optimistic in the directions the pairs agree on.

Multipath: every link (emitter to sensor, broadcaster to sensor) has later, weaker rays that a 10-200 kHz
signal cannot resolve (its correlation is 5-100 us wide, the rays a few hundred ns to a few us late), so
each link's correlation peak is pulled by a bias of the order of the delay spread, with a sign set by
the rays' phases. No correlation between two sensors shows it; what one sensor's recording shows is
taken (:mod:`dsp.link_multipath`): a constant-envelope target (FM, FSK) is received with the channel's gain
at its instantaneous frequency, so its envelope's ripple over the swept band says how near a fade the
link is, and the link's bias is stated as zero-mean with a 1-sigma that grows with that ripple (60 m on a
flat link to 1.2 km); a target whose envelope says nothing (a noise-like digital carrier, 12.5 kHz NFM's
narrow sweep) gets the links' r.m.s. pull, 160 m. For a noise-like target (a digital carrier: nothing of its
channel can be read) that 160 m stands for pulls small on most links and large on the few near a fade, so its
region is drawn from a Student t per link (:data:`dsp.link_multipath.UNREAD_TAIL_NU`) seen through the fix
(:class:`dsp.multilat.HeavyTail`), not from the 160 m as a Gaussian; the fix and its weights stay as they were.
A pair's range difference carries four such links (target and reference at both sensors; two when the clocks
are PPS-disciplined), and the two of sensor 0 are shared by every pair (off-diagonal). A reference link's pull
is read from the envelope of the constant-envelope broadcast and removed in the pair
(:mod:`dsp.fm_multipath`); its term is then the 1-sigma that reading leaves (40 m on a nearly flat channel
to 900 m where rays notch the band). The fix is then checked by chi-square
(:func:`dsp.multilat.solve_tdoa_checked`): an inconsistent pair is left out when the others can tell which,
the region widened when they cannot.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dsp.link_multipath import UNREAD_TAIL_NU, UNREAD_TAIL_SCALE_S, is_constant_envelope, link_sigma_s
from dsp.multilat import C_M_S, EnuFrame, HeavyTail, MultilatError, TdoaFix, solve_tdoa_checked
from dsp.tdoa_pair import PairTdoa, SnapshotWindows, TdoaPairError, pair_tdoa

log = logging.getLogger(__name__)

#: Licensed coordinates of a broadcaster are good to some tens of metres (1-sigma, each axis).
REF_POSITION_SIGMA_M = 30.0
#: Assumed emitter height above ground for the fix (m): rooftops and masts of the emitters met.
EMITTER_HEIGHT_M = 15.0
#: 1-sigma bias (m) of a reference link's correlation peak when its pull is not read from its envelope (the
#: correction off) and no number is given (see :func:`pair_sigmas`). On the
#: simulator's mixed profile at 30 dB pair errors had a median |error| of 110 m (a Gaussian core of ~80 m per
#: link) and tails past 1.5 km (a ray near a fade of the band). The target links' terms are now read per link
#: (:mod:`dsp.link_multipath`); this one number, 125 m, is what the regions stated before, kept for comparison.
MULTIPATH_LINK_SIGMA_M = 125.0


class TdoaError(ValueError):
    """No TDOA fix: fewer than three sensors with a usable time difference."""


@dataclass(frozen=True)
class SensorSnapshot:
    """One sensor's snapshot and where its antenna is."""

    sensor_id: str
    lat: float
    lon: float
    height_m: float
    windows: SnapshotWindows


@dataclass(frozen=True)
class ReferenceBroadcaster:
    """The licensed wideband transmitter the clocks are aligned on."""

    station_id: str
    lat: float
    lon: float
    height_m: float
    freq_hz: float


@dataclass(frozen=True)
class TdoaResult:
    """A TDOA fix: position, 95 % ellipse, the pairs it rests on and the ones left out."""

    lat: float
    lon: float
    semi_major_m: float
    semi_minor_m: float
    orientation_deg: float  # major axis, degrees east of north
    fix: TdoaFix
    frame: EnuFrame
    reference_sensor: str
    pairs: tuple[tuple[str, PairTdoa], ...]
    dropped: tuple[tuple[str, str], ...]  # (sensor, reason)

    @property
    def method(self) -> str:
        return "tdoa"


def _distance_m(frame: EnuFrame, a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
    pa = frame.to_enu(np.array(a[0]), np.array(a[1]), np.array(a[2]))
    pb = frame.to_enu(np.array(b[0]), np.array(b[1]), np.array(b[2]))
    return float(np.linalg.norm(pa - pb))


def _target_power(s: SensorSnapshot) -> float:
    seg = s.windows.segment(s.windows.target)
    return float(np.mean(np.abs(seg) ** 2)) if seg.size else 0.0


@dataclass(frozen=True)
class MeasuredPairs:
    """Sensor 0 and every usable pair's time difference against it: what the covariance and the solve rest on."""

    frame: EnuFrame
    s0: SensorSnapshot
    pairs: tuple[tuple[SensorSnapshot, PairTdoa], ...]
    dropped: tuple[tuple[str, str], ...]  # (sensor, reason)


@dataclass(frozen=True)
class PairSigmas:
    """Per pair, the 1-sigma parts (m) of its range difference (see the module docstring): the data's own
    (target lag, clock map, broadcaster position) and of it the target lag's (sensor 0's share correlated
    between pairs), the two reference links' multipath, the two target links' (sensor 0's shared by all).
    ``target_tail``: the target links' terms are the unread one of a noise-like emission, whose pulls are
    heavy-tailed: the region is drawn from :meth:`heavy_tail`, not from their Gaussian 1-sigma."""

    data_m: np.ndarray
    target_lag_m: np.ndarray
    ref0_m: np.ndarray
    refi_m: np.ndarray
    target0_m: np.ndarray
    targeti_m: np.ndarray
    target_tail: bool = False

    @property
    def reference_side_m(self) -> np.ndarray:
        """What the pair's clock alignment contributes: clock map, broadcaster position, both reference links."""
        clock2 = np.maximum(self.data_m**2 - self.target_lag_m**2, 0.0)
        return np.sqrt(clock2 + self.ref0_m**2 + self.refi_m**2)

    @property
    def target_side_m(self) -> np.ndarray:
        """What the target's own correlation contributes: its lag and both target links' multipath."""
        return np.sqrt(self.target_lag_m**2 + self.target0_m**2 + self.targeti_m**2)

    def covariance_m2(self) -> np.ndarray:
        """The range differences' covariance: every part on the diagonal; sensor 0's shares off it."""
        cov = np.diag(self.data_m**2 + self.refi_m**2 + self.targeti_m**2)
        shared = 0.5 * np.minimum.outer(self.target_lag_m**2, self.target_lag_m**2)
        cov = cov + shared - np.diag(np.diag(shared))
        return cov + np.outer(self.ref0_m, self.ref0_m) + np.outer(self.target0_m, self.target0_m)

    def heavy_tail(self) -> HeavyTail | None:
        """The target links as heavy-tailed parts of :meth:`covariance_m2` (sensor 0's link in every pair, sensor
        i's in pair i), each a Student t (:data:`dsp.link_multipath.UNREAD_TAIL_NU`, scale
        :data:`~dsp.link_multipath.UNREAD_TAIL_SCALE_S`); None unless ``target_tail``."""
        if not self.target_tail:
            return None
        m = self.targeti_m.size
        loadings = np.concatenate([np.ones((m, 1)), np.eye(m)], axis=1)
        sigma = np.concatenate([self.target0_m[:1], self.targeti_m])
        return HeavyTail(loadings=loadings, sigma_m=sigma, scale_m=np.full(m + 1, UNREAD_TAIL_SCALE_S * C_M_S),
                         nu=UNREAD_TAIL_NU)


def measure_pairs(snapshots: Sequence[SensorSnapshot], reference: ReferenceBroadcaster | None, *,
                  ref_position_sigma_m: float = REF_POSITION_SIGMA_M,
                  ref_multipath_correction: bool = True, target_fm: bool = False) -> MeasuredPairs:
    """Every other sensor's time difference against the one the target is strongest at (see :func:`locate_tdoa`)."""
    if len(snapshots) < 3:
        raise TdoaError(f"a TDOA fix needs >= 3 sensors, got {len(snapshots)}")
    if reference is None and not all(s.windows.pps_locked for s in snapshots):
        raise TdoaError("sensors without a PPS-disciplined clock need a reference broadcaster")
    order = sorted(snapshots, key=_target_power, reverse=True)
    s0 = order[0]
    frame = EnuFrame(float(np.mean([s.lat for s in snapshots])), float(np.mean([s.lon for s in snapshots])))
    pos0 = (s0.lat, s0.lon, s0.height_m)
    pairs: list[tuple[SensorSnapshot, PairTdoa]] = []
    dropped: list[tuple[str, str]] = []
    for si in order[1:]:
        posi = (si.lat, si.lon, si.height_m)
        baseline_s = _distance_m(frame, pos0, posi) / C_M_S
        geo_ref_s, geo_sigma_s = 0.0, 0.0
        if reference is not None:
            rp = (reference.lat, reference.lon, reference.height_m)
            geo_ref_s = (_distance_m(frame, rp, posi) - _distance_m(frame, rp, pos0)) / C_M_S
            geo_sigma_s = ref_position_sigma_m * math.sqrt(2.0) / C_M_S * _ref_geometry_gain(frame, rp, pos0, posi)
        try:
            res = pair_tdoa(s0.windows, si.windows, ref_geometric_lag_s=geo_ref_s, max_tdoa_s=baseline_s * 1.05,
                            ref_geometry_sigma_s=geo_sigma_s, ref_multipath_correction=ref_multipath_correction,
                            target_fm=target_fm)
        except TdoaPairError as exc:
            dropped.append((si.sensor_id, str(exc)))
            continue
        if not res.target.reliable:
            dropped.append((si.sensor_id, f"ambiguous target correlation (sidelobe {res.target.sidelobe_ratio:.2f})"))
            continue
        pairs.append((si, res))
    if len(pairs) < 2:
        reasons = "; ".join(f"{sid}: {why}" for sid, why in dropped)
        raise TdoaError(f"{len(pairs) + 1} sensors with a usable time difference, need 3 ({reasons})")
    return MeasuredPairs(frame=frame, s0=s0, pairs=tuple(pairs), dropped=tuple(dropped))


def pair_sigmas(measured: MeasuredPairs, multipath_link_sigma_m: float | None = None) -> PairSigmas:
    """The 1-sigma parts of every pair's range difference (m): the data's own and the multipath terms.

    ``multipath_link_sigma_m``: None reads each target link's from its own recording (:mod:`dsp.link_multipath`);
    a number is taken for every target link instead (0: line-of-sight links only), and for a reference link
    whose pull was not read (the correction off)."""
    s0, pairs = measured.s0, measured.pairs
    fs = s0.windows.sample_rate_hz
    sig_t = np.array([p.target.sigma_samples / p.clock.ratio / fs * C_M_S for _, p in pairs])
    sig = np.array([p.sigma_s * C_M_S for _, p in pairs])
    # multipath: target link and (unless PPS) reference link at each end; sensor 0's two shared by all pairs.
    # A reference link's is what its own envelope says is left after the correction, else the model term.
    model_m = MULTIPATH_LINK_SIGMA_M if multipath_link_sigma_m is None else multipath_link_sigma_m
    ref0, refi = _ref_link_sigmas_m(pairs, s0, model_m)
    tail = False
    if multipath_link_sigma_m is None:
        links, constant = _target_link_sigmas_m([s0] + [si for si, _ in pairs])
        link0, linki = np.full(len(pairs), links[0]), links[1:]
        tail = not constant
    else:
        link0, linki = np.full(len(pairs), model_m), np.full(len(pairs), model_m)
    return PairSigmas(data_m=sig, target_lag_m=sig_t, ref0_m=ref0,
                      refi_m=refi, target0_m=link0, targeti_m=linki, target_tail=tail)


def _target_link_sigmas_m(sensors: Sequence[SensorSnapshot]) -> tuple[np.ndarray, bool]:
    """Each sensor's target-link multipath 1-sigma (m), ``sensors[0]`` the strongest, and whether the emission is
    constant-envelope: whether its envelope can be read at all is decided on the cleanest recording, sensor 0's
    (:mod:`dsp.link_multipath`)."""
    s0 = sensors[0]
    constant = is_constant_envelope(s0.windows.segment(s0.windows.target))
    return np.array([link_sigma_s(s.windows.segment(s.windows.target), s.windows.sample_rate_hz,
                                  constant_envelope=constant) * C_M_S for s in sensors]), constant


def solve_pairs(measured: MeasuredPairs, *, emitter_height_m: float = EMITTER_HEIGHT_M,
                starts_latlon: Sequence[tuple[float, float]] = (),
                multipath_link_sigma_m: float | None = None) -> TdoaResult:
    """The hyperbolic fix of measured pairs with its chi-square check and 95 % region (see :func:`locate_tdoa`)."""
    frame, s0, pairs = measured.frame, measured.s0, list(measured.pairs)
    dropped = list(measured.dropped)
    sensors = [s0] + [p[0] for p in pairs]
    enu = frame.to_enu(np.array([s.lat for s in sensors]), np.array([s.lon for s in sensors]),
                       np.array([s.height_m for s in sensors]))
    rdiff = np.array([p[1].tdoa_s * C_M_S for p in pairs])
    stated = pair_sigmas(measured, multipath_link_sigma_m)
    # The per-link terms say how far the region must reach, not how to weight the fix: weighted by them the FM
    # fixes moved both ways (bench_tdoa at 10 dB, median 154 -> 146 m on dev seeds, 126 -> 166 m on another set),
    # a heavy tail being no Gaussian to weight by. The fix keeps the one-term weights; its region is what those
    # weights leave of the stated covariance (the sandwich of dsp.multilat).
    weight = None
    if multipath_link_sigma_m is None:
        weight = pair_sigmas(measured, MULTIPATH_LINK_SIGMA_M)
    starts = [frame.to_enu(np.array(la), np.array(lo), np.array(0.0))[:2] for la, lo in starts_latlon]
    fix, left_out = fix_from_sigmas(enu, rdiff, stated, weight, emitter_height_m=emitter_height_m, starts_enu=starts)
    for i in left_out:
        dropped.append((pairs[i][0].sensor_id, "range difference inconsistent with the others (chi-square)"))
    pairs = [p for i, p in enumerate(pairs) if i not in left_out]
    lat, lon = frame.to_geodetic(fix.east_m, fix.north_m)
    major, minor, orient = fix.ellipse_95()
    log.debug("tdoa fix %.5f %.5f major %.0f m from %d pairs (ref %s)", lat, lon, major, len(pairs), s0.sensor_id)
    return TdoaResult(lat=lat, lon=lon, semi_major_m=major, semi_minor_m=minor, orientation_deg=orient, fix=fix,
                      frame=frame, reference_sensor=s0.sensor_id,
                      pairs=tuple((p[0].sensor_id, p[1]) for p in pairs), dropped=tuple(dropped))


def fix_from_sigmas(sensors_enu: np.ndarray, rdiff_m: np.ndarray, stated: PairSigmas, weight: PairSigmas | None, *,
                    emitter_height_m: float = EMITTER_HEIGHT_M, starts_enu: Sequence[np.ndarray] = ()
                    ) -> tuple[TdoaFix, tuple[int, ...]]:
    """The fix of :func:`solve_pairs` from its numbers alone (ENU sensors, sensor 0 first; range differences; the
    stated sigma parts and those it is weighted by, None: the same): the chi-square-checked fix and the indices
    of the differences it left out. Pure, so a fix can be stated again from recorded pairs (bench_tdoa --dump)."""
    cov = stated.covariance_m2()
    try:
        return solve_tdoa_checked(sensors_enu, rdiff_m, cov, height_m=emitter_height_m,
                                  starts=[np.asarray(p) for p in starts_enu],
                                  weight_cov_m2=None if weight is None else weight.covariance_m2(),
                                  tail=stated.heavy_tail())
    except MultilatError as exc:
        raise TdoaError(f"hyperbolic solve failed: {exc}") from exc


def locate_tdoa(snapshots: Sequence[SensorSnapshot], reference: ReferenceBroadcaster | None, *,
                emitter_height_m: float = EMITTER_HEIGHT_M, ref_position_sigma_m: float = REF_POSITION_SIGMA_M,
                starts_latlon: Sequence[tuple[float, float]] = (),
                multipath_link_sigma_m: float | None = None,
                ref_multipath_correction: bool = True, target_fm: bool = False) -> TdoaResult:
    """TDOA fix from >= 3 sensors' snapshots; ``reference`` may be None only if every sensor is PPS-locked.

    ``starts_latlon``: extra start points for the solver (e.g. the received-level fix);
    ``multipath_link_sigma_m``: None states each target link's multipath term from its own recording
    (:mod:`dsp.link_multipath`); a number is that term for every target link instead (0 for line-of-sight-only
    links), and per reference link when ``ref_multipath_correction`` is off; on, each reference link's pull is
    read from its own envelope and removed, and what is left of it is that link's term (:mod:`dsp.fm_multipath`);
    ``target_fm``: the target is FM (its class from the detection): each target link's pull is read the same way
    where the recordings allow (:func:`dsp.tdoa_pair.pair_tdoa`).
    :func:`measure_pairs` then :func:`solve_pairs`: a caller that states the region more than one way measures once.
    """
    measured = measure_pairs(snapshots, reference, ref_position_sigma_m=ref_position_sigma_m,
                             ref_multipath_correction=ref_multipath_correction, target_fm=target_fm)
    return solve_pairs(measured, emitter_height_m=emitter_height_m, starts_latlon=starts_latlon,
                       multipath_link_sigma_m=multipath_link_sigma_m)


def _ref_link_sigmas_m(pairs: Sequence[tuple[SensorSnapshot, PairTdoa]], s0: SensorSnapshot,
                       model_sigma_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Per pair: the 1-sigma (m) of sensor 0's and of sensor i's reference-link multipath (0 with PPS)."""
    ref0, refi = [], []
    for si, p in pairs:
        if si.windows.pps_locked and s0.windows.pps_locked:
            ref0.append(0.0)
            refi.append(0.0)
        elif len(p.ref_multipath) == 2:
            ref0.append(p.ref_multipath[0].sigma_s * C_M_S)
            refi.append(p.ref_multipath[1].sigma_s * C_M_S)
        else:
            ref0.append(model_sigma_m)
            refi.append(model_sigma_m)
    return np.array(ref0), np.array(refi)


def _ref_geometry_gain(frame: EnuFrame, ref: tuple[float, float, float], p0: tuple[float, float, float],
                       pi: tuple[float, float, float]) -> float:
    """How much a shift of the broadcaster moves its path difference: |u_i - u_0| / sqrt(2) (0..sqrt(2))."""
    r = frame.to_enu(np.array(ref[0]), np.array(ref[1]), np.array(ref[2]))
    a = frame.to_enu(np.array(p0[0]), np.array(p0[1]), np.array(p0[2]))
    b = frame.to_enu(np.array(pi[0]), np.array(pi[1]), np.array(pi[2]))
    ua, ub = (r - a) / np.linalg.norm(r - a), (r - b) / np.linalg.norm(r - b)
    return float(np.linalg.norm((ub - ua)[:2])) / math.sqrt(2.0)
