"""The border computation of a coordination request against hand-checked P.1546-6 values."""

from __future__ import annotations

import pytest
from coordreq_testkit import E_1KW_20KM, E_1KW_25KM, EAST_KM, fm_rules, fm_station, neighbours, pieces

from coordination.border_field import BorderFieldError, compute_border_fields, length_over_km
from station_db.rules import load_rules


def test_worst_point_is_the_tabulated_field_at_the_nearest_border_point() -> None:
    comp = compute_border_fields(fm_station(erp_dbw=0.0), fm_rules(30.0), border_pieces=pieces,
                                 neighbours=neighbours("SH"))
    js = comp.profile("JS")
    assert js is not None and len(js.field_dbuv_m) == 121
    # 0 dBW e.r.p. = 1 kW - 30 dB; receiver 10 m in rural clutter R2 = 10 m: no height correction.
    assert js.worst_field_dbuv_m == pytest.approx(E_1KW_20KM - 30.0, abs=0.01)
    assert js.distance_km[js.worst_index] == pytest.approx(EAST_KM, abs=1e-3)
    assert js.margin_db == pytest.approx(30.0 - (E_1KW_20KM - 30.0), abs=0.01)


def test_length_over_the_limit_spans_the_points_within_25_km() -> None:
    # Limit = the field at 25 km: the line (20 km away) is over it where |y| < sqrt(25^2 - 20^2) = 15 km.
    limit = E_1KW_25KM - 30.0 + 10.0
    comp = compute_border_fields(fm_station(erp_dbw=10.0), fm_rules(limit), border_pieces=pieces,
                                 neighbours=neighbours("SH"))
    js, zj = comp.profile("JS"), comp.profile("ZJ")
    assert js is not None and zj is not None
    assert js.length_over_km == pytest.approx(30.0, abs=0.2)
    assert js.exceeds and not zj.exceeds and zj.length_over_km == 0.0
    assert comp.must_ask == ("JS",)


def test_inputs_record_what_the_decision_rests_on() -> None:
    comp = compute_border_fields(fm_station(), fm_rules(30.0), border_pieces=pieces, neighbours=neighbours("SH"))
    assert comp.inputs["rules_version"] == "test-1"
    assert comp.inputs["time_pct"] == 1.0 and comp.inputs["limit_dbuv_m"] == 30.0
    assert comp.inputs["model"] == "ITU-R P.1546-6" and comp.inputs["heff_m"] == 75.0
    assert comp.inputs["station"]["station_id"] == "SH-FM-9001"
    assert type(comp).from_dict(comp.to_dict()) == comp


def test_directional_antenna_turned_away_lowers_the_border_field() -> None:
    omni = compute_border_fields(fm_station(), fm_rules(30.0), border_pieces=pieces, neighbours=("JS",))
    west = compute_border_fields(fm_station(pattern="dir:60", azimuth_deg=270.0), fm_rules(30.0), border_pieces=pieces,
                                 neighbours=("JS",))
    # the border lies due east: 180 degrees off the beam, the 20 dB front-to-back cap applies
    assert omni.profiles[0].worst_field_dbuv_m - west.profiles[0].worst_field_dbuv_m == pytest.approx(20.0, abs=0.05)


def test_length_over_interpolates_between_samples_and_skips_piece_gaps() -> None:
    import numpy as np

    along = np.array([0.0, 1.0, 2.0, 3.0, 1e6, 1e6 + 1.0])
    excess = np.array([-1.0, 1.0, 3.0, -1.0, 2.0, 2.0])
    # 0->1: half (crossing at 0.5); 1->2: whole; 2->3: 3/4; the gap: nothing; last segment: whole
    assert length_over_km(along, excess) == pytest.approx(0.5 + 1.0 + 0.75 + 1.0)


def test_frequency_outside_every_band_is_refused() -> None:
    with pytest.raises(BorderFieldError, match="in no coordinated band"):
        compute_border_fields(fm_station(tx_freq_hz=80e6), fm_rules(30.0), border_pieces=pieces, neighbours=("JS",))


def test_real_boundaries_give_every_member_neighbour() -> None:
    st = fm_station(station_id="JS-FM-9001", province="JS", lat=31.30, lon=120.60, erp_dbw=30.0, antenna_height_m=150.0)
    comp = compute_border_fields(st, load_rules())
    assert [p.neighbour for p in comp.profiles] == ["AH", "SH", "ZJ"]
    sh = comp.profile("SH")
    assert sh is not None and sh.exceeds and sh.length_over_km > 20.0
