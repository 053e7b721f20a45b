"""``borderwatch console``: screenshots from an archive and from a live server, one-line user errors."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import zmq
from gui_testkit import write_archive
from PySide6.QtGui import QImage
from server_testkit import FakeEngine, SimSensor, loopback_config

from borderwatch.cli import main
from coordination.server import Server


@contextmanager
def streaming_sensor(make_sensor: Callable[[zmq.Context], Any]) -> Iterator[None]:
    """A sensor (made on its own ZeroMQ context) sending a spectrum every 20 ms on a thread until the block ends.

    Up to 2000 sweeps; on exit the thread is stopped and joined (5 s) and the context destroyed.
    """
    ctx = zmq.Context()
    stop = threading.Event()

    def sensor_loop() -> None:
        s = make_sensor(ctx)
        s.hello()
        seq = 1
        while not stop.is_set() and seq < 2000:
            s.send(s.spectrum(seq))
            s.pump(0)
            seq += 1
            time.sleep(0.02)
        s.close()

    t = threading.Thread(target=sensor_loop, daemon=True)
    t.start()
    try:
        yield
    finally:
        stop.set()
        t.join(5)
        ctx.destroy(linger=0)


def test_screenshot_of_an_archive_replay(qapp, tmp_path, capsys):
    data_dir = write_archive(tmp_path / "data")
    out = tmp_path / "shots" / "archive.png"
    assert main(["console", "--archive", str(data_dir), "--screenshot", str(out), "--size", "1200x800"]) == 0
    img = QImage(str(out))
    assert (img.width(), img.height()) == (1200, 800)
    # not a blank picture: many distinct colours (plots, map, table)
    colours = {img.pixel(x, y) for x in range(0, 1200, 7) for y in range(0, 800, 7)}
    assert len(colours) > 50
    assert "screenshot saved" in capsys.readouterr().err


def test_screenshot_of_a_live_server_after_data_arrived(qapp, tmp_path):
    srv = Server(loopback_config(tmp_path), engine=FakeEngine()).start()
    try:
        with streaming_sensor(lambda ctx: SimSensor(ctx, srv.endpoints["sensors"])):
            out = tmp_path / "live.png"
            api = srv.endpoints["api"]
            rc = main(["console", "--server", api, "--pub", srv.endpoints["pub"], "--screenshot", str(out),
                       "--wait", "15"])
            assert rc == 0 and QImage(str(out)).width() == 1600
    finally:
        srv.stop()


@pytest.mark.parametrize(("argv", "message"), [
    (["--server", "udp://x:1"], "only tcp:// is supported"),
    (["--server", "host:port"], "is not a number"),
    (["--archive", "/nonexistent/dir"], "no such directory"),
    (["--archive", ".", "--size", "big"], "expected WIDTHxHEIGHT"),
])
def test_user_errors_are_one_line(argv, message, capsys):
    assert main(["console", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_console_with_curve_keys_gets_data_from_a_secured_server(qapp, tmp_path):
    from security_testkit import CurveSensor, make_keys, start_server

    keys = make_keys(tmp_path / "keys")
    srv, _engine = start_server(tmp_path, keys)
    try:
        with streaming_sensor(lambda ctx: CurveSensor(ctx, srv.endpoints["sensors"], keys.client("js-01"))):
            common = ["console", "--server", srv.endpoints["api"], "--pub", srv.endpoints["pub"]]
            assert main([*common, "--keys", str(keys.root), "--key-name", "ops", "--screenshot",
                         str(tmp_path / "secure.png"), "--wait", "15"]) == 0
            # without keys the secured server answers nothing: no data, screenshot saved anyway, exit 1
            assert main([*common, "--screenshot", str(tmp_path / "refused.png"), "--wait", "2"]) == 1
    finally:
        srv.stop()


def test_missing_client_key_is_a_one_line_error(tmp_path, capsys):
    from security_testkit import make_keys

    keys = make_keys(tmp_path / "keys")
    assert main(["console", "--server", "127.0.0.1:5561", "--keys", str(keys.root), "--key-name", "nobody"]) == 2
    err = capsys.readouterr().err
    assert "no secret key" in err and err.count("\n") == 1
