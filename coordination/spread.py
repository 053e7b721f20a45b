"""The spread of received levels about the propagation model, learnt by the network from its own judgements.

Why: one or two levels say nothing about how far real paths scatter about the P.1546 median (with the
e.r.p. unknown they have no degrees of freedom left), so a level fix of a few sensors used to take its
spread from a wide prior (3-10 dB) whatever the world was: too wide where the paths agree with the
model, too narrow where they do not. A licensed station the engine has matched is a known transmitter:
its position and its own distance law are known, only its e.r.p. is fitted, so its n heard levels leave
n - 1 degrees of freedom that measure exactly what an unknown emitter's levels will meet on this network
(shadowing, model error, sensor calibration). :class:`NetworkSpread` keeps those residuals and answers
with a :class:`~coordination.localisation.SpreadPrior`: the pooled spread and the degrees of freedom
behind it.

Each station counts once, with its latest judgement (a station judged every few seconds does not
outvote the others), and the memory is bounded (the oldest stations leave first). A sensor's mean
residual over the stations it heard is its calibration offset as the network sees it; it is reported
(:meth:`NetworkSpread.sensor_offsets_db`), not applied.

The same judgements measure one more thing the residuals cannot: the bias common to every e.r.p. fit
(:class:`ErpBias`). Residuals about a station's own mean cancel anything common to its links, such as a
world weaker than the engine's P.1546 by a few dB (receiver clutter, terrain clearance); the fitted e.r.p.
of a station within its licence carries it whole. The median of (fitted - licensed e.r.p.) over many
matched stations is that bias, measured against the world the network meets (never a simulator's
settings).

What is learnt survives a server restart: :func:`learnt_doc` turns both into one plain document (JSON
types only, never a serialised Python object) that the server stores, and :func:`restore_learnt` checks a
stored one field by field (:class:`LearntStateError` names what is wrong and where) before anything of it is
used.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp, ndtr

from coordination.localisation import LocaliserConfig, SpreadPrior

CLIP_SIGMAS = 3.0
"""A residual is clipped at this many pooled spreads (two passes): one mis-grouped level does not set it."""


class NetworkSpread:
    """Pooled level spread of matched licensed stations (residuals about each station's fitted e.r.p.).

    ``max_stations``: stations remembered (oldest judged first out). ``min_dof``: degrees of freedom
    below which :meth:`prior` gives nothing (the caller keeps its own wide prior). ``floor_db``: the
    smallest spread returned (a few stations that happen to agree must not make every fix over-sure).
    """

    def __init__(self, max_stations: int = 500, min_dof: int = 12, floor_db: float = 2.0) -> None:
        if max_stations < 1 or min_dof < 1 or not floor_db > 0.0:
            raise ValueError(f"NetworkSpread: max_stations={max_stations}, min_dof={min_dof} must be >= 1, "
                             f"floor_db={floor_db} > 0")
        self.max_stations = max_stations
        self.min_dof = min_dof
        self.floor_db = floor_db
        self._by_station: OrderedDict[str, dict[str, float]] = OrderedDict()
        #: Counts changes (an added judgement, a restore): a keeper saves only when it moved.
        self.revision = 0

    def add(self, station_key: str, residuals_db: Mapping[str, float]) -> None:
        """The residuals (dB: measured minus the station's own model field, by sensor id; any offset common
        to all of them, such as the e.r.p., cancels) of one judgement of a matched station. Replaces that
        station's earlier judgement; fewer than two levels carry no spread information and are ignored."""
        vals = {k: float(v) for k, v in residuals_db.items() if math.isfinite(float(v))}
        if len(vals) < 2:
            return
        self._by_station.pop(station_key, None)
        self._by_station[station_key] = vals
        while len(self._by_station) > self.max_stations:
            self._by_station.popitem(last=False)
        self.revision += 1

    @property
    def n_stations(self) -> int:
        return len(self._by_station)

    def to_doc(self) -> list[list[object]]:
        """The remembered judgements, oldest first: ``[[station_key, {sensor_id: residual_db}], ...]``."""
        return [[k, dict(v)] for k, v in self._by_station.items()]

    def load_doc(self, doc: object, where: str) -> None:
        """Replace what is remembered by a stored :meth:`to_doc` (checked whole before anything changes:
        :class:`LearntStateError` naming ``where`` and the entry); the limits stay this object's own."""
        if not isinstance(doc, list):
            raise LearntStateError(f"{where}: expected a list of [station, {{sensor: residual_db}}], "
                                   f"got {type(doc).__name__}")
        loaded: OrderedDict[str, dict[str, float]] = OrderedDict()
        for i, item in enumerate(doc):
            at = f"{where}[{i}]"
            if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str) and item[0]
                    and isinstance(item[1], dict)):
                raise LearntStateError(f"{at}: expected [station_key, {{sensor_id: residual_db}}], got {item!r:.80}")
            vals = {}
            for sid, r in item[1].items():
                if not (isinstance(sid, str) and sid):
                    raise LearntStateError(f"{at}: sensor id {sid!r:.40} is not a name")
                vals[sid] = _finite_db(r, f"{at}.{sid}")
            if len(vals) < 2:
                raise LearntStateError(f"{at}: station {item[0]!r} has {len(vals)} residual(s), at least 2 are kept")
            loaded.pop(item[0], None)
            loaded[item[0]] = vals
        while len(loaded) > self.max_stations:
            loaded.popitem(last=False)
        self._by_station = loaded
        self.revision += 1

    @property
    def dof(self) -> int:
        """Degrees of freedom behind the pooled spread: sum over stations of (levels - 1)."""
        return sum(len(v) - 1 for v in self._by_station.values())

    def sigma_db(self) -> float | None:
        """The pooled spread (dB): root of the summed squared residuals about each station's own mean over the
        degrees of freedom, residuals clipped at ``CLIP_SIGMAS`` spreads; None without enough of them."""
        dof = self.dof
        if dof < self.min_dof:
            return None
        groups = [list(v.values()) for v in self._by_station.values()]
        clip = math.inf
        s2 = 0.0
        for _ in range(3):
            ss = 0.0
            for g in groups:
                m = sum(g) / len(g)
                ss += sum(min(abs(r - m), clip) ** 2 for r in g)
            s2 = ss / dof
            clip = CLIP_SIGMAS * math.sqrt(s2)
        return max(math.sqrt(s2), self.floor_db)

    def prior(self) -> SpreadPrior | None:
        """What the localiser and the power check take: the spread and its degrees of freedom."""
        s = self.sigma_db()
        return None if s is None else SpreadPrior(sigma_db=s, dof=float(self.dof))

    def sensor_offsets_db(self, min_stations: int = 3) -> dict[str, float]:
        """Each sensor's mean residual about the other sensors that heard the same station (its calibration
        relative to the network), for sensors that heard at least ``min_stations`` matched stations with
        another sensor. Leave-one-out: about a mean that includes the sensor itself the offset would
        shrink by (n - 1) / n."""
        acc: dict[str, list[float]] = {}
        for v in self._by_station.values():
            total, n = sum(v.values()), len(v)
            for sid, r in v.items():
                acc.setdefault(sid, []).append(r - (total - r) / (n - 1))
        return {sid: sum(rs) / len(rs) for sid, rs in acc.items() if len(rs) >= min_stations}


