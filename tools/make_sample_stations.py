#!/usr/bin/env python3
"""Generate the fictional sample station file ``station_db/data/sample_stations.csv``.

Deterministic (fixed seed): the same file on every run, so a diff shows real changes. Stations
are scattered around real towns of the four provinces, kept only where
``station_db.geo.province_of`` agrees with their province and at least ``MIN_INSIDE_KM`` from
its outline (so coarse boundaries never push them out). A handful of stations the demo relies on
are fixed exactly (see docs/station-exchange.md); the frequencies the demo keeps for unlicensed
or off-frequency emitters are left free.

Coordination: every broadcaster and public-mobile sector carries its status towards each member
neighbour, as the coordination requests of ``borderwatch coord`` would have left it: ``agreed`` at
the worst predicted border field (P.1546 every 1 km, :mod:`coordination.border_field`, rounded up to
0.1 dB) where that exceeds the band's trigger value, ``not_required`` elsewhere. One exception the
demo relies on: Shanghai agreed to 6 dB less for ZJ-FM-0003 than its licence puts on the border, and
the new JS-FM-0020 (Taicang) is still ``pending`` towards the neighbours it needs.

Usage: python tools/make_sample_stations.py [-o PATH]
"""

from __future__ import annotations

import argparse
import random
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from coordination.border_field import compute_border_fields  # noqa: E402
from coordination.coordination_requests import agreed_field_for  # noqa: E402
from station_db import geo  # noqa: E402
from station_db.designator import necessary_bandwidth_hz  # noqa: E402
from station_db.exchange import write_stations  # noqa: E402
from station_db.models import Coordination, Station  # noqa: E402
from station_db.rules import RuleSet, load_rules  # noqa: E402

SEED = 20261125
MIN_INSIDE_KM = 1.5

# Frequencies (Hz) no generated station may come near: the demo's unlicensed and off-frequency
# emitters, and the fixed demo stations' own channels. (centre_hz, keep-out half width in Hz)
KEEP_OUT: tuple[tuple[float, float], ...] = (
    (156.800e6, 50e3),    # maritime ch16 distress/calling: the demo's unlicensed interferer
    (100.1e6, 400e3),     # the demo's unlicensed FM broadcaster
    (152.400e6, 50e3),    # where ZJ-PMR-0107 appears off-frequency
    (152.375e6, 25e3),    # ZJ-PMR-0107's own channel
    (410.2125e6, 25e3),   # AH-PMR-0042
    (409.750e6, 25e3),    # AH-PMR-0010
    (97.5e6, 400e3),      # JS-FM-0003
    (156.650e6, 25e3),    # SH-MAR-0002
    (121.5e6, 100e3),     # aeronautical emergency
)

