"""P.1546-6 behaviour outside the SG3 set: identities, limits, input ranges, vectorisation, logging."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pytest

from coordination.propagation import p1546
from coordination.propagation._p1546_math import inv_cum_normal, knife_edge_loss_db
from coordination.propagation._p1546_tables import load_tables
from coordination.propagation.free_space import free_space_field_dbuv_m

FM = (98.0, 10.0, 150.0, 10.0, None, "Rural")  # f, t, heff, h2, r2, area


# ---------------------------------------------------------------- identities


def test_field_strength_is_capped_at_the_free_space_value_erp_dbw_plus_76_9() -> None:
    # A 1200 m transmitter seen by a 100 m mast 2 km away: curves + height gain exceed free space,
    # so step 19 caps E at Efs. Equal heights above sea level make the slope distance d itself.
    d_km = 2.0
    for erp_kw in (1.0, 10.0, 0.25):
        e, _ = p1546.field_strength(100.0, 50.0, 1200.0, 100.0, None, "Rural", [d_km], ["Land"],
                                    erp_kw=erp_kw, ha_m=100.0, htter_m=0.0, hrter_m=0.0)
        erp_dbw = 10.0 * math.log10(erp_kw * 1000.0)
        # P.1546 equation (1) rounds the free-space constant 76.92 dB to 76.9 dB.
        assert e == pytest.approx(erp_dbw + 76.9 - 20.0 * math.log10(d_km), abs=1e-9)
        assert e == pytest.approx(float(free_space_field_dbuv_m(erp_dbw, d_km)) - 0.02, abs=1e-9)


def test_sea_path_cap_adds_the_sea_enhancement_below_50_percent_time() -> None:
    d_km, t_pct = 3.0, 1.0
    e, _ = p1546.field_strength(600.0, t_pct, 1200.0, 100.0, None, "Sea", [d_km], ["Warm"],
                                ha_m=100.0, htter_m=0.0, hrter_m=0.0)
    ese = 2.38 * (1.0 - math.exp(-d_km / 8.94)) * math.log10(50.0 / t_pct)
    assert e == pytest.approx(106.9 - 20.0 * math.log10(d_km) + ese, abs=1e-9)


@pytest.mark.parametrize("f_mhz", [30.0, 98.0, 600.0, 2600.0, 4000.0])
@pytest.mark.parametrize("d_km", [0.3, 7.0, 120.0])
def test_lb_is_139_3_minus_e_plus_20_log_f_for_1_kw(f_mhz: float, d_km: float) -> None:
    e, lb = p1546.field_strength(f_mhz, 10.0, 150.0, 10.0, None, "Rural", [d_km], ["Land"], ha_m=60.0)
    assert lb == pytest.approx(139.3 - e + 20.0 * math.log10(f_mhz), abs=1e-9)


def test_lb_does_not_depend_on_erp_but_e_scales_with_it() -> None:
    e1, lb1 = p1546.field_strength(*FM, [40.0], ["Land"], erp_kw=1.0)
    e2, lb2 = p1546.field_strength(*FM, [40.0], ["Land"], erp_kw=50.0)
    assert e2 - e1 == pytest.approx(10.0 * math.log10(50.0), abs=1e-12)
    assert lb2 == pytest.approx(lb1, abs=1e-12)


def test_nominal_curve_point_is_returned_unchanged() -> None:
    # 600 MHz, 50 %, land, h1 = 75 m, d = 20 km, receiver 10 m rural: the corrections vanish and
    # the tabulated value of figure 9 comes back (no TCA, no clutter, no slope: ha = h2, flat).
    table = load_tables().table(600.0, 50.0, "land")
    row = int(np.where(load_tables().distances_km == 20.0)[0][0])
    e, _ = p1546.field_strength(600.0, 50.0, 75.0, 10.0, None, "Rural", [20.0], ["Land"],
                                ha_m=10.0, htter_m=0.0, hrter_m=0.0)
    assert e == pytest.approx(table[row, 3], abs=1e-9)


def test_knife_edge_and_inverse_normal_helpers_match_the_recommendation() -> None:
    assert float(knife_edge_loss_db(0.0)) == pytest.approx(6.03, abs=0.005)
    assert float(knife_edge_loss_db(-1.0)) == 0.0
    # Qi(0.1) = 1.2816 and symmetry Qi(1-x) = -Qi(x) (approximation error < 0.00045).
    assert float(inv_cum_normal(0.1)) == pytest.approx(1.28155, abs=4.5e-4)
    assert float(inv_cum_normal(0.9)) == pytest.approx(-float(inv_cum_normal(0.1)), abs=1e-12)


# ---------------------------------------------------------------- behaviour


def test_field_strength_falls_with_distance_over_land() -> None:
    d = np.geomspace(0.05, 1000.0, 200)
    e, _ = p1546.field_strength_many(*FM, d, ha_m=60.0)
    assert np.all(np.diff(e) < 0.0)


def test_sea_beats_land_and_warm_sea_beats_cold_sea_at_1_percent() -> None:
    args = (600.0, 1.0, 150.0, 10.0, None, "Sea")
    e_cold, _ = p1546.field_strength(*args, [200.0], ["Cold"])
    e_warm, _ = p1546.field_strength(*args, [200.0], ["Warm"])
    e_land, _ = p1546.field_strength(600.0, 1.0, 150.0, 10.0, None, "Rural", [200.0], ["Land"])
    assert e_warm > e_cold > e_land
    # "Sea" means cold sea below 50 % time; at 50 % all sea kinds are one curve.
    assert p1546.field_strength(*args, [200.0], ["Sea"])[0] == pytest.approx(e_cold, abs=1e-12)
    e50 = [p1546.field_strength(600.0, 50.0, 150.0, 10.0, None, "Sea", [200.0], [k])[0] for k in ("Sea", "Warm")]
    assert e50[0] == pytest.approx(e50[1], abs=1e-12)


def test_mixed_path_lies_between_land_and_sea_and_only_lengths_matter() -> None:
    args = (600.0, 10.0, 150.0, 10.0, None, "Rural")
    e_land = p1546.field_strength(*args, [100.0], ["Land"])[0]
    e_sea = p1546.field_strength(*args, [100.0], ["Cold"])[0]
    e_mix = p1546.field_strength(*args, [40.0, 60.0], ["Land", "Cold"])[0]
    e_mix_split = p1546.field_strength(*args, [20.0, 30.0, 20.0, 30.0], ["Land", "Cold", "Land", "Cold"])[0]
    assert e_land < e_mix < e_sea
    assert e_mix_split == pytest.approx(e_mix, abs=1e-12)


def test_location_variability_is_symmetric_and_uses_sigma_l_for_500_m_areas_with_terrain_data() -> None:
    args = (600.0, 50.0, 150.0, 10.0, None, "Urban", [20.0], ["Land"])
    e50 = p1546.field_strength(*args, wa_m=500.0)[0]
    e90 = p1546.field_strength(*args, q_pct=90.0, wa_m=500.0)[0]
    e10 = p1546.field_strength(*args, q_pct=10.0, wa_m=500.0)[0]
    sigma = (0.024 * 0.6 + 0.52) * 500.0**0.28
    assert p1546.location_sigma_db(600.0) == pytest.approx(sigma)
    assert e50 - e90 == pytest.approx(float(inv_cum_normal(0.1)) * sigma, abs=1e-9)
    assert e10 - e50 == pytest.approx(e50 - e90, abs=1e-9)
    # Receivers at sea have no location variability.
    sea = (600.0, 50.0, 150.0, 10.0, None, "Sea", [20.0], ["Sea"])
    assert p1546.field_strength(*sea, q_pct=90.0)[0] == pytest.approx(p1546.field_strength(*sea)[0], abs=1e-12)


@pytest.mark.parametrize(("area", "sigma_db"), [("Rural", 12.0), ("Suburban", 10.0), ("Urban", 8.0),
                                                ("Dense Urban", 8.0), ("Sea", 0.0)])
def test_location_variability_without_terrain_data_uses_the_area_standard_deviation(area: str,
                                                                                   sigma_db: float) -> None:
    args = (600.0, 50.0, 150.0, 10.0, None, area, [20.0], ["Land"])
    e50 = p1546.field_strength(*args)[0]
    e95 = p1546.field_strength(*args, q_pct=95.0)[0]
    assert e50 - e95 == pytest.approx(float(inv_cum_normal(0.05)) * sigma_db, abs=1e-9)


def test_receiver_below_urban_clutter_loses_field_strength() -> None:
    base = (600.0, 50.0, 150.0, 1.5)
    rural = p1546.field_strength(*base, None, "Rural", [10.0], ["Land"], ha_m=100.0)[0]
    urban = p1546.field_strength(*base, 20.0, "Urban", [10.0], ["Land"], ha_m=100.0)[0]
    dense = p1546.field_strength(*base, 30.0, "Dense Urban", [10.0], ["Land"], ha_m=100.0)[0]
    assert rural > urban > dense


def test_short_paths_join_continuously_at_1_km_and_reach_free_space_at_40_m() -> None:
    kw = {"ha_m": 30.0, "htter_m": 0.0, "hrter_m": 0.0}
    e, _ = p1546.field_strength_many(600.0, 50.0, 30.0, 10.0, None, "Rural", [0.999999, 1.0, 1.000001], **kw)
    assert np.ptp(e) < 1e-4
    d_slope = math.hypot(0.04, 0.020)
    e40 = p1546.field_strength(600.0, 50.0, 30.0, 10.0, None, "Rural", [0.04], ["Land"], **kw)[0]
    assert e40 == pytest.approx(106.9 - 20.0 * math.log10(d_slope), abs=1e-9)


# ---------------------------------------------------------------- vectorised entry


@pytest.mark.parametrize("path", ["Land", "Sea", "Warm", "Cold"])
@pytest.mark.parametrize("t_pct", [1.0, 7.0, 50.0])
def test_vectorised_equals_scalar(path: str, t_pct: float) -> None:
    d = np.array([0.02, 0.3, 1.0, 2.5, 3.0, 9.0, 14.9, 15.0, 60.0, 333.0, 1000.0])
    area = "Sea" if path != "Land" else "Suburban"
    for f_mhz, heff, h2 in ((45.0, 4.0, 2.0), (600.0, 37.5, 10.0), (3000.0, 1500.0, 25.0)):
        kw = {"ha_m": 25.0, "r1_m": 12.0, "tca_deg": 2.0, "htter_m": 120.0, "hrter_m": 80.0, "q_pct": 70.0}
        e_vec, lb_vec = p1546.field_strength_many(f_mhz, t_pct, heff, h2, 15.0, area, d, path=path, **kw)
        for i, dk in enumerate(d):
            e, lb = p1546.field_strength(f_mhz, t_pct, heff, h2, 15.0, area, [float(dk)], [path], **kw)
            assert e_vec[i] == pytest.approx(e, abs=1e-9)
            assert lb_vec[i] == pytest.approx(lb, abs=1e-9)


def test_vectorised_keeps_the_input_shape() -> None:
    d = np.linspace(1.0, 100.0, 12).reshape(3, 4)
    e, lb = p1546.field_strength_many(*FM, d)
    assert e.shape == lb.shape == (3, 4)


# ---------------------------------------------------------------- input ranges


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"f_mhz": 29.9}, r"f_mhz = 29\.9 .*30 to 4000 MHz"),
        ({"f_mhz": 4000.5}, r"f_mhz = 4000\.5 .*30 to 4000 MHz"),
        ({"t_pct": 0.5}, r"t_pct = 0\.5 .*1 to 50 %"),
        ({"t_pct": 51.0}, r"t_pct = 51\.0 .*1 to 50 %"),
        ({"d_km": [0.0]}, r"d_km contains 0\.0.*> 0 km"),
        ({"d_km": [5.0, -1.0], "path_types": ["Land", "Sea"]}, r"d_km contains -1\.0.*> 0 km"),
        ({"d_km": [1200.0]}, r"total path length d_km = 1200\.0 .*0 to 1000 km"),
        ({"area": "Forest"}, r"area = 'Forest' is unknown: allowed Rural, Suburban, Urban, Dense Urban, Sea"),
        ({"path_types": ["Lake"]}, r"path type 'Lake' is unknown: allowed Land, Sea, Warm, Cold"),
        ({"path_types": ["Land", "Sea"]}, r"path_types has 2 entries but d_km has 1"),
        ({"q_pct": 0.0}, r"q_pct = 0\.0 .*1 to 99 %"),
        ({"heff_m": 3500.0}, r"heff_m = 3500\.0 .*at most 3000 m"),
        ({"h2_m": 0.0}, r"h2_m = 0\.0 must be"),
    ],
)
def test_out_of_range_inputs_raise_value_error_naming_parameter_and_range(kwargs: dict, pattern: str) -> None:
    args = {"f_mhz": 600.0, "t_pct": 50.0, "heff_m": 100.0, "h2_m": 10.0, "r2_m": None, "area": "Rural",
            "d_km": [10.0], "path_types": ["Land"]}
    q_pct = kwargs.pop("q_pct", 50.0)
    args.update(kwargs)
    with pytest.raises(ValueError, match=pattern):
        p1546.field_strength(**args, q_pct=q_pct)


@pytest.mark.parametrize(
    ("d", "kwargs", "pattern"),
    [
        ([1.0, 0.0], {}, r"d_km_array contains 0\.0.*> 0 km"),
        ([1.0, 1001.0], {}, r"d_km_array contains 1001\.0.*1000 km"),
        ([1.0], {"path": "River"}, r"path = 'River' is unknown"),
        ([1.0], {"t_pct": 60.0}, r"t_pct = 60\.0 .*1 to 50 %"),
    ],
)
def test_vectorised_entry_rejects_bad_inputs(d: list[float], kwargs: dict, pattern: str) -> None:
    t_pct = kwargs.pop("t_pct", 50.0)
    with pytest.raises(ValueError, match=pattern):
        p1546.field_strength_many(600.0, t_pct, 100.0, 10.0, None, "Rural", d, **kwargs)


# ---------------------------------------------------------------- implementer choices are logged


def test_short_land_path_without_ha_warns_that_h1_is_heff(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="coordination.propagation.p1546"):
        with_heff = p1546.field_strength(*FM, [8.0], ["Land"])[0]
    assert "without ha_m/hb_m (no terrain data): h1 = heff" in caplog.text
    # ha = heff gives the same h1; equal antenna altitudes (150 m + 0, 10 m + 140) leave no slope correction.
    with_ha = p1546.field_strength(*FM, [8.0], ["Land"], ha_m=150.0, htter_m=0.0, hrter_m=140.0)[0]
    assert with_ha == pytest.approx(with_heff, abs=1e-12)


def test_low_sea_transmitter_is_raised_to_3_m_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="coordination.propagation.p1546"):
        e_low = p1546.field_strength(600.0, 50.0, 0.5, 10.0, None, "Sea", [30.0], ["Sea"], ha_m=3.0)[0]
    assert "raised to 3 m" in caplog.text
    e_3m = p1546.field_strength(600.0, 50.0, 3.0, 10.0, None, "Sea", [30.0], ["Sea"], ha_m=3.0)[0]
    assert e_low == pytest.approx(e_3m, abs=1e-12)


def test_modified_clutter_height_below_1_m_is_raised_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="coordination.propagation.p1546"):
        p1546.field_strength(562.0, 50.0, 186.0, 3.0, 0.0, "Suburban", [0.6], ["Land"], ha_m=95.0)
    assert "R' below 1 m raised to 1 m" in caplog.text


# ---------------------------------------------------------------- profiles and package data


def test_profile_file_errors_name_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("bad\nFirst Point TX or RX:,T\n{Begin of Profile}\nNumber of Points:,2\n0,100,2,0,4\nx,100,2,0,4\n"
                   "{End of Profile}\n")
    with pytest.raises(p1546.ProfileFormatError, match=r"bad\.csv:6: cannot read profile line"):
        p1546.read_profile(bad)


def test_profile_without_measurements_takes_inputs_from_keywords(tmp_path: Path) -> None:
    prof = tmp_path / "flat.csv"
    pts = "\n".join(f"{x},0,2,0,4" for x in range(0, 31))
    prof.write_text(f"flat\nFirst Point TX or RX:,T\n{{Begin of Profile}}\nNumber of Points:,31\n{pts}\n"
                    "{End of Profile}\n")
    result = p1546.field_strength_profile(prof, f_mhz=600.0, t_pct=50.0, ha_m=40.0, h2_m=10.0, erp_kw=2.0)
    direct = p1546.field_strength(600.0, 50.0, 40.0, 10.0, 0.0, "Rural", [30.0], ["Land"], erp_kw=2.0, ha_m=40.0,
                                  r1_m=0.0, tca_deg=result.inputs.tca_deg, eff1_deg=result.inputs.eff1_deg,
                                  eff2_deg=result.inputs.eff2_deg, htter_m=0.0, hrter_m=0.0)
    assert tuple(result) == pytest.approx(direct, abs=1e-12)
    with pytest.raises(ValueError, match="no measurement rows"):
        p1546.field_strength_profile(prof)


def test_curve_tables_ship_in_the_package_with_their_notice(shared_dir: Path) -> None:
    import coordination.propagation as pkg

    data = Path(pkg.__file__).parent / "data"
    figures = sorted(data.glob("figure*.csv"))
    assert len(figures) == 24
    assert (data / "LICENSE-Py1546").is_file()
    notice = (data / "NOTICE.txt").read_text()
    assert "eeveetza/Py1546" in notice and "e235629" in notice and "2026-11-25" in notice
    # Same numbers as the project's shared copy.
    for fig in figures:
        assert fig.read_bytes() == (shared_dir / "data" / "p1546" / "tables" / fig.name).read_bytes()
    # The installed code never points at the shared folder.
    for src in Path(pkg.__file__).parent.glob("*.py"):
        text = src.read_text()
        assert "/shared" not in text and '"shared"' not in text and "shared_dir" not in text, src.name


def test_steps_explain_the_result_and_end_at_the_returned_field_strength() -> None:
    args = (600.0, 10.0, 75.0, 1.5, 20.0, "Urban", [12.0], ["Land"])
    kw = {"ha_m": 30.0, "r1_m": 15.0, "tca_deg": 3.0, "htter_m": 100.0, "hrter_m": 60.0}
    steps = p1546.field_strength_steps(*args, **kw)
    e, _ = p1546.field_strength(*args, erp_kw=5.0, **kw)
    assert tuple(steps) == p1546.STEP_NAMES
    assert steps["e_dbuv_m"] == pytest.approx(e - 10.0 * math.log10(5.0), abs=1e-12)
    rebuilt = (max(steps["e_curves_dbuv_m"] + steps["tca_correction_db"], steps["e_troposcatter_dbuv_m"])
               + steps["rx_height_correction_db"] + steps["tx_clutter_correction_db"] + steps["slope_correction_db"])
    assert steps["e_dbuv_m"] == pytest.approx(min(rebuilt, steps["e_max_dbuv_m"]), abs=1e-9)
    assert steps["h1_m"] == pytest.approx(30.0 + (75.0 - 30.0) * (12.0 - 3.0) / 12.0)


# ---------------------------------------------------------------- the whole input domain


def test_every_input_in_range_gives_a_finite_field_strength() -> None:
    # Seeded random paths over the whole domain (incl. h1 < 0 next to sea, zones of 10 m, 3 km masts).
    rng = np.random.default_rng(20261203)
    n = 3000
    area = rng.choice(p1546.AREAS, n)
    h2 = np.exp(rng.uniform(0.0, math.log(3000.0), n))
    zones, types = [], []
    for _ in range(n):
        k = int(rng.integers(1, 4))
        d = np.exp(rng.uniform(math.log(0.01), math.log(999.0), k))
        zones.append(list(d * min(1.0, 999.0 / d.sum())))
        types.append(list(rng.choice(p1546.PATH_TYPES, k)))
    for kw in ({}, {"ha_m": 20.0, "r1_m": 10.0, "tca_deg": 1.0, "eff1_deg": 0.5, "eff2_deg": 0.3}):
        e, lb = p1546.field_strength_paths(
            np.exp(rng.uniform(math.log(30.0), math.log(4000.0), n)), rng.uniform(1.0, 50.0, n),
            rng.uniform(-100.0, 3000.0, n), np.where(area == "Sea", np.maximum(h2, 3.0), h2),
            rng.uniform(0.0, 40.0, n), list(area), zones, types, q_pct=rng.uniform(1.0, 99.0, n), **kw)
        assert np.all(np.isfinite(e)) and np.all(np.isfinite(lb))


def test_sea_zones_of_a_path_with_h1_at_or_below_0_m_use_3_m(caplog: pytest.LogCaptureFixture) -> None:
    args = (150.0, 10.0)
    rest = (10.0, None, "Rural", [20.0, 30.0], ["Land", "Cold"])
    with caplog.at_level(logging.WARNING, logger="coordination.propagation.p1546"):
        e_neg = p1546.field_strength(*args, -5.0, *rest)[0]
    assert "h1 <= 0 m on the sea zones of a path: their field uses h1 = 3 m" in caplog.text
    # Same sea field as h1 = 3 m; the land field keeps h1 = -5 m (section 4.3), so E lies below.
    e_3m = p1546.field_strength(*args, 3.0, *rest)[0]
    assert math.isfinite(e_neg) and e_neg < e_3m
