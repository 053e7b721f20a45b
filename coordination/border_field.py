"""The field a (proposed) station puts along each neighbour's border: the computation behind a request.

Before a province assigns a frequency near a border it asks the neighbours whose border would see
more than the band's trigger value. This module answers "which, and by how much": every neighbouring
member province's border line is sampled every ``step_km`` (station_db's boundaries), the station's
field is predicted at every sample with :mod:`coordination.prediction` (the engine's own model: P.1546
over land, 50 % of locations, the band's time percentage, 10 m receiving height) less its antenna
pattern towards the sample, and the worst point and the length of border over the limit are kept,
with the whole profile for the border plot. The result records its inputs (station, band, limit,
time %, heights, model, rules version) so the audit log can show what a decision was based on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from coordination import prediction
from station_db import geo
from station_db.models import MEMBER_PROVINCES, Station
from station_db.rules import BandRule, RuleSet

BorderPieces = Callable[[str, str, float], Sequence[np.ndarray]]
"""``(own, neighbour, step_km) -> [(n, 2) lat/lon array per piece of their shared border]``."""

MIN_DISTANCE_KM = 0.1
"""Border samples closer than this to the station are predicted at this distance (P.1546 needs d > 0)."""


class BorderFieldError(ValueError):
    """The station cannot be assessed (no coordinated band at its frequency, bad step)."""


@dataclass(frozen=True)
class BorderProfile:
    """The predicted field along one neighbour's border and what it means against the limit.

    ``along_km`` is the position of each sample along the border (pieces follow each other);
    ``length_over_km`` the length of border line where the field exceeds the limit (linear
    interpolation of the excess between samples).
    """

    neighbour: str
    limit_dbuv_m: float
    along_km: tuple[float, ...]
    lat: tuple[float, ...]
    lon: tuple[float, ...]
    field_dbuv_m: tuple[float, ...]
    distance_km: tuple[float, ...]
    length_over_km: float

    @property
    def worst_index(self) -> int:
        return int(np.argmax(self.field_dbuv_m))

    @property
    def worst_field_dbuv_m(self) -> float:
        return self.field_dbuv_m[self.worst_index]

    @property
    def worst_point(self) -> tuple[float, float]:
        i = self.worst_index
        return (self.lat[i], self.lon[i])

    @property
    def margin_db(self) -> float:
        """Limit minus the worst field: negative means the neighbour must be asked."""
        return self.limit_dbuv_m - self.worst_field_dbuv_m

    @property
    def exceeds(self) -> bool:
        return bool(self.margin_db < 0.0)

    def summary(self) -> dict[str, Any]:
        """The figures without the profile (for lists and the audit log)."""
        lat, lon = self.worst_point
        return {"neighbour": self.neighbour, "limit_dbuv_m": self.limit_dbuv_m, "n_points": len(self.field_dbuv_m),
                "worst_field_dbuv_m": round(self.worst_field_dbuv_m, 2), "worst_lat": lat, "worst_lon": lon,
                "worst_distance_km": round(self.distance_km[self.worst_index], 3),
                "margin_db": round(self.margin_db, 2), "length_over_km": round(self.length_over_km, 3),
                "exceeds": self.exceeds}

    def to_dict(self) -> dict[str, Any]:
        return {"neighbour": self.neighbour, "limit_dbuv_m": self.limit_dbuv_m, "along_km": list(self.along_km),
                "lat": list(self.lat), "lon": list(self.lon), "field_dbuv_m": list(self.field_dbuv_m),
                "distance_km": list(self.distance_km), "length_over_km": self.length_over_km}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> BorderProfile:
        def floats(key: str) -> tuple[float, ...]:
            return tuple(float(x) for x in d[key])

        return cls(str(d["neighbour"]), float(d["limit_dbuv_m"]), floats("along_km"), floats("lat"), floats("lon"),
                   floats("field_dbuv_m"), floats("distance_km"), float(d["length_over_km"]))


@dataclass(frozen=True)
class BorderComputation:
    """Every neighbour's border profile for one station, with the inputs that produced it."""

    inputs: Mapping[str, Any]
    profiles: tuple[BorderProfile, ...]

    @property
    def must_ask(self) -> tuple[str, ...]:
        """Neighbours whose border sees more than the trigger value somewhere (sorted)."""
        return tuple(sorted(p.neighbour for p in self.profiles if p.exceeds))

    def profile(self, neighbour: str) -> BorderProfile | None:
        for p in self.profiles:
            if p.neighbour == neighbour:
                return p
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"inputs": dict(self.inputs), "profiles": [p.to_dict() for p in self.profiles]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> BorderComputation:
        return cls(dict(d["inputs"]), tuple(BorderProfile.from_dict(p) for p in d["profiles"]))


