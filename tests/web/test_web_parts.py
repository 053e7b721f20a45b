"""The web view's parts without a server: tokens on disk, the Chinese catalogue, config, map geometry."""

from __future__ import annotations

import math
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from station_db.geo import default_boundaries
from station_db.hyperbolas import great_circle_km
from web import mapsvg
from web.config import WebConfigError, load_web_config
from web.i18n import ZH, pick_language, translate
from web.tls import ensure_self_signed
from web.tokens import TokenError, TokenStore

TEMPLATES = Path(__file__).resolve().parents[2] / "web" / "templates"


def test_token_records_keep_only_a_hash_and_refuse_unknown_or_revoked(tmp_path: Path) -> None:
    store = TokenStore(tmp_path)
    token, info = store.new("js-team-3", ("JS",))
    assert len(token) >= 32
    on_disk = "".join(p.read_text() for p in tmp_path.rglob("*.token"))
    assert token not in on_disk and info.sha256 in on_disk
    assert (tmp_path / "allowed" / "js-team-3.token").stat().st_mode & 0o777 == 0o600
    team = store.team_for(token)
    assert team is not None and (team.name, team.provinces) == ("js-team-3", ("JS",))
    assert store.team_for(token[:-1]) is None and store.team_for("") is None and store.team_for(None) is None
    store.revoke("js-team-3")
    assert store.team_for(token) is None
    with pytest.raises(TokenError, match="exists already"):
        store.new("js-team-3", ("JS",))
    with pytest.raises(TokenError, match="provinces"):
        store.new("nobody", ())


def test_every_template_string_has_a_chinese_entry() -> None:
    used: set[str] = set()
    for tpl in TEMPLATES.glob("*.html"):
        used |= set(re.findall(r'\bt\("([^"]+)"\)', tpl.read_text(encoding="utf-8")))
        used |= set(re.findall(r"\bt\('([^']+)'\)", tpl.read_text(encoding="utf-8")))
    missing = sorted(s for s in used if s not in ZH)
    assert len(used) > 40 and missing == []


def test_language_choice_order() -> None:
    assert pick_language("zh", "en", "en-GB") == "zh"
    assert pick_language(None, "en", "zh-CN,zh;q=0.9") == "en"
    assert pick_language(None, None, "zh-CN,zh;q=0.9") == "zh"
    assert pick_language("fr", None, None) == "en"


def test_config_errors_name_file_key_and_value(tmp_path: Path) -> None:
    f = tmp_path / "centre.toml"
    f.write_text('[web]\nport = 70000\n')
    with pytest.raises(WebConfigError, match=r"centre.toml: web.port = 70000: must be within \[1, 65535\]"):
        load_web_config(f)
    f.write_text('[web]\ncert = "x.pem"\n')
    with pytest.raises(WebConfigError, match=r"web\.cert = 'x\.pem': unknown key"):
        load_web_config(f)
    f.write_text('[web]\ncert_file = "tls/a.crt"\nport = 9443\n')
    cfg = load_web_config(f)
    assert (cfg.cert_file, cfg.port) == (tmp_path / "tls" / "a.crt", 9443)


def test_self_signed_certificate_names_localhost_and_loopback(tmp_path: Path) -> None:
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    assert ensure_self_signed(cert, key) and not ensure_self_signed(cert, key)
    text = subprocess.run(["openssl", "x509", "-in", str(cert), "-noout", "-text"], capture_output=True, text=True,
                          check=True).stdout
    assert "DNS:localhost" in text and "IP Address:127.0.0.1" in text
    assert key.stat().st_mode & 0o777 == 0o600