def erp_error_bound_db(residuals_db: Sequence[float], prior: SpreadPrior | None, config: LocaliserConfig,
                      z: float) -> float:
    """How far (dB) a station's e.r.p. fit from its ``n`` heard levels may read above the truth by chance
    alone, at the one-sided level of the normal ``z`` (1.64: 5 %): the fit errs by sigma / sqrt(n), and
    sigma is itself uncertain, so the bound is the quantile of a mixture of normals over the spreads
    weighed by the prior (the network's learnt spread, or before it has learnt the localiser's range
    ``sigma_db`` .. ``sigma_max_db``, uniform in log) and the station's own residuals (``n - 1`` degrees of
    freedom about their mean). That is the Student-t widening, with the degrees of freedom the spread
    really has: few when nothing is learnt (one level then gives 10.3 dB at 1.64), hundreds once it is.

    Why not the spread of the unknown-emitter fix: a boosted station is stronger than any unknown emitter
    may be, so that fit misses its levels by many dB and reads its spread as the range's top.
    """
    if prior is not None:
        sig, logw = prior.grid(9)
    else:
        sig = np.geomspace(config.sigma_db, config.sigma_max_db, 9)
        logw = np.full(len(sig), -math.log(len(sig)))
    r = np.asarray(residuals_db, dtype=float)
    n = max(len(r), 1)
    if len(r) >= 2:
        ss = float(np.sum((r - r.mean()) ** 2))
        logw = logw - (len(r) - 1) * np.log(sig) - 0.5 * ss / sig**2
    w = np.exp(logw - logsumexp(logw))
    se = sig / math.sqrt(n)
    alpha = float(ndtr(-z))
    lo, hi = 0.0, 10.0 * float(se.max()) + 1.0
    for _ in range(60):  # the tail probability falls with the bound: bisect
        mid = 0.5 * (lo + hi)
        if float(np.sum(w * ndtr(-mid / se))) > alpha:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


class LearntStateError(ValueError):
    """Stored learnt state that cannot be used (the message names what is wrong and where)."""