def _default_pieces(a: str, b: str, step_km: float) -> Sequence[np.ndarray]:
    return geo.default_boundaries().border_lines(a, b, step_km)


def length_over_km(along_km: np.ndarray, excess_db: np.ndarray) -> float:
    """Length of line where ``excess_db`` > 0, the excess interpolated linearly between samples.

    Consecutive samples farther apart than twice their usual step (two border pieces) are not joined.
    """
    if len(along_km) < 2:
        return 0.0
    seg = np.diff(along_km)
    step = float(np.median(seg)) if len(seg) else 0.0
    a, b = excess_db[:-1], excess_db[1:]
    frac = np.where((a > 0) & (b > 0), 1.0, 0.0)
    one = (a > 0) != (b > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(one, np.maximum(a, b) / np.abs(a - b), frac)
    joined = seg <= 2.0 * step + 1e-9
    return float(np.sum(seg * frac * joined))


def compute_border_fields(
    station: Station,
    rules: RuleSet,
    *,
    step_km: float = 1.0,
    border_pieces: BorderPieces | None = None,
    neighbours: Sequence[str] | None = None,
) -> BorderComputation:
    """Predict ``station``'s field along every member neighbour's border every ``step_km``.

    ``border_pieces`` and ``neighbours`` default to station_db's shipped boundaries (tests give a
    synthetic border with known distances). Raises :class:`BorderFieldError` when the station's
    frequency is in no coordinated band (nothing to ask about).
    """
    if not step_km > 0:
        raise BorderFieldError(f"step_km must be > 0, got {step_km!r}")
    band = rules.band_for(station.tx_freq_hz)
    if band is None:
        raise BorderFieldError(f"{station.province}/{station.station_id}: {station.tx_freq_hz / 1e6:.4f} MHz is in no "
                               f"coordinated band of rules {rules.version}: nothing to coordinate")
    pieces_of = border_pieces or _default_pieces
    if neighbours is None:
        neighbours = [p for p in geo.neighbours(station.province) if p in MEMBER_PROVINCES]
    profiles = [_profile(station, band, n, pieces_of(station.province, n, step_km)) for n in sorted(neighbours)]
    return BorderComputation(_inputs(station, band, rules.version, step_km), tuple(p for p in profiles if p))


def _profile(station: Station, band: BandRule, neighbour: str, pieces: Sequence[np.ndarray]) -> BorderProfile | None:
    pieces = [np.asarray(p, dtype=float).reshape(-1, 2) for p in pieces if len(p)]
    if not pieces:
        return None
    along: list[np.ndarray] = []
    offset = 0.0
    for p in pieces:
        seg = np.asarray(geo.haversine_km(p[:-1, 0], p[:-1, 1], p[1:, 0], p[1:, 1]), dtype=float)
        s = offset + np.concatenate([[0.0], np.cumsum(seg)])
        along.append(s)
        offset = float(s[-1]) + 1e6  # a gap no step bridges: pieces are not joined in the length
    pts = np.vstack(pieces)
    lats, lons = pts[:, 0], pts[:, 1]
    d_km = np.asarray(geo.haversine_km(station.lat, station.lon, lats, lons), dtype=float)
    g = prediction.field_0dbw_dbuv_m(np.maximum(d_km, MIN_DISTANCE_KM), station.tx_freq_hz,
                                     prediction.station_heff_m(station), prediction.BORDER_RX_HEIGHT_M,
                                     band.time_pct, ha_m=station.antenna_height_m)
    field = station.erp_dbw + np.asarray(g, dtype=float) - prediction.antenna_loss_db(station, lats, lons)
    s_all = np.concatenate(along)
    over = length_over_km(s_all, field - band.border_limit_dbuv_m)
    # Positions shown run on without the artificial gap: piece k starts where piece k-1 ended.
    starts = np.cumsum([0.0] + [float(a[-1] - a[0]) for a in along[:-1]])
    s_shown = np.concatenate([a - a[0] + st for a, st in zip(along, starts)])
    return BorderProfile(neighbour, band.border_limit_dbuv_m, tuple(np.round(s_shown, 4).tolist()),
                         tuple(lats.tolist()), tuple(lons.tolist()), tuple(np.round(field, 3).tolist()),
                         tuple(np.round(d_km, 4).tolist()), float(over))


def _inputs(station: Station, band: BandRule, rules_version: str, step_km: float) -> dict[str, Any]:
    return {
        "station": station.to_dict(), "band": band.name, "limit_dbuv_m": band.border_limit_dbuv_m,
        "time_pct": band.time_pct, "step_km": step_km, "rules_version": rules_version,
        "model": prediction.model_name(), "locations_pct": 50.0, "rx_height_m": prediction.BORDER_RX_HEIGHT_M,
        "heff_m": prediction.station_heff_m(station), "area": prediction.AREA,
    }