TOWNS: dict[str, list[tuple[str, float, float]]] = {
    "SH": [("Huangpu", 31.23, 121.47), ("Pudong", 31.22, 121.55), ("Minhang", 31.11, 121.38),
           ("Jiading", 31.38, 121.25), ("Qingpu", 31.15, 121.12), ("Songjiang", 31.03, 121.23),
           ("Jinshan", 30.77, 121.30), ("Fengxian", 30.92, 121.47), ("Baoshan", 31.40, 121.45),
           ("Chongming", 31.62, 121.40), ("Nanhui", 31.00, 121.75)],
    "JS": [("Nanjing", 32.06, 118.80), ("Suzhou", 31.30, 120.60), ("Kunshan", 31.38, 120.98),
           ("Wuxi", 31.57, 120.30), ("Changzhou", 31.78, 119.95), ("Nantong", 32.01, 120.86),
           ("Yangzhou", 32.39, 119.41), ("Zhenjiang", 32.19, 119.43), ("Taizhou", 32.46, 119.92),
           ("Yancheng", 33.35, 120.16), ("Huai'an", 33.55, 119.02), ("Xuzhou", 34.26, 117.18),
           ("Lianyungang", 34.60, 119.15), ("Suqian", 33.96, 118.28), ("Wujiang", 31.16, 120.64),
           ("Taicang", 31.46, 121.10), ("Yixing", 31.36, 119.82), ("Liyang", 31.42, 119.48),
           ("Jiangning", 31.95, 118.85), ("Gaochun", 31.33, 118.88)],
    "ZJ": [("Hangzhou", 30.27, 120.15), ("Jiaxing", 30.75, 120.75), ("Jiashan", 30.84, 120.92),
           ("Pinghu", 30.70, 121.01), ("Huzhou", 30.87, 120.09), ("Shaoxing", 30.00, 120.58),
           ("Ningbo", 29.87, 121.55), ("Taizhou", 28.66, 121.42), ("Wenzhou", 28.00, 120.67),
           ("Jinhua", 29.08, 119.65), ("Quzhou", 28.97, 118.87), ("Lishui", 28.45, 119.92),
           ("Yiwu", 29.31, 120.07), ("Changxing", 31.03, 119.91), ("Anji", 30.64, 119.68),
           ("Haining", 30.51, 120.68), ("Tongxiang", 30.63, 120.56), ("Deqing", 30.54, 119.97)],
    "AH": [("Hefei", 31.82, 117.23), ("Ma'anshan", 31.67, 118.51), ("Wuhu", 31.35, 118.38),
           ("Anqing", 30.54, 117.05), ("Bengbu", 32.92, 117.39), ("Huainan", 32.63, 117.00),
           ("Fuyang", 32.89, 115.81), ("Bozhou", 33.84, 115.78), ("Suzhou", 33.64, 116.98),
           ("Huaibei", 33.96, 116.80), ("Chuzhou", 32.30, 118.32), ("Lu'an", 31.73, 116.52),
           ("Xuancheng", 30.94, 118.76), ("Huangshan", 29.71, 118.32), ("Chizhou", 30.66, 117.49),
           ("Tongling", 30.94, 117.81), ("Guangde", 30.89, 119.42), ("Tianchang", 32.69, 119.00)],
}
AIRPORTS: dict[str, list[tuple[str, float, float]]] = {
    "SH": [("Hongqiao", 31.20, 121.34), ("Pudong", 31.15, 121.79)],
    "JS": [("Lukou", 31.74, 118.86), ("Sunan Shuofang", 31.49, 120.43), ("Benniu", 31.92, 119.78),
           ("Xingdong", 32.07, 120.98), ("Yangtai", 32.56, 119.72), ("Nanyang", 33.43, 120.20),
           ("Guanyin", 34.06, 117.56)],
    "ZJ": [("Xiaoshan", 30.23, 120.43), ("Lishe", 29.83, 121.46), ("Longwan", 27.92, 120.84),
           ("Yiwu", 29.34, 120.03), ("Luqiao", 28.56, 121.43), ("Quzhou", 28.97, 118.90)],
    "AH": [("Xinqiao", 31.99, 116.97), ("Tunxi", 29.73, 118.26), ("Fuyang", 32.88, 115.73),
           ("Tianzhushan", 30.58, 117.05), ("Jiuhuashan", 30.74, 117.69), ("Xuanzhou", 31.14, 118.65)],
}
# Coast and river stations: Yangtze estuary, the Yangtze in Jiangsu and Anhui, the coast.
COAST: dict[str, list[tuple[str, float, float]]] = {
    "SH": [("Chongming", 31.55, 121.60), ("Luchaogang", 30.88, 121.85), ("Jinshanzui", 30.75, 121.35),
           ("Pudong Gaoqiao", 31.35, 121.58)],
    "JS": [("Lianyungang", 34.70, 119.35), ("Dafeng", 33.20, 120.50), ("Lusi", 32.08, 121.55),
           ("Nantong port", 31.98, 120.90), ("Zhangjiagang", 31.95, 120.45), ("Taicang port", 31.60, 121.20),
           ("Zhenjiang port", 32.22, 119.50), ("Nanjing Xinshengwei", 32.14, 118.85)],
    "ZJ": [("Zhapu", 30.62, 121.05), ("Beilun", 29.92, 121.80), ("Zhenhai", 29.97, 121.68),
           ("Haimen", 28.69, 121.42), ("Wenzhou Qidu", 27.99, 120.75), ("Ganpu", 30.40, 120.90)],
    "AH": [("Ma'anshan port", 31.70, 118.48), ("Wuhu port", 31.36, 118.36), ("Tongling port", 30.95, 117.76),
           ("Anqing port", 30.52, 117.08)],
}

