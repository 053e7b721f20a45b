"""Chinese station records shared by the station-file encoding tests and the Chinese CLI tests."""

from __future__ import annotations

from datetime import date

from station_db.models import Station

# 𠮷 (U+20BB7) is a four-byte GB18030 sequence: GBK alone could not carry it.
NAMES = [
    ("SH-CN-0001", "SH", "上海港引航站", "上海国际港务（集团）股份有限公司", "maritime", 156.65e6, 31.39, 121.50),
    ("JS-CN-0002", "JS", "苏州园区对讲中继", "苏州园区𠮷祥物业有限公司", "land_mobile", 151.25e6, 31.30, 120.60),
    ("ZJ-CN-0003", "ZJ", "杭州萧山机场塔台", "民航浙江空管分局", "aeronautical", 118.1e6, 30.23, 120.43),
    ("AH-CN-0004", "AH", "合肥调频广播", "安徽广播电视台", "broadcast", 97.5e6, 31.86, 117.28),
]


def chinese_stations() -> list[Station]:
    return [
        Station(station_id=sid, province=prov, licensee=lic, service=svc, tx_freq_hz=f_hz, rx_freq_hz=None,
                emission_designator="16K0F3E", necessary_bw_hz=16_000.0, erp_dbw=10.0, antenna_height_m=30.0,
                azimuth_deg=None, pattern="omni", ground_height_m=5.0, lat=lat, lon=lon,
                valid_from=date(2025, 1, 1), valid_to=date(2029, 12, 31), station_name=name)
        for sid, prov, name, lic, svc, f_hz, lat, lon in NAMES
    ]
