"""sensor.toml parsing: typed values, resolved paths, errors that name file, key and value."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdr.config import ConfigError, load_config
from sdr.profiles import DEFAULT_PROFILES

GOOD = """
[sensor]
id = "ZJ-JX-01"
province = "ZJ"
lat = 30.75
lon = 120.75
height_m = 15.0

[antenna]
factor_db_m = 12.5

[source]
uri = "sim:scenario.toml?sensor=ZJ-JX-01"

[server]
address = "tcp://127.0.0.1:5560"

[spool]
dir = "spool"
quota_mb = 2
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "sensor.toml"
    p.write_text(text)
    return p


def test_good_config_parses_with_defaults_and_resolved_paths(tmp_path) -> None:
    cfg = load_config(write(tmp_path, GOOD))
    assert cfg.sensor_id == "ZJ-JX-01" and cfg.province == "ZJ"
    assert (cfg.lat, cfg.lon, cfg.height_m) == (30.75, 120.75, 15.0)
    assert cfg.antenna_factor_db_m == 12.5 and cfg.full_scale_dbm is None
    assert cfg.source_uri == f"sim:{tmp_path / 'scenario.toml'}?sensor=ZJ-JX-01"
    assert cfg.spool_dir == tmp_path / "spool" and cfg.spool_quota_bytes == 2 * 1024 * 1024
    assert cfg.profiles == DEFAULT_PROFILES
    assert cfg.server_public_key is None and cfg.secret_key_file is None
    assert cfg.heartbeat_interval_s == 10.0


def test_local_profiles_override_defaults(tmp_path) -> None:
    cfg = load_config(write(tmp_path, GOOD + """
[[profiles]]
name = "pmr"
f_start_hz = 446.0e6
f_stop_hz = 446.2e6
bin_hz = 1562.5
revisit_s = 2.0
"""))
    assert [p.name for p in cfg.profiles] == ["pmr"]
    assert cfg.profiles[0].revisit_s == 2.0 and cfg.profiles[0].detector == "mean"


@pytest.mark.parametrize(("old", "new", "key", "value"), [
    ('lat = 30.75', 'lat = 95.0', "sensor.lat", "95.0"),
    ('lon = 120.75', 'lon = "east"', "sensor.lon", "'east'"),
    ('province = "ZJ"', 'province = "zj"', "sensor.province", "'zj'"),
    ('id = "ZJ-JX-01"', 'id = "bad id!"', "sensor.id", "'bad id!'"),
    ('address = "tcp://127.0.0.1:5560"', 'address = "127.0.0.1:5560"', "server.address", "'127.0.0.1:5560'"),
    ('uri = "sim:scenario.toml?sensor=ZJ-JX-01"', 'uri = "usb:0"', "source.uri", "'usb:0'"),
    ('quota_mb = 2', 'quota_mb = -1', "spool.quota_mb", "-1"),
    ('factor_db_m = 12.5', 'factr_db_m = 12.5', "antenna.factr_db_m", "12.5"),
    ('lat = 30.75\n', '', "sensor.lat", "(missing)"),
])
def test_errors_name_file_key_and_value(tmp_path, old, new, key, value) -> None:
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}: {key} = {value}: "), msg
    assert err.value.key == key


def test_profile_errors_name_the_profile_key(tmp_path) -> None:
    path = write(tmp_path, GOOD + """
[[profiles]]
name = "pmr"
f_start_hz = 446.0e6
f_stop_hz = 446.2e6
bin_hz = 1562.5
detector = "median"
""")
    with pytest.raises(ConfigError, match=r"profiles\[0\]\.detector = 'median'"):
        load_config(path)


def test_curve_server_key_from_certificate_file(tmp_path) -> None:
    import zmq.auth

    (tmp_path / "keys").mkdir()
    srv_pub, _ = zmq.auth.create_certificates(str(tmp_path / "keys"), "server")
    zmq.auth.create_certificates(str(tmp_path / "keys"), "ZJ-JX-01")
    text = GOOD.replace("[spool]", 'server_public_key = "keys/server.key"\n'
                        'secret_key_file = "keys/ZJ-JX-01.key_secret"\n[spool]')
    cfg = load_config(write(tmp_path, text))
    assert cfg.server_public_key == zmq.auth.load_certificate(srv_pub)[0].decode()
    assert cfg.secret_key_file == tmp_path / "keys" / "ZJ-JX-01.key_secret"
    with pytest.raises(ConfigError, match=r"server\.secret_key_file = 'keys/absent.key_secret': no such file"):
        load_config(write(tmp_path, text.replace("ZJ-JX-01.key_secret", "absent.key_secret")))
    with pytest.raises(ConfigError, match=r"server\.server_public_key = 'keys/nope.key'"):
        load_config(write(tmp_path, text.replace("keys/server.key", "keys/nope.key")))


def test_curve_keys_go_together(tmp_path) -> None:
    path = write(tmp_path, GOOD.replace('[spool]', 'server_public_key = "' + "x" * 40 + '"\n[spool]'))
    with pytest.raises(ConfigError, match=r"server\.secret_key_file"):
        load_config(path)


def test_syntax_error_and_missing_file(tmp_path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[sensor\nid = 1"))
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.toml")


def test_local_fallback_profiles_equal_the_servers_fallback() -> None:
    from coordination.profiles import FALLBACK_PROFILES

    assert DEFAULT_PROFILES == FALLBACK_PROFILES