FM_FREQS_HZ = [round(87.6 + 0.1 * k, 1) * 1e6 for k in range(205)]
MARITIME_DUPLEX = [  # (coast tx MHz, ship tx MHz): channels 18-28 and 60-88 style coast frequencies
    (161.500, 156.900), (161.550, 156.950), (161.600, 157.000), (161.650, 157.050), (161.700, 157.100),
    (161.750, 157.150), (161.800, 157.200), (161.850, 157.250), (161.900, 157.300), (161.950, 157.350),
    (162.000, 157.400),
]
MARITIME_SIMPLEX = [156.300, 156.400, 156.450, 156.500, 156.550, 156.600, 156.700]
LICENSEE_KINDS = {
    "land_mobile": ["Taxi Cooperative", "Logistics Park", "Port Security", "Water Works", "Power Grid Maintenance",
                    "Construction Group", "Hospital Transport", "Bus Company", "Chemical Park Fire Brigade",
                    "Expressway Patrol", "Campus Security", "Forest Fire Watch"],
    "broadcast": ["People's Radio", "Traffic Radio", "Music Radio", "News Radio", "Economy Radio"],
    "aeronautical": ["Airport Ground Control", "Approach Control", "Airport Tower", "Apron Management"],
    "maritime": ["Coast Radio", "VTS Centre", "Pilot Station", "River Traffic Radio"],
    "public_mobile": ["Example Mobile", "Sample Telecom", "Demo Unicom"],
}
VALID_FROM = date(2024, 1, 1)
VALID_TO = date(2028, 12, 31)


def free(freq_hz: float, bw_hz: float) -> bool:
    """True when a station on ``freq_hz`` stays clear of every keep-out range."""
    return all(abs(freq_hz - c) >= half + bw_hz / 2.0 for c, half in KEEP_OUT)


def place(rng: random.Random, province: str, lat0: float, lon0: float, spread_km: float) -> tuple[float, float]:
    """A point near (lat0, lon0) inside ``province`` and at least MIN_INSIDE_KM from its outline."""
    for attempt in range(200):
        r = spread_km * (0.2 + 0.8 * rng.random()) * (0.5 if attempt > 100 else 1.0)
        lat = lat0 + rng.gauss(0.0, r / 111.0)
        lon = lon0 + rng.gauss(0.0, r / 95.0)
        lat, lon = round(lat, 5), round(lon, 5)
        if geo.province_of(lat, lon) != province:
            continue
        if geo.distance_to_border_km(lat, lon)[0] < MIN_INSIDE_KM:
            continue
        if not _clear_of_coast(lat, lon, province):
            continue
        return lat, lon
    raise RuntimeError(f"cannot place a station of {province} near ({lat0}, {lon0})")


def _clear_of_coast(lat: float, lon: float, province: str) -> bool:
    """True when points ~MIN_INSIDE_KM north, south, east and west are in the province too.

    ``distance_to_border_km`` ignores the coastline, so this keeps coast stations on land.
    """
    d = MIN_INSIDE_KM / 111.0
    probes = [(lat + d, lon), (lat - d, lon), (lat, lon + d * 1.2), (lat, lon - d * 1.2)]
    return all(geo.province_of(a, b) == province for a, b in probes)


