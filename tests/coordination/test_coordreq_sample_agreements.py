"""The sample stations carry the coordination the generator documents (what borderwatch coord would leave)."""

from __future__ import annotations

from pathlib import Path

import pytest

from coordination.border_field import compute_border_fields
from coordination.coordination_requests import agreed_field_for
from station_db.exchange import read_stations
from station_db.rules import load_rules

SAMPLE = Path(__file__).resolve().parents[2] / "station_db" / "data" / "sample_stations.csv"


@pytest.fixture(scope="module")
def sample():
    return {s.station_id: s for s in read_stations(SAMPLE)}


def test_broadcasters_and_mobile_sites_are_coordinated_with_every_member_neighbour(sample) -> None:
    coordinated = [s for s in sample.values() if s.service in ("broadcast", "public_mobile")]
    assert len(coordinated) == 178
    assert all(s.coordination for s in coordinated)
    assert not any(s.coordination for s in sample.values() if s.service not in ("broadcast", "public_mobile"))
    agreed = sum(c.status == "agreed" for s in coordinated for c in s.coordination)
    assert agreed > 60


@pytest.mark.parametrize("station_id", ["SH-FM-0001", "ZJ-MOB-0001", "AH-FM-0002"])
def test_agreed_values_cover_the_worst_border_field(sample, station_id: str) -> None:
    s = sample[station_id]
    comp = compute_border_fields(s, load_rules())
    for p in comp.profiles:
        c = s.coordination_with(p.neighbour)
        assert c is not None
        if p.exceeds:
            assert (c.status, c.agreed_field_dbuv_m) == ("agreed", agreed_field_for(p.worst_field_dbuv_m))
            assert c.reference.startswith(f"{s.province}-{p.neighbour}-2025-")
        else:
            assert c.status == "not_required"


def test_the_demo_station_above_its_agreement(sample) -> None:
    s = sample["ZJ-FM-0003"]
    sh = compute_border_fields(s, load_rules()).profile("SH")
    assert sh is not None
    c = s.coordination_with("SH")
    assert c is not None and c.agreed_field_dbuv_m == pytest.approx(agreed_field_for(sh.worst_field_dbuv_m) - 6.0)


def test_the_demo_station_still_pending(sample) -> None:
    s = sample["JS-FM-0020"]
    assert s.valid_from.isoformat() == "2026-06-01"
    assert [(c.neighbour, c.status) for c in s.coordination] == [("AH", "not_required"), ("SH", "pending"),
                                                                  ("ZJ", "pending")]
