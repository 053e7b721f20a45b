"""Server configuration (server.toml -> ServerConfig, flags win), profiles, and the server command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import free_port

from coordination.client import ApiClient
from coordination.config import ConfigError, ServerConfig, load_config
from coordination.profiles import FALLBACK_PROFILES, select_profiles, slug
from station_db.rules import load_rules

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "server.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_toml_is_parsed_into_typed_config_with_paths_relative_to_the_file(tmp_path):
    cfg = load_config(write(tmp_path, """
[server]
data_dir = "d"
sensors_addr = "tcp://127.0.0.1:6000"
stations = "st.db"
[ingest]
batch_max_messages = 100
tick_interval_s = 0.5
[storage]
compression = "gzip"
max_rows = 8
max_delay_s = 0.5
[engine]
group_window_s = 0.5
identity_check_below = 0.8
[tdoa]
on_open = true
identity_checks = true
[[profile]]
name = "pmr446"
f_start_hz = 446.0e6
f_stop_hz = 446.2e6
bin_hz = 3125.0
revisit_s = 2.0
"""))
    assert cfg.data_dir == tmp_path / "d" and cfg.stations == tmp_path / "st.db"
    assert cfg.sensors_addr == "tcp://127.0.0.1:6000" and cfg.api_addr == ServerConfig().api_addr
    assert cfg.batch_max_messages == 100 and cfg.tick_interval_s == 0.5 and cfg.compression == "gzip"
    assert cfg.archive_max_rows == 8 and cfg.archive_max_delay_s == 0.5
    assert dict(cfg.engine) == {"group_window_s": 0.5, "identity_check_below": 0.8}
    assert cfg.tdoa_on_open and cfg.tdoa_identity_checks and not ServerConfig().tdoa_identity_checks
    (p,) = cfg.profiles
    assert p.name == "pmr446" and p.revisit_s == 2.0 and p.detector == "mean"


def test_flags_win_over_the_file(tmp_path):
    path = write(tmp_path, '[server]\napi_addr = "tcp://127.0.0.1:7001"\ndata_dir = "x"\n')
    cfg = load_config(path, api_addr="tcp://127.0.0.1:7002", data_dir=tmp_path / "y", pub_addr=None)
    assert cfg.api_addr == "tcp://127.0.0.1:7002" and cfg.data_dir == tmp_path / "y"
    assert cfg.pub_addr == ServerConfig().pub_addr


@pytest.mark.parametrize(("text", "needle"), [
    ("[server]\nport = 1\n", "server.port = 1: unknown key (known: "),
    ("[nonsense]\n", "nonsense = {}: unknown section"),
    ("[ingest]\nbatch_max_messages = 0\n", "ingest.batch_max_messages = 0: must be within [1, 100000]"),
    ("[ingest]\nbatch_max_messages = \"many\"\n", "ingest.batch_max_messages = 'many': must be an integer"),
    ("[storage]\ncompression = \"zip\"\n", "storage.compression = 'zip': must be one of lzf, gzip, none"),
    ("[storage]\nmax_rows = 0\n", "storage.max_rows = 0: must be within"),
    ("[server]\napi_addr = \"localhost:1\"\n", "server.api_addr = 'localhost:1': must start with tcp://"),
    ("[[profile]]\nname = \"a\"\nf_start_hz = 2e8\nf_stop_hz = 1e8\nbin_hz = 1e3\n", "profile[0]: "),
    ("[engine]\ngroup_window_s = \"2\"\n", "engine.group_window_s = '2': must be a number"),
    ("[tdoa]\nidentity_checks = 1\n", "tdoa.identity_checks = 1: must be"),
    ("[server\n", "(syntax): not valid TOML"),
])
def test_config_errors_name_file_key_and_value(tmp_path, text, needle):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert needle in str(err.value) and str(path) in str(err.value)


def test_profiles_come_from_rules_bands_with_the_band_raster():
    rules = load_rules()
    profiles = select_profiles((), rules)
    assert len(profiles) == len(rules.bands)
    by_name = {p.name: p for p in profiles}
    pmr = by_name[slug("PMR 400")]
    band = rules.by_name("PMR 400")
    assert (pmr.f_start_hz, pmr.f_stop_hz) == (band.f_lo_hz, band.f_hi_hz)
    assert pmr.channel_raster_hz == band.raster_hz and pmr.bin_hz == band.raster_hz / 4
    assert pmr.margin_db == band.margin_db
    assert select_profiles((), None) == FALLBACK_PROFILES
    assert select_profiles(FALLBACK_PROFILES[:1], rules) == FALLBACK_PROFILES[:1]


@pytest.mark.slow
def test_server_command_runs_answers_ping_and_stops_on_sigterm(tmp_path):
    ports = [free_port() for _ in range(3)]
    addrs = [f"tcp://127.0.0.1:{p}" for p in ports]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "borderwatch.cli", "server", "--data", str(tmp_path / "data"), "--sensors-addr",
         addrs[0], "--api-addr", addrs[1], "--pub-addr", addrs[2], "--insecure"],
        cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    try:
        with ApiClient(addrs[1], timeout_s=30) as api:
            assert api.result("ping")["pong"] is True
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        err = proc.stderr.read()
        assert f"api {addrs[1]}" in err and "WARNING: plain TCP" in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_server_command_reports_a_bad_config_in_one_line(tmp_path, capsys):
    from borderwatch.cli import main

    assert main(["server", "--config", str(write(tmp_path, "[server]\nport = 1\n"))]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "server.port = 1: unknown key" in err[0]