def licensee(rng: random.Random, service: str, town: str) -> str:
    """A clearly fictional licensee name."""
    return f"{town} {rng.choice(LICENSEE_KINDS[service])} (fictional)"


def make_station(**kw: Any) -> Station:
    """A Station with the sample's defaults; the bandwidth comes from the designator."""
    designator = kw["emission_designator"]
    defaults = dict(rx_freq_hz=None, azimuth_deg=None, pattern="omni", ground_height_m=5.0,
                    valid_from=VALID_FROM, valid_to=VALID_TO, status="active", occupation="continuous")
    defaults.update(kw)
    return Station(necessary_bw_hz=necessary_bandwidth_hz(designator), **defaults)


def fixed_stations() -> list[Station]:
    """The stations the demo scenario names; exact values, documented in docs/station-exchange.md."""
    return [
        make_station(station_id="AH-PMR-0042", province="AH", licensee="Ma'anshan Steel Logistics (fictional)",
                     service="land_mobile", tx_freq_hz=410.2125e6, rx_freq_hz=420.2125e6,
                     emission_designator="11K0F3E", erp_dbw=10.0, antenna_height_m=30.0, ground_height_m=12.0,
                     lat=31.70, lon=118.60, occupation="continuous"),
        make_station(station_id="AH-PMR-0010", province="AH", licensee="Hefei Water Works (fictional)",
                     service="land_mobile", tx_freq_hz=409.75e6, rx_freq_hz=419.75e6,
                     emission_designator="11K0F3E", erp_dbw=10.0, antenna_height_m=35.0, ground_height_m=30.0,
                     lat=31.82, lon=117.23, occupation="intermittent"),
        make_station(station_id="ZJ-PMR-0107", province="ZJ", licensee="Jiaxing Port Security (fictional)",
                     service="land_mobile", tx_freq_hz=152.375e6, rx_freq_hz=None,
                     emission_designator="11K0F3E", erp_dbw=7.0, antenna_height_m=25.0, ground_height_m=4.0,
                     lat=30.75, lon=120.75, occupation="intermittent"),
        make_station(station_id="JS-FM-0003", province="JS", licensee="Suzhou Music Radio (fictional)",
                     service="broadcast", tx_freq_hz=97.5e6, emission_designator="180KF3E", erp_dbw=30.0,
                     antenna_height_m=150.0, ground_height_m=4.0, lat=31.30, lon=120.60),
        make_station(station_id="JS-FM-0020", province="JS", licensee="Taicang New Port Radio (fictional)",
                     service="broadcast", tx_freq_hz=99.8e6, emission_designator="180KF3E", erp_dbw=27.0,
                     antenna_height_m=120.0, ground_height_m=4.0, lat=31.47, lon=121.08,
                     valid_from=date(2026, 6, 1), valid_to=date(2034, 5, 31)),
        make_station(station_id="SH-MAR-0002", province="SH", licensee="Wusongkou VTS Centre (fictional)",
                     service="maritime", tx_freq_hz=156.65e6, emission_designator="16K0F3E", erp_dbw=14.0,
                     antenna_height_m=40.0, ground_height_m=4.0, lat=31.39, lon=121.50, occupation="intermittent"),
    ]


