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
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Mapping, Sequence

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