def test_map_ellipse_is_scaled_in_km_and_turned_to_its_azimuth() -> None:
    alert = {"id": "a1", "severity": "major", "position": {"lat": 31.4, "lon": 121.0, "semi_major_km": 40.0,
                                                           "semi_minor_km": 20.0, "orientation_deg": 30.0,
                                                           "kind": "ellipse"}}
    svg = mapsvg.render(default_boundaries(), ("JS",), [alert], [], width_px=640)
    m = re.search(r'<ellipse cx="([\d.]+)" cy="([\d.]+)" rx="([\d.]+)" ry="([\d.]+)" transform="rotate\(([-\d.]+)',
                  svg)
    assert m is not None
    lat0, lat1, lon0, lon1 = mapsvg.view_box(default_boundaries(), ("JS",), [(31.4, 121.0)])
    px_per_deg_lat = 640 / ((lon1 - lon0) * math.cos(math.radians((lat0 + lat1) / 2)))
    assert float(m.group(3)) == pytest.approx(40.0 / 111.195 * px_per_deg_lat, abs=0.06)
    assert float(m.group(4)) / float(m.group(3)) == pytest.approx(0.5, abs=0.005)
    assert float(m.group(5)) == pytest.approx(-60.0)  # azimuth 30 deg from north = 60 deg above +x (east)
    assert 'data-province="JS"' in svg and 'data-province="SH"' in svg


# ---------------------------------------------------------------- TDOA on the map

TDOA_SENSORS = {"js-kunshan": (31.38, 120.98), "sh-jiading": (31.38, 121.25), "sh-qingpu": (31.15, 121.12)}
TDOA_EMITTER = (31.42, 121.05)


def _tdoa_alert(alert_id: str = "t1", reference: str = "js-kunshan") -> dict:
    """An alert whose TDOA fix rests on two pairs against ``reference`` (range differences of the emitter)."""
    ref = TDOA_SENSORS[reference]
    lat, lon = np.array(TDOA_EMITTER[0]), np.array(TDOA_EMITTER[1])
    pairs = [{"sensor_id": sid, "sigma_m": 40.0,
              "range_diff_m": round(float(great_circle_km(p, lat, lon) - great_circle_km(ref, lat, lon)) * 1e3, 2)}
             for sid, p in TDOA_SENSORS.items() if sid != reference]
    fix = {"lat": TDOA_EMITTER[0] + 0.001, "lon": TDOA_EMITTER[1] - 0.001, "error_km": 0.4, "semi_major_km": 0.15,
           "semi_minor_km": 0.08, "orientation_deg": 60.0, "kind": "ellipse", "method": "tdoa", "n_sensors": 3}
    return {"id": alert_id, "severity": "major",
            "position": {"lat": TDOA_EMITTER[0], "lon": TDOA_EMITTER[1], "semi_major_km": 0.3, "semi_minor_km": 0.2,
                         "orientation_deg": 40.0, "kind": "ellipse", "method": "fused"},
            "tdoa": {"reference_sensor": reference, "position": fix, "pairs": pairs,
                     "sensors": [{"sensor_id": s, "lat": p[0], "lon": p[1], "height_m": 20.0}
                                 for s, p in TDOA_SENSORS.items()]}}


def _svg_size(svg: str) -> tuple[float, float]:
    m = re.search(r'viewBox="0 0 (\d+) (\d+)"', svg)
    assert m is not None
    return float(m.group(1)), float(m.group(2))


def _path_points(d: str) -> np.ndarray:
    return np.array([[float(v) for v in xy.split(",")] for xy in re.findall(r"[-\d.]+,[-\d.]+", d)])


def _px_to_polyline(pts: np.ndarray, p: tuple[float, float]) -> float:
    a, b = pts[:-1] - np.array(p), pts[1:] - np.array(p)
    ab = b - a
    t = np.clip(-np.sum(a * ab, axis=1) / np.maximum(np.sum(ab * ab, axis=1), 1e-12), 0.0, 1.0)
    return float(np.min(np.linalg.norm(a + t[:, None] * ab, axis=1)))