def generate() -> list[Station]:
    rng = random.Random(SEED)
    fixed = {s.station_id: s for s in fixed_stations()}
    out: list[Station] = []
    counters: dict[tuple[str, str], int] = {}

    def next_id(province: str, kind: str) -> str:
        while True:
            n = counters.get((province, kind), 0) + 1
            counters[(province, kind)] = n
            sid = f"{province}-{kind}-{n:04d}"
            if sid in fixed:
                out.append(fixed[sid])
                continue
            return sid

    def pick_freq(choices: list[float], bw_hz: float) -> float:
        for _ in range(1000):
            f = rng.choice(choices)
            if free(f, bw_hz):
                return f
        raise RuntimeError("no free frequency")

    for province in ("SH", "JS", "ZJ", "AH"):
        towns = TOWNS[province]
        # FM broadcast: a few per province, mostly big towers in the cities.
        for _ in range({"SH": 8, "JS": 16, "ZJ": 14, "AH": 12}[province]):
            town, lat0, lon0 = rng.choice(towns)
            lat, lon = place(rng, province, lat0, lon0, 6.0)
            out.append(make_station(
                station_id=next_id(province, "FM"), province=province, licensee=licensee(rng, "broadcast", town),
                service="broadcast", tx_freq_hz=pick_freq(FM_FREQS_HZ, 200e3),
                emission_designator="180KF3E", erp_dbw=float(rng.choice([20, 23, 27, 30, 33, 37, 40])),
                antenna_height_m=float(rng.choice([60, 90, 120, 150, 200, 250])),
                ground_height_m=float(rng.randint(2, 40)), lat=lat, lon=lon))
        # PMR 150 and PMR 400 base stations.
        n_pmr = {"SH": 50, "JS": 100, "ZJ": 110, "AH": 70}[province]
        for _ in range(n_pmr):
            town, lat0, lon0 = rng.choice(towns)
            lat, lon = place(rng, province, lat0, lon0, 12.0)
            if rng.random() < 0.45:
                tx = pick_freq([146e6 + 12.5e3 * k for k in range(8, 790)], 25e3)
                rx = None
            else:
                tx = pick_freq([406.1e6 + 12.5e3 * k for k in range(300, 1500)], 25e3)
                rx = tx + 10e6 if tx + 10e6 < 470e6 and rng.random() < 0.6 else None
            designator = rng.choice(["11K0F3E", "11K0F3E", "8K50F3E", "7K60FXE", "16K0F3E"])
            out.append(make_station(
                station_id=next_id(province, "PMR"), province=province, licensee=licensee(rng, "land_mobile", town),
                service="land_mobile", tx_freq_hz=tx, rx_freq_hz=rx, emission_designator=designator,
                erp_dbw=float(rng.choice([5, 7, 10, 12, 14, 17])),
                antenna_height_m=float(rng.choice([15, 20, 25, 30, 40, 50])),
                ground_height_m=float(rng.randint(2, 60)), lat=lat, lon=lon,
                occupation="continuous" if rng.random() < 0.15 else "intermittent"))
        # Airband ground stations at the airports.
        for airport, lat0, lon0 in AIRPORTS[province]:
            for _ in range(3):
                lat, lon = place(rng, province, lat0, lon0, 2.0)
                out.append(make_station(
                    station_id=next_id(province, "AIR"), province=province,
                    licensee=f"{airport} {rng.choice(LICENSEE_KINDS['aeronautical'])} (fictional)",
                    service="aeronautical", tx_freq_hz=pick_freq([118e6 + 25e3 * k for k in range(760)], 25e3),
                    emission_designator="6K00A3E", erp_dbw=float(rng.choice([10, 14, 17])),
                    antenna_height_m=float(rng.choice([10, 15, 20, 30])), ground_height_m=float(rng.randint(2, 40)),
                    lat=lat, lon=lon, occupation="intermittent"))
        # Maritime VHF coast and river stations.
        for place_name, lat0, lon0 in COAST[province]:
            lat, lon = place(rng, province, lat0, lon0, 3.0)
            if rng.random() < 0.5:
                tx, rx = rng.choice(MARITIME_DUPLEX)
                tx, rx = tx * 1e6, rx * 1e6
            else:
                tx, rx = pick_freq([f * 1e6 for f in MARITIME_SIMPLEX], 16e3), None
            out.append(make_station(
                station_id=next_id(province, "MAR"), province=province,
                licensee=f"{place_name} {rng.choice(LICENSEE_KINDS['maritime'])} (fictional)",
                service="maritime", tx_freq_hz=tx, rx_freq_hz=rx, emission_designator="16K0F3E",
                erp_dbw=float(rng.choice([14, 17, 20])), antenna_height_m=float(rng.choice([30, 40, 60])),
                ground_height_m=float(rng.randint(2, 10)), lat=lat, lon=lon, occupation="intermittent"))
        # Public mobile sites: three sectors each, 900 or 1800 MHz (GSM-style 200 kHz carriers).
        for _ in range({"SH": 8, "JS": 12, "ZJ": 12, "AH": 10}[province]):
            town, lat0, lon0 = rng.choice(towns)
            lat, lon = place(rng, province, lat0, lon0, 8.0)
            if rng.random() < 0.5:
                band = [935.2e6 + 200e3 * k for k in range(120)]
                offset = -45e6
            else:
                band = [1805.2e6 + 200e3 * k for k in range(370)]
                offset = -95e6
            operator = rng.choice(LICENSEE_KINDS["public_mobile"])
            height = float(rng.choice([25, 30, 35, 45]))
            for sector, azimuth in enumerate((0.0, 120.0, 240.0)):
                tx = pick_freq(band, 200e3)
                out.append(make_station(
                    station_id=next_id(province, "MOB"), province=province,
                    licensee=f"{operator} {town} (fictional)", service="public_mobile", tx_freq_hz=tx,
                    rx_freq_hz=tx + offset, emission_designator="200KG7W",
                    erp_dbw=float(rng.choice([24, 27, 30])), antenna_height_m=height,
                    azimuth_deg=(azimuth + 30.0 * (sector == 0) + rng.choice([0, 10, 20])) % 360.0,
                    pattern="dir:65", ground_height_m=float(rng.randint(2, 40)), lat=lat, lon=lon))
    present = {s.station_id for s in out}
    out += [s for sid, s in fixed.items() if sid not in present]
    return with_coordination(sorted(out, key=lambda s: (s.province, s.station_id)), load_rules())


