"""The web view running for real: HTTPS (self-signed certificate) in front of a real coordination server.

``start_web_world`` gives a running web server, the server it is a client of (a scripted engine
raises the alerts; the server opens cases for the major ones itself), sensors of JS and ZJ, and
tokens for a JS team, an SH team and a revoked ZJ team; ``Https`` is a small client over
``http.client`` that trusts the test certificate, does not follow redirects (the tests look at
them) and can post multipart files.
"""

from __future__ import annotations

import http.client
import json
import ssl
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import zmq
from case_testkit import T0, alert_doc
from server_testkit import FakeEngine, SimSensor, loopback_config

from coordination.alerts import Alert, AlertEvent
from coordination.client import ApiClient
from coordination.server import Server
from web.config import WebConfig
from web.serve import WebServer
from web.tls import ensure_self_signed
from web.tokens import TokenStore

JS_SH_ALERT = "20261203T063000-js000001"
JS_MINOR_ALERT = "20261203T064000-js000002"
ZJ_ALERT = "20261203T065000-zj000003"



def world_alerts() -> list[dict]:
    return [
        alert_doc(JS_SH_ALERT, source=("JS",), affected=("SH",), severity="major"),
        alert_doc(JS_MINOR_ALERT, source=("JS",), affected=(), severity="minor", lat=32.05, lon=119.4,
                  f_center_hz=433_920_000.0, t=T0 + timedelta(minutes=10)),
        alert_doc(ZJ_ALERT, source=("ZJ",), affected=("AH",), severity="critical", lat=30.6, lon=119.5,
                  t=T0 + timedelta(minutes=20)),
    ]


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class Https:
    def __init__(self, port: int, cafile: Path) -> None:
        self.port = port
        self.ssl = ssl.create_default_context(cafile=str(cafile))

    def request(self, method: str, path: str, *, token: str | None = None, cookie: str | None = None,
                form: Mapping[str, str] | None = None, file: tuple[str, str, bytes] | None = None,
                accept: str = "text/html") -> Response:
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ssl, timeout=20)
        headers = {"Accept": accept}
        body: bytes | None = None
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if cookie is not None:
            headers["Cookie"] = cookie
        if file is not None:
            boundary = uuid.uuid4().hex
            field, name, data = file
            parts = [f"--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n".encode()
                     for k, v in (form or {}).items()]
            parts.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{name}\"\r\n"
                         "Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n")
            body = b"".join(parts) + f"--{boundary}--\r\n".encode()
            headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
        elif form is not None:
            body = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        out = Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        conn.close()
        return out

    def get(self, path: str, **kw) -> Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw) -> Response:
        return self.request("POST", path, **kw)


class CentreWorld:
    """The coordination server with a scripted engine and two connected sensors (js-01, zj-01)."""

    def __init__(self, tmp: Path, alerts: list[dict]) -> None:
        self.engine = FakeEngine()
        self.server = Server(loopback_config(tmp), engine=self.engine).start()
        self.ctx = zmq.Context()
        self.js = SimSensor(self.ctx, self.server.endpoints["sensors"], "js-01", "JS")
        self.js.hello()
        self.zj = SimSensor(self.ctx, self.server.endpoints["sensors"], "zj-01", "ZJ")
        self.zj.hello()
        self._seq = 0
        self.publish(*alerts)

    @property
    def api_addr(self) -> str:
        return self.server.endpoints["api"]

    @property
    def pub_addr(self) -> str:
        return self.server.endpoints["pub"]

    def publish(self, *docs: dict) -> None:
        """Have the engine raise (or update) these alerts: persisted, published, cases opened."""
        self.engine.queued = [AlertEvent(d.get("event", "opened"), Alert.from_json(d)) for d in docs]
        self._seq += 1
        self.js.send(self.js.emissions(self._seq))
        self.js.wait_acked({self._seq})

    def alert(self, alert_id: str) -> dict:
        with ApiClient(self.api_addr) as api:
            return dict(api.result("alert", {"id": alert_id}))

    def case_json(self, case_id: str) -> dict:
        assert self.server.cases is not None
        return json.loads(json.dumps(self.server.cases.get(case_id).to_json()))

    def n_events(self, case_id: str) -> int:
        assert self.server.cases is not None
        return self.server.cases.get(case_id).n_events

    def close(self) -> None:
        self.js.close()
        self.zj.close()
        self.server.stop()
        self.ctx.destroy(linger=0)


@dataclass
class WebWorld:
    web: WebServer
    centre: CentreWorld
    client: Https
    tokens: dict[str, str]
    token_store: TokenStore
    cert_file: Path


def start_web_world(tmp: Path) -> Iterator[WebWorld]:
    cert, key = tmp / "tls" / "web.crt", tmp / "tls" / "web.key"
    ensure_self_signed(cert, key)
    store = TokenStore(tmp / "tokens")
    tokens = {name: store.new(name, provs)[0] for name, provs in
              (("js-team", ("JS",)), ("sh-team", ("SH",)), ("zj-team", ("ZJ",)))}
    store.revoke("zj-team")
    centre = CentreWorld(tmp / "centre", world_alerts())
    try:
        cfg = WebConfig(listen="127.0.0.1", port=0, cert_file=cert, key_file=key, tokens_dir=tmp / "tokens",
                        api=centre.api_addr, pub=centre.pub_addr)
        with WebServer(cfg) as web:
            yield WebWorld(web, centre, Https(web.port, cert), tokens, store, cert)
    finally:
        centre.close()
