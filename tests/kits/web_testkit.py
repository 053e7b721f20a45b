"""The web view running for real: HTTPS (self-signed certificate) in front of the case-API stand-in.

``web_world`` gives a running web server, its stand-in API, and tokens for a JS team, an SH team
and a revoked ZJ team; ``Https`` is a small client over ``http.client`` that trusts the test
certificate, does not follow redirects (the tests look at them) and can post multipart files.
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

from case_testkit import T0, alert_doc
from caseapi_testkit import CaseApiStandIn

from web.config import WebConfig
from web.serve import WebServer
from web.tls import ensure_self_signed
from web.tokens import TokenStore

JS_SH_ALERT = "20261203T063000-js000001"
JS_MINOR_ALERT = "20261203T064000-js000002"
ZJ_ALERT = "20261203T065000-zj000003"

SENSORS = [
    {"sensor_id": "js-kunshan", "province": "JS", "lat": 31.38, "lon": 120.98},
    {"sensor_id": "zj-jiaxing", "province": "ZJ", "lat": 30.75, "lon": 120.76},
]


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


@dataclass
class WebWorld:
    web: WebServer
    api: CaseApiStandIn
    client: Https
    tokens: dict[str, str]
    token_store: TokenStore
    cert_file: Path

    def case_json(self, case_id: str) -> dict:
        return json.loads(json.dumps(self.api.desk.get(case_id).to_json()))


def start_web_world(tmp: Path) -> Iterator[WebWorld]:
    cert, key = tmp / "tls" / "web.crt", tmp / "tls" / "web.key"
    ensure_self_signed(cert, key)
    store = TokenStore(tmp / "tokens")
    tokens = {name: store.new(name, provs)[0] for name, provs in
              (("js-team", ("JS",)), ("sh-team", ("SH",)), ("zj-team", ("ZJ",)))}
    store.revoke("zj-team")
    with CaseApiStandIn(world_alerts(), tmp / "attachments", SENSORS) as api:
        cfg = WebConfig(listen="127.0.0.1", port=0, cert_file=cert, key_file=key, tokens_dir=tmp / "tokens",
                        api=api.api_addr, pub=api.pub_addr)
        with WebServer(cfg) as web:
            yield WebWorld(web, api, Https(web.port, cert), tokens, store, cert)
