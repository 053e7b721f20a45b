"""Value types of the shared station data: licensed stations, sensors and import provenance.

Plain frozen dataclasses so every layer (server, simulator, console) can hold them without
touching SQL or file formats; validation of untrusted input lives in :mod:`station_db.exchange`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

MEMBER_PROVINCES: tuple[str, ...] = ("SH", "JS", "ZJ", "AH")
"""The four provinces that share station data (HASC suffixes, as :mod:`station_db.geo` returns)."""

SERVICES: tuple[str, ...] = (
    "broadcast", "land_mobile", "aeronautical", "maritime", "railway", "public_mobile", "fixed", "other",
)
"""Radio services a station can belong to (the rules file uses the same names)."""

STATUSES: tuple[str, ...] = ("active", "planned", "suspended", "expired")
"""Licence states. Only ``active`` stations explain emissions on the air."""

OCCUPATIONS: tuple[str, ...] = ("continuous", "intermittent")
"""How a station uses its channel: a carrier always on, or push-to-talk style bursts."""

ALLOCATIONS: tuple[str, ...] = ("primary", "secondary")
"""Allocation status of a station's service in its band: a secondary station may cause no harmful
interference to, and claims no protection from, primary ones (RR 5.28-5.31)."""

COORDINATION_STATUSES: tuple[str, ...] = ("agreed", "not_required", "pending", "objected")
"""A station's coordination status towards one neighbouring province: ``agreed`` (the neighbour
accepted a maximum field at the border), ``not_required`` (predicted below the band's trigger value),
``pending`` (a request is waiting for the neighbour's answer), ``objected`` (the neighbour refused)."""


@dataclass(frozen=True)
class Coordination:
    """What one neighbouring province agreed (or not) about a station, as recorded with the station.

    ``agreed_field_dbuv_m`` is the maximum field strength the neighbour accepts at its border (10 m
    above ground, as the band's trigger value); only ``agreed`` carries it and a validity period.
    ``reference`` names the agreement or the coordination request it came from.
    """

    neighbour: str
    status: str
    agreed_field_dbuv_m: float | None = None
    reference: str = ""
    valid_from: date | None = None
    valid_to: date | None = None

    def in_force_on(self, day: date) -> bool:
        """True for an ``agreed`` status whose validity covers ``day``."""
        return (self.status == "agreed" and (self.valid_from is None or self.valid_from <= day)
                and (self.valid_to is None or day <= self.valid_to))

    def describe(self) -> str:
        """One line for findings and reports, e.g. ``JS agreed 52 dBuV/m (SH-JS-2024-017, 2024-03-01..2034-02-28)``."""
        if self.status != "agreed":
            return f"{self.neighbour} {self.status}" + (f" ({self.reference})" if self.reference else "")
        period = f"{self.valid_from or '...'}..{self.valid_to or '...'}"
        return (f"{self.neighbour} agreed {self.agreed_field_dbuv_m:g} dBuV/m at the border "
                f"({self.reference or 'no reference'}, {period})")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping (dates as ISO strings or None)."""
        return {"neighbour": self.neighbour, "status": self.status,
                "agreed_field_dbuv_m": self.agreed_field_dbuv_m, "reference": self.reference,
                "valid_from": None if self.valid_from is None else self.valid_from.isoformat(),
                "valid_to": None if self.valid_to is None else self.valid_to.isoformat()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Coordination:
        """Inverse of :meth:`to_dict` (trusted data: the program's own records, not an exchange file)."""
        f = d.get("agreed_field_dbuv_m")
        vf, vt = d.get("valid_from"), d.get("valid_to")
        return cls(str(d["neighbour"]), str(d["status"]), None if f is None else float(f), str(d.get("reference", "")),
                   None if vf is None else date.fromisoformat(str(vf)),
                   None if vt is None else date.fromisoformat(str(vt)))


@dataclass(frozen=True)
class Station:
    """One licensed transmitter as the owner province records it.

    ``necessary_bw_hz`` is derived from ``emission_designator`` (ITU-R SM.1138) and stored so
    queries by occupied band need no parsing. ``erp_dbw`` is the maximum e.r.p. (main beam for a
    directional ``pattern``); heights are metres above ground (antenna) and above sea (site).
    ``station_name`` is the licence's free-text name (台站名称), often Chinese; ``station_id`` is the code.
    ``allocation`` is primary or secondary (who yields in a conflict); ``coordination`` holds the
    station's status towards each neighbouring province it was coordinated with (sorted by neighbour).
    """

    station_id: str
    province: str
    licensee: str
    service: str
    tx_freq_hz: float
    rx_freq_hz: float | None
    emission_designator: str
    necessary_bw_hz: float
    erp_dbw: float
    antenna_height_m: float
    azimuth_deg: float | None
    pattern: str
    ground_height_m: float
    lat: float
    lon: float
    valid_from: date
    valid_to: date
    status: str = "active"
    occupation: str = "continuous"
    station_name: str = ""
    allocation: str = "primary"
    coordination: tuple[Coordination, ...] = ()

    def coordination_with(self, neighbour: str) -> Coordination | None:
        """The recorded status towards ``neighbour``, or None when none is recorded."""
        for c in self.coordination:
            if c.neighbour == neighbour:
                return c
        return None

    @property
    def tx_lo_hz(self) -> float:
        """Lower edge of the licensed transmit band (centre minus half the necessary bandwidth)."""
        return self.tx_freq_hz - self.necessary_bw_hz / 2.0

    @property
    def tx_hi_hz(self) -> float:
        """Upper edge of the licensed transmit band."""
        return self.tx_freq_hz + self.necessary_bw_hz / 2.0

    @property
    def key(self) -> tuple[str, str]:
        """Identity in the shared database: ids are unique per owner province only."""
        return (self.province, self.station_id)

    def is_valid_on(self, day: date) -> bool:
        """True when the licence is active and covers ``day``."""
        return self.status == "active" and self.valid_from <= day <= self.valid_to

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping (dates as ISO strings); field names as in the dataclass."""
        out = dataclasses.asdict(self)
        out["valid_from"] = self.valid_from.isoformat()
        out["valid_to"] = self.valid_to.isoformat()
        out["coordination"] = [c.to_dict() for c in self.coordination]
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Station:
        """Inverse of :meth:`to_dict` (trusted data: the program's own records; files go through
        :mod:`station_db.exchange`)."""
        values = {f.name: d[f.name] for f in dataclasses.fields(cls) if f.name in d}
        values["valid_from"] = date.fromisoformat(str(d["valid_from"]))
        values["valid_to"] = date.fromisoformat(str(d["valid_to"]))
        values["coordination"] = tuple(Coordination.from_dict(c) for c in d.get("coordination", ()))
        return cls(**values)


@dataclass(frozen=True)
class Sensor:
    """A monitoring receiver registered with the platform (position decides its province)."""

    sensor_id: str
    province: str
    lat: float
    lon: float
    antenna_height_m: float = 10.0
    description: str = ""
    public_key: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class ImportReport:
    """Outcome of one import: provenance plus what changed (all zero on an idempotent re-import)."""

    import_id: int
    province: str
    source_name: str
    file_hash: str
    imported_at_utc: str
    inserted: int
    updated: int
    unchanged: int
    removed: int
    rejected: int = 0
    status: str = "accepted"
    message: str = ""
    encoding: str = ""
    """Text encoding the file was read as (codec name, e.g. ``gb18030``); empty when not from a file."""

    @property
    def accepted(self) -> int:
        """Rows taken from the file (inserted + updated + unchanged)."""
        return self.inserted + self.updated + self.unchanged

    @property
    def changed(self) -> bool:
        return bool(self.inserted or self.updated or self.removed)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["accepted"] = self.accepted
        return out