def test_map_draws_one_branch_per_tdoa_pair_through_the_fix_and_the_fix_as_a_cross() -> None:
    sensors = [{"sensor_id": s, "lat": p[0], "lon": p[1]} for s, p in TDOA_SENSORS.items()]
    svg = mapsvg.render(default_boundaries(), ("JS",), [_tdoa_alert()], sensors, link=False, focus=True)
    branches = re.findall(r'<path class="tdoa-hyperbola" d="([^"]+)"', svg)
    crosses = re.findall(r'<path class="tdoa-fix" data-alert="t1" d="([^"]+)"', svg)
    assert len(branches) == 2 and len(crosses) == 1
    assert svg.count("<path") == svg.count('data-province="') + 2 + 1 + 1  # provinces, branches, fix, legend's cross
    cross = _path_points(crosses[0])
    centre = cross.mean(axis=0)
    assert np.ptp(cross[:, 0]) == pytest.approx(2 * mapsvg.FIX_ARM_PX, abs=0.2)
    w, h = _svg_size(svg)
    fix_px = ((TDOA_EMITTER[1] - 0.001), (TDOA_EMITTER[0] + 0.001))
    lat0, lat1, lon0, lon1 = mapsvg.view_box(default_boundaries(), (), [
        (TDOA_EMITTER[0], TDOA_EMITTER[1]), (fix_px[1], fix_px[0]), *TDOA_SENSORS.values()], pad=0.25,
        min_span_deg=0.3)
    scale = w / ((lon1 - lon0) * math.cos(math.radians((lat0 + lat1) / 2)))
    emitter_px = ((TDOA_EMITTER[1] - lon0) * math.cos(math.radians((lat0 + lat1) / 2)) * scale,
                  (lat1 - TDOA_EMITTER[0]) * scale)
    assert centre == pytest.approx(((fix_px[0] - lon0) * math.cos(math.radians((lat0 + lat1) / 2)) * scale,
                                    (lat1 - fix_px[1]) * scale), abs=0.15)
    for d in branches:
        pts = _path_points(d)
        assert len(pts) > 20
        assert np.all((pts >= -0.05) & (pts <= np.array([w, h]) + 0.05))  # clipped to the map
        # each branch passes through the emitter the range differences were taken from (within a pixel)
        assert _px_to_polyline(pts, emitter_px) < 1.0
    assert "TDOA hyperbola (one per sensor pair)" in svg and "TDOA fix" in svg


def test_branches_reaching_past_the_province_map_end_on_its_edge() -> None:
    svg = mapsvg.render(default_boundaries(), ("SH",), [_tdoa_alert(reference="sh-qingpu")], [])
    w, h = _svg_size(svg)
    branches = re.findall(r'<path class="tdoa-hyperbola" d="([^"]+)"', svg)
    assert len(branches) == 2
    for d in branches:
        assert d.count("M") == 1  # one piece: each branch crosses the map once
        pts = _path_points(d)
        assert np.all((pts >= -0.05) & (pts <= np.array([w, h]) + 0.05))
        on_edge = [min(p[0], p[1], w - p[0], h - p[1]) < 0.06 for p in (pts[0], pts[-1])]
        assert on_edge == [True, True]


def test_alert_without_tdoa_draws_no_branch_no_cross_no_legend() -> None:
    plain = _tdoa_alert()
    del plain["tdoa"]
    failed = {**_tdoa_alert("t2"), "tdoa": {"error": "fewer than three sensors"}}  # a round without a fix
    svg = mapsvg.render(default_boundaries(), ("JS",), [plain, failed], [], link=False, focus=True)
    assert "tdoa" not in svg and "TDOA" not in svg and 'class="legend"' not in svg
    assert svg.count("<ellipse") == 2  # both alerts are still drawn


def test_tdoa_legend_speaks_the_pages_language() -> None:
    svg = mapsvg.render(default_boundaries(), ("JS",), [_tdoa_alert()], [], tr=lambda s: translate("zh", s))
    assert ZH["TDOA fix"] in svg and ZH["TDOA hyperbola (one per sensor pair)"] in svg
    assert "TDOA fix" not in svg


def test_clip_polyline_cuts_at_the_edges_and_splits_where_the_line_leaves_and_returns() -> None:
    runs = mapsvg.clip_polyline(np.array([-10.0, 50.0, 110.0]), np.array([50.0, 50.0, 50.0]), 100.0, 80.0)
    assert runs == [[(0.0, 50.0), (50.0, 50.0), (100.0, 50.0)]]
    x, y = np.array([10.0, 10.0, 10.0, 10.0, 10.0]), np.array([10.0, 90.0, 120.0, 70.0, 40.0])
    runs = mapsvg.clip_polyline(x, y, 100.0, 80.0)
    assert runs == [[(10.0, 10.0), (10.0, 80.0)], [(10.0, 80.0), (10.0, 70.0), (10.0, 40.0)]]
    assert mapsvg.clip_polyline(np.array([-5.0, -1.0]), np.array([10.0, 20.0]), 100.0, 80.0) == []
