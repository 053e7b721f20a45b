"""The realistic simulated world: shadowing, model error, calibration error; seeded, bounded, fast."""

from __future__ import annotations

import math

import numpy as np
import pytest

from coordination.prediction import field_0dbw_dbuv_m
from sdr.scenario import SensorSite, Transmitter
from sdr.sources.sim_link import distance_km
from sdr.sources.sim_world import RealisticWorld, unit_normal

FREQS_HZ = (100.1e6, 152.375e6, 156.8e6, 410.2e6)


def random_links(seed: int, n_tx: int, n_sites: int, *, min_km: float = 0.0) -> tuple[list[Transmitter],
                                                                                      list[SensorSite]]:
    """Transmitters and sensors scattered over a 150 x 150 km delta-like area (not the shipped layout)."""
    rng = np.random.default_rng(seed)
    sites = [SensorSite(f"S{j}", "X", 30.6 + 1.3 * rng.random(), 118.6 + 3.0 * rng.random(),
                        height_m=float(rng.choice([10.0, 15.0, 20.0, 30.0]))) for j in range(n_sites)]
    txs: list[Transmitter] = []
    while len(txs) < n_tx:
        lat, lon = 30.6 + 1.3 * rng.random(), 118.6 + 3.0 * rng.random()
        if min_km and min(distance_km(lat, lon, s.lat, s.lon) for s in sites) < min_km:
            continue
        txs.append(Transmitter(f"T{len(txs)}", lat, lon, float(rng.choice(FREQS_HZ)), float(rng.uniform(0, 30)),
                               "nfm", antenna_height_m=float(rng.choice([10.0, 20.0, 45.0, 150.0]))))
    return txs, sites


def engine_law(tx: Transmitter, site: SensorSite) -> float:
    """The rules engine's localisation/prediction law for this link (what it inverts)."""
    d = distance_km(tx.lat, tx.lon, site.lat, site.lon)
    g = field_0dbw_dbuv_m(np.array([d]), tx.emitted_freq_hz, tx.antenna_height_m, site.height_m, 50.0,
                          ha_m=tx.antenna_height_m)
    return tx.effective_erp_dbw + float(g[0])


def test_the_ideal_world_is_exactly_the_engines_law() -> None:
    txs, sites = random_links(1, 12, 8)
    world = RealisticWorld.ideal()
    for tx in txs:
        for site in sites:
            assert world.true_field_dbuv_m(tx, site) == pytest.approx(engine_law(tx, site), abs=1e-6)
            assert world.reported_field_dbuv_m(tx, site) == world.true_field_dbuv_m(tx, site)


@pytest.mark.parametrize("shadowing_db", [4.0, 6.0, 8.0])
def test_shadowing_has_the_stated_spread_over_many_links(shadowing_db: float) -> None:
    txs, sites = random_links(5, 150, 16, min_km=5.0)  # far enough that free space never caps
    world = RealisticWorld(shadowing_db=shadowing_db, seed=21)
    dev = np.array([[world.true_field_dbuv_m(t, s) - world.median_field_dbuv_m(t, s) for s in sites] for t in txs])
    assert dev.size == 2400
    assert abs(float(dev.mean())) < 0.1 * shadowing_db      # 3 sigma of the mean is 0.06 sigma
    assert float(dev.std()) == pytest.approx(shadowing_db, rel=0.06)
    # log-normal in power = normal in dB: 95 % within 1.96 sigma
    assert float(np.mean(np.abs(dev) < 1.96 * shadowing_db)) == pytest.approx(0.95, abs=0.015)


def test_model_error_has_the_documented_spread_and_is_not_the_engines_law() -> None:
    """docs/scenario.md: with the default spreads the median is off the engine's law by about -3 +/- 4 dB."""
    txs, sites = random_links(8, 120, 16)
    world = RealisticWorld(shadowing_db=0.0, seed=4)
    err = np.array([[world.link(t, s).model_error_db for s in sites] for t in txs]).ravel()
    assert -4.5 < float(err.mean()) < -1.5
    assert 3.0 < float(err.std()) < 5.0
    assert float(np.mean(np.abs(err) > 1.0)) > 0.4       # most links are not the engine's law
    assert float(err.max()) > 2.0                        # ... and it errs both ways (low heff -> high)
    for t in txs[:10]:  # the error is the median's, the same one true_field_dbuv_m starts from
        for s in sites[:4]:
            assert world.true_field_dbuv_m(t, s) == pytest.approx(
                min(engine_law(t, s) + world.link(t, s).model_error_db, world.free_space_dbuv_m(t, s)), abs=1e-6)


