"""server.toml's [coordination] table: the request policy, checked at load, used by the server's desk."""

from __future__ import annotations

from pathlib import Path

import pytest
from server_testkit import T0, Clock, FakeEngine, loopback_config

from coordination.config import ConfigError, load_config
from coordination.server import Server
from station_db.repository import StationRepository
from station_db.rules import load_rules


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "server.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_request_policy_from_the_config_file(tmp_path: Path) -> None:
    text = '[coordination]\nanswer_days = 10\nreminder_days = 5\nsilence_means = "objected"\n'
    cfg = load_config(write(tmp_path, text))
    assert cfg.coordination == {"answer_days": 10, "reminder_days": 5, "silence_means": "objected"}


@pytest.mark.parametrize(("text", "message"), [
    ('silence_means = "maybe"', "silence_means='maybe': use one of agreed, objected"),
    ("answer_days = 0", "answer_days=0 must be a positive number"),
    ("deadline = 3", "deadline"),
])
def test_bad_request_policy_names_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, f"[coordination]\n{text}\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_the_server_desk_uses_the_configured_deadlines(tmp_path: Path) -> None:
    with StationRepository(tmp_path / "stations.db") as stations:
        srv = Server(loopback_config(tmp_path, coordination={"answer_days": 10, "reminder_days": 5}),
                     clock=Clock(T0), engine=FakeEngine(), stations=stations, rules=load_rules()).start()
        try:
            assert srv.coordination is not None
            policy = srv.coordination.policy
            assert (policy.answer_days, policy.reminder_days, policy.silence_means) == (10, 5, "agreed")
        finally:
            srv.stop()