def _finite_db(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(float(value)):
        raise LearntStateError(f"{where}: expected a finite number of dB, got {value!r:.40}")
    if abs(float(value)) > MAX_STORED_DB:
        raise LearntStateError(f"{where}: {float(value):g} dB is beyond +-{MAX_STORED_DB:g} dB")
    return float(value)


MAX_STORED_DB = 100.0
"""A stored residual or e.r.p. offset beyond this is not a measurement (a corrupted or foreign document)."""


@dataclass(frozen=True)
class BiasEstimate:
    """The common bias of the e.r.p. fits: median (dB, fitted minus licensed), its standard error, stations."""

    median_db: float
    se_db: float
    n_stations: int


class ErpBias:
    """The bias common to the network's e.r.p. fits, from matched stations judged within their licence.

    Each station counts once (its latest judgement) and at most ``max_stations`` are remembered (the oldest
    judged leave first). :meth:`estimate` is the median of their offsets (fitted minus licensed e.r.p.), with
    the median's standard error from the offsets' own robust spread (1.2533 x 1.4826 x MAD / sqrt(n)), once
    ``min_stations`` have been seen; the median is clipped to +-``max_abs_db`` (a larger common bias says
    the network's calibration is broken, which a correction must not hide).

    Why a median of stations the check found within licence: a boosted station's fit reads its boost,
    and the caller keeps out the ones it established as violating power; the few it cannot establish
    (a possible excess) move a median by a fraction of their share, never by their size.
    """

    def __init__(self, max_stations: int = 500, min_stations: int = 20, max_abs_db: float = 6.0) -> None:
        if max_stations < 1 or min_stations < 3 or not max_abs_db > 0.0:
            raise ValueError(f"ErpBias: max_stations={max_stations} must be >= 1, min_stations={min_stations} "
                             f">= 3, max_abs_db={max_abs_db} > 0")
        self.max_stations = max_stations
        self.min_stations = min_stations
        self.max_abs_db = max_abs_db
        self._by_station: OrderedDict[str, float] = OrderedDict()
        #: Counts changes (an added judgement, a restore): a keeper saves only when it moved.
        self.revision = 0

    def add(self, station_key: str, offset_db: float) -> None:
        """One judgement of a matched station within its licence: its fitted minus licensed e.r.p. (dB)."""
        if not math.isfinite(offset_db):
            return
        self._by_station.pop(station_key, None)
        self._by_station[station_key] = float(offset_db)
        while len(self._by_station) > self.max_stations:
            self._by_station.popitem(last=False)
        self.revision += 1

    @property
    def n_stations(self) -> int:
        return len(self._by_station)

    def estimate(self) -> BiasEstimate | None:
        """The median offset and its standard error; None before ``min_stations`` stations."""
        n = len(self._by_station)
        if n < self.min_stations:
            return None
        v = np.fromiter(self._by_station.values(), dtype=float, count=n)
        med = float(np.median(v))
        mad = float(np.median(np.abs(v - med)))
        se = 1.2533 * 1.4826 * mad / math.sqrt(n)
        return BiasEstimate(median_db=max(-self.max_abs_db, min(self.max_abs_db, med)), se_db=se, n_stations=n)

    def to_doc(self) -> list[list[object]]:
        """The remembered offsets, oldest first: ``[[station_key, offset_db], ...]``."""
        return [[k, v] for k, v in self._by_station.items()]

    def load_doc(self, doc: object, where: str) -> None:
        """Replace what is remembered by a stored :meth:`to_doc` (checked whole first; limits stay ours)."""
        if not isinstance(doc, list):
            raise LearntStateError(f"{where}: expected a list of [station, offset_db], got {type(doc).__name__}")
        loaded: OrderedDict[str, float] = OrderedDict()
        for i, item in enumerate(doc):
            if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str) and item[0]):
                raise LearntStateError(f"{where}[{i}]: expected [station_key, offset_db], got {item!r:.80}")
            loaded.pop(item[0], None)
            loaded[item[0]] = _finite_db(item[1], f"{where}[{i}]")
        while len(loaded) > self.max_stations:
            loaded.popitem(last=False)
        self._by_station = loaded
        self.revision += 1


LEARNT_DOC_VERSION = 1
"""The stored document's layout; a newer one is refused by name (an older server must not half-read it)."""


def learnt_doc(spread: NetworkSpread, bias: ErpBias) -> dict[str, object]:
    """What the network has learnt, as one plain document (JSON types only) for the server's store."""
    return {"version": LEARNT_DOC_VERSION, "spread": spread.to_doc(), "erp_bias": bias.to_doc()}


def restore_learnt(doc: object, spread: NetworkSpread, bias: ErpBias, where: str) -> None:
    """Load a stored :func:`learnt_doc` into ``spread`` and ``bias``; both are checked before either changes,
    so a bad document leaves them as they were. ``where`` names the document's place in errors."""
    if not isinstance(doc, dict):
        raise LearntStateError(f"{where}: expected an object, got {type(doc).__name__}")
    version = doc.get("version")
    if version != LEARNT_DOC_VERSION:
        raise LearntStateError(f"{where}.version: {version!r} is not the layout this server reads "
                               f"({LEARNT_DOC_VERSION})")
    missing = [k for k in ("spread", "erp_bias") if k not in doc]
    if missing:
        raise LearntStateError(f"{where}: missing {', '.join(missing)}")
    trial_spread = NetworkSpread(spread.max_stations, spread.min_dof, spread.floor_db)
    trial_bias = ErpBias(bias.max_stations, bias.min_stations, bias.max_abs_db)
    trial_spread.load_doc(doc["spread"], f"{where}.spread")
    trial_bias.load_doc(doc["erp_bias"], f"{where}.erp_bias")
    spread.load_doc(doc["spread"], f"{where}.spread")
    bias.load_doc(doc["erp_bias"], f"{where}.erp_bias")