COORDINATED_SERVICES = ("broadcast", "public_mobile")
AGREEMENT_FROM = date(2025, 1, 1)
UNDER_AGREED: dict[tuple[str, str], float] = {("ZJ-FM-0003", "SH"): 6.0}
"""(station, neighbour) -> dB the neighbour agreed below the licence's worst border field (the demo's
station above its agreed value)."""
PENDING: dict[str, str] = {"JS-FM-0020": "CR-JS-20261120090000-5a17c0"}
"""Newly licensed stations whose coordination request still waits for the neighbours' answers."""


def with_coordination(stations: list[Station], rules: RuleSet) -> list[Station]:
    """Broadcasters and public-mobile sites with their coordination towards each member neighbour."""
    out = []
    serial: dict[tuple[str, str], int] = {}
    for s in stations:
        band = rules.band_for(s.tx_freq_hz)
        if s.service not in COORDINATED_SERVICES or band is None:
            out.append(s)
            continue
        entries = []
        for p in compute_border_fields(s, rules).profiles:
            if not p.exceeds:
                entries.append(Coordination(p.neighbour, "not_required"))
                continue
            if s.station_id in PENDING:
                entries.append(Coordination(p.neighbour, "pending", reference=PENDING[s.station_id]))
                continue
            n = serial[(s.province, p.neighbour)] = serial.get((s.province, p.neighbour), 0) + 1
            field = agreed_field_for(p.worst_field_dbuv_m) - UNDER_AGREED.get((s.station_id, p.neighbour), 0.0)
            entries.append(Coordination(p.neighbour, "agreed", round(field, 1),
                                        f"{s.province}-{p.neighbour}-2025-{n:03d}", AGREEMENT_FROM, s.valid_to))
        out.append(replace(s, coordination=tuple(sorted(entries, key=lambda c: c.neighbour))))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default=str(ROOT / "station_db" / "data" / "sample_stations.csv"))
    args = parser.parse_args()
    stations = generate()
    write_stations(args.output, stations)
    sys.stdout.write(f"{len(stations)} stations -> {args.output}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