def test_each_model_error_term_moves_the_field_the_physical_way() -> None:
    tx = Transmitter("T", 31.3, 120.0, 152e6, 10.0, "nfm", antenna_height_m=30.0)
    site = SensorSite("S", "X", 31.0, 120.3, height_m=10.0)
    plain = RealisticWorld.ideal().true_field_dbuv_m(tx, site)
    low_site = SensorSite("S", "X", 31.0, 120.3, height_m=10.0, clutter_height_m=18.0)
    assert RealisticWorld.ideal().true_field_dbuv_m(tx, low_site) < plain - 3  # antenna below the clutter
    obstructed = [RealisticWorld(0, 0, 2.0, None, None, 0, seed=k) for k in range(40)]
    fields = [w.true_field_dbuv_m(tx, site) for w in obstructed]
    assert max(fields) == pytest.approx(plain, abs=1e-9)    # tca <= 0.55 deg: no correction
    assert min(fields) < plain - 5                           # a steep obstacle: diffraction loss
    heights = [RealisticWorld(0, 40.0, 0, None, None, 0, seed=k) for k in range(40)]
    pairs = [(w.link(tx, site).heff_m, w.true_field_dbuv_m(tx, site)) for w in heights]
    hs, es = np.array(pairs).T
    order = np.argsort(hs)
    assert np.all(np.diff(es[order]) >= -1e-9)               # higher effective height, never weaker
    assert es.max() - es.min() > 6.0                         # and it matters on a 42 km path


def test_the_field_is_never_above_free_space() -> None:
    txs, sites = random_links(2, 40, 16)
    near = SensorSite("NEAR", "X", txs[0].lat + 0.002, txs[0].lon, height_m=10.0)
    world = RealisticWorld(shadowing_db=20.0, heff_sigma_m=200.0, seed=3)
    for tx in txs:
        for site in [*sites, near]:
            assert world.true_field_dbuv_m(tx, site) <= world.free_space_dbuv_m(tx, site) + 1e-9


def test_draws_are_seeded_and_independent_of_asking_order() -> None:
    txs, sites = random_links(3, 6, 5)
    a = RealisticWorld(seed=9).true_fields_dbuv_m(txs, sites)
    b = RealisticWorld(seed=9).true_fields_dbuv_m(txs[::-1], sites[::-1])[::-1, ::-1]
    np.testing.assert_array_equal(a, b)
    c = RealisticWorld(seed=10).true_fields_dbuv_m(txs, sites)
    assert float(np.mean(np.abs(a - c) > 0.5)) > 0.8
    world = RealisticWorld(seed=9)
    assert world.shadowing_z(txs[0], sites[0]) == unit_normal("9", txs[0].id, sites[0].id)  # the demo's old draws


def test_shadowing_levels_share_the_paths_and_the_draws() -> None:
    txs, sites = random_links(4, 20, 8, min_km=5.0)
    base = RealisticWorld(shadowing_db=0.0, seed=6)
    med = base.true_fields_dbuv_m(txs, sites)
    at4 = base.with_shadowing(4.0).true_fields_dbuv_m(txs, sites) - med
    at8 = base.with_shadowing(8.0).true_fields_dbuv_m(txs, sites) - med
    free = np.array([[base.free_space_dbuv_m(t, s) for s in sites] for t in txs])
    uncapped = med + at8 < free - 1e-9
    assert uncapped.mean() > 0.9
    np.testing.assert_allclose(at8[uncapped], 2 * at4[uncapped], atol=1e-9)
    assert base.with_shadowing(4.0).calibration_errors_db(sites).tolist() == base.calibration_errors_db(sites).tolist()


def test_calibration_error_is_drawn_per_sensor_or_stated() -> None:
    sites = [SensorSite(f"C{j}", "X", 31.0, 120.0 + 0.01 * j) for j in range(2000)]
    world = RealisticWorld(calibration_sigma_db=2.0, seed=1)
    cal = world.calibration_errors_db(sites)
    assert float(cal.std()) == pytest.approx(2.0, rel=0.06)
    assert abs(float(cal.mean())) < 0.15
    stated = SensorSite("K", "X", 31.0, 120.0, calibration_error_db=-3.5)
    assert world.calibration_error_db(stated) == -3.5
    assert RealisticWorld.ideal().calibration_error_db(sites[0]) == 0.0
    tx = Transmitter("T", 31.2, 120.1, 410e6, 10.0, "nfm")
    assert world.reported_field_dbuv_m(tx, stated) == pytest.approx(world.true_field_dbuv_m(tx, stated) - 3.5)


