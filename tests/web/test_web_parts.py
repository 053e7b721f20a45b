"""The web view's parts without a server: tokens on disk, the Chinese catalogue, config, map geometry."""

from __future__ import annotations

import math
import re
import subprocess
from pathlib import Path

import pytest

from station_db.geo import default_boundaries
from web import mapsvg
from web.config import WebConfigError, load_web_config
from web.i18n import ZH, pick_language
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
