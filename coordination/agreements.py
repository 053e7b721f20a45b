"""What the neighbours agreed about a station, applied to the rules engine's cross-border verdict.

The engine first judges a matched (licensed) station against the band's trigger value at every
neighbour's border, as it always did. This module then reviews each neighbour found affected against
the station's recorded coordination (:class:`station_db.models.Coordination`):

- ``agreed`` and in force, the station within its licence: the neighbour accepted up to the agreed
  field at its border. Measured levels in the neighbour within the agreed value plus the measurement
  uncertainty, and a prediction at the border within the agreed value, raise nothing for it; above
  either, ``cross_border`` stands with the agreement quoted.
- ``agreed`` but outside its validity, or the station outside its licence (an agreement covers the
  licensed operation only), ``pending``, ``objected``, ``not_required`` or nothing recorded: the
  trigger value stands, as before; the finding says what is recorded.

Also the "secondary yields to primary" step of who must act (RR 5.28-5.31): a secondary station can
claim no protection from, and must not interfere with, a primary one.

Pure functions on values: no state, clock or I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from coordination.alerts import SensorReading
from station_db.models import Station
from station_db.rules import BandRule

PREDICTION_TOL_DB = 0.05
"""A prediction is "above the agreed value" only beyond rounding (agreed fields are kept to 0.1 dB)."""


@dataclass(frozen=True)
class AgreementReview:
    """The neighbours still affected after the agreements, the border excess over what each may
    receive, and one finding per neighbour reviewed."""

    affected: tuple[str, ...]
    excess_db: float
    findings: tuple[str, ...]


def review_affected(
    station: Station,
    affected: Sequence[str],
    readings: Iterable[SensorReading],
    predicted_dbuv_m: Mapping[str, float],
    band: BandRule,
    day: date,
    *,
    within_licence: bool,
    uncertainty_db: float,
) -> AgreementReview:
    """Review the neighbours ``affected`` by licensed ``station`` (see the module docstring).

    ``readings``: every sensor's reading of the emission; ``predicted_dbuv_m``: the station's predicted
    field at each neighbour's border (where computed). The excess returned is over the band's limit for
    neighbours without an agreement in force and over the agreed value for the others.
    """
    measured: dict[str, float] = {}
    for r in readings:
        if r.province and r.province != station.province:
            measured[r.province] = max(measured.get(r.province, float("-inf")), r.measured_dbuv_m)
    keep: list[str] = []
    excess = 0.0
    findings: list[str] = []
    limit = band.border_limit_dbuv_m
    for prov in affected:
        m, e = measured.get(prov), predicted_dbuv_m.get(prov)
        c = station.coordination_with(prov)
        if c is None or not c.in_force_on(day) or not within_licence:
            keep.append(prov)
            excess = max([excess, *(v - limit for v in (m, e) if v is not None)])
            if c is None:
                continue
            if c.status == "agreed" and not c.in_force_on(day):
                findings.append(f"the agreement {c.describe()} is not in force on {day}: the trigger value "
                                f"{limit:g} dBuV/m applies")
            elif c.status == "agreed":
                findings.append(f"the agreement {c.describe()} covers operation within the licence only")
            else:
                findings.append(f"coordination with {c.describe()}: the trigger value {limit:g} dBuV/m applies")
            continue
        agreed = float(c.agreed_field_dbuv_m or 0.0)
        over_measured = m is not None and m > agreed + uncertainty_db
        over_predicted = e is not None and e > agreed + PREDICTION_TOL_DB
        if over_measured or over_predicted:
            keep.append(prov)
            excess = max([excess, *(v - agreed for v in (m, e) if v is not None)])
            what = []
            if over_measured and m is not None:
                what.append(f"measured {m:.1f} dBuV/m in {prov}, {m - agreed:+.1f} dB (measurement uncertainty "
                            f"{uncertainty_db:g} dB)")
            if over_predicted and e is not None:
                what.append(f"predicted {e:.1f} dBuV/m at the border, {e - agreed:+.1f} dB")
            findings.append(f"{station.province} station {station.station_id} above the agreement {c.describe()}: "
                            + "; ".join(what))
        else:
            shown = []
            if m is not None:
                shown.append(f"measured {m:.1f}")
            if e is not None:
                shown.append(f"predicted {e:.1f}")
            findings.append(f"{station.province} station {station.station_id} within the agreement {c.describe()} "
                            f"({', '.join(shown) or 'no level'} dBuV/m): not cross-border for {prov}")
    return AgreementReview(tuple(keep), max(excess, 0.0), tuple(findings))


def secondary_yields(station: Station, victims: Sequence[Station]) -> tuple[str | None, list[Station]]:
    """Who must act between a station over the border limit and the neighbour's protected stations.

    Returns ``(text, rest)``: ``text`` when primary/secondary status decides it, else None and the
    victims of the same class as ``station``, for the "later yields to earlier" step.
    """
    primary = [v for v in victims if v.allocation == "primary"]
    if station.allocation == "secondary" and primary:
        v = min(primary, key=lambda s: s.valid_from)
        return (f"secondary yields to primary: {station.province} station {station.station_id} (secondary) must "
                f"not interfere with {v.province} station {v.station_id} (primary)"), []
    if station.allocation == "primary" and victims and not primary:
        v = victims[0]
        return (f"secondary yields to primary: {v.province} station {v.station_id} (secondary) claims no "
                f"protection from {station.province} station {station.station_id} (primary); "
                f"{station.province} to keep within the border limit or coordinate"), []
    return None, [v for v in victims if v.allocation == station.allocation]