def test_vectorised_fields_match_the_scalar_ones() -> None:
    txs, sites = random_links(6, 7, 9)
    world = RealisticWorld(seed=2)
    rep = world.reported_fields_dbuv_m(txs, sites)
    assert rep.shape == (7, 9)
    for i, tx in enumerate(txs):
        for j, site in enumerate(sites):
            assert rep[i, j] == world.reported_field_dbuv_m(tx, site)


def test_a_path_over_water_is_stronger_than_over_land() -> None:
    tx = Transmitter("SHIP", 31.0, 122.4, 156.8e6, 17.0, "nfm", antenna_height_m=20.0)
    site = SensorSite("COAST", "X", 31.0, 122.05, height_m=20.0)  # 33 km, east of 122.2 E is "sea" here

    def east_is_sea(lats: np.ndarray, lons: np.ndarray) -> np.ndarray:
        return np.asarray(lons) > 122.2

    land = RealisticWorld.ideal()
    wet = RealisticWorld(0, 0, 0, None, None, 0, water_mask=east_is_sea)
    link = wet.link(tx, site)
    assert link.water_fraction == pytest.approx(0.2 / 0.35, abs=0.05)
    assert wet.true_field_dbuv_m(tx, site) > land.true_field_dbuv_m(tx, site) + 1.0


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"shadowing_db": -1.0}, "shadowing_db"),
    ({"calibration_sigma_db": math.nan}, "calibration_sigma_db"),
    ({"rx_clutter_min_m": 5.0, "rx_clutter_max_m": None}, "rx_clutter"),
    ({"rx_clutter_min_m": 20.0, "rx_clutter_max_m": 5.0}, "rx clutter"),
    ({"time_pct": 90.0}, "time_pct"),
])
def test_bad_settings_are_refused_by_name(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RealisticWorld(**kwargs)


def test_a_sector_antenna_radiates_its_erp_ahead_and_its_back_lobe_behind() -> None:
    """A public-mobile sector (main beam east, 65 deg, 22 dB back lobe): a sensor 10 km east receives what an
    omnidirectional antenna of the same e.r.p. gives it, one 10 km west 22 dB less, one 10 km north the main
    lobe's 12 (90 / 65)^2 = 23 dB capped at 22; shadowing and model error are the link's, not the antenna's."""
    sector = Transmitter("SEC", 31.0, 120.5, 935.2e6, 27.0, "nfm", antenna_height_m=40.0, azimuth_deg=90.0,
                         beamwidth_deg=65.0, front_to_back_db=22.0)
    omni = Transmitter("SEC", 31.0, 120.5, 935.2e6, 27.0, "nfm", antenna_height_m=40.0)
    dlon = 10.0 / (111.195 * math.cos(math.radians(31.0)))
    east, west = SensorSite("E", "X", 31.0, 120.5 + dlon, 15.0), SensorSite("W", "X", 31.0, 120.5 - dlon, 15.0)
    north = SensorSite("N", "X", 31.0 + 10.0 / 111.195, 120.5, 15.0)
    world = RealisticWorld(seed=3).with_shadowing(6.0)
    assert world.true_field_dbuv_m(sector, east) == pytest.approx(world.true_field_dbuv_m(omni, east), abs=1e-3)
    assert world.true_field_dbuv_m(omni, west) - world.true_field_dbuv_m(sector, west) == pytest.approx(22.0)
    assert world.true_field_dbuv_m(omni, north) - world.true_field_dbuv_m(sector, north) == pytest.approx(22.0)
    half = SensorSite("H", "X", 31.0 + 10.0 * math.sin(math.radians(32.5)) / 111.195,
                      120.5 + dlon * math.cos(math.radians(32.5)), 15.0)  # at the half-power edge
    assert world.true_field_dbuv_m(omni, half) - world.true_field_dbuv_m(sector, half) == pytest.approx(3.0, abs=0.1)
    assert omni.antenna_gain_db(270.0) == 0.0 and sector.antenna_gain_db(90.0) == 0.0
