"""Run the web view: API client, token store, live feed and the HTTPS server, wired from a WebConfig.

``WebServer`` runs uvicorn on its own thread so the demo and the tests can start it next to a
monitoring centre and stop it cleanly; ``borderwatch web serve`` runs it in the foreground.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import replace
from pathlib import Path

import uvicorn

from coordination.client import ApiClient
from coordination.keys import ClientKeys, load_client_keys
from web.app import WebContext, create_app
from web.backend import ApiBackend
from web.config import WebConfig
from web.live import LiveHub, pump_alerts
from web.tls import check_pair
from web.tokens import TokenStore

log = logging.getLogger(__name__)


class WebServer:
    """The web view over HTTPS on a background thread; ``url`` once started."""

    def __init__(self, config: WebConfig, *, keys: ClientKeys | None = None) -> None:
        """``keys``: the API/PUB client keys when the embedder holds them already (the demo); else from config."""
        check_pair(config.cert_file, config.key_file)
        self.config = config
        if keys is None and config.keys_dir is not None:
            keys = load_client_keys(config.keys_dir, config.key_name)
        self.client = ApiClient(config.api, timeout_s=5.0, client_id="web", keys=keys)
        self.backend = ApiBackend(self.client)
        self.hub = LiveHub()

        async def pump(stop: asyncio.Event) -> None:
            await pump_alerts(self.hub, config.pub, config.provinces, keys, stop)

        self.app = create_app(WebContext(self.backend, TokenStore(config.tokens_dir), self.hub, background=pump))
        self._server = uvicorn.Server(uvicorn.Config(
            self.app, host=config.listen, port=config.port, ssl_certfile=str(config.cert_file),
            ssl_keyfile=str(config.key_file), log_level="warning", lifespan="on", timeout_graceful_shutdown=2))
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.config.listen in ("0.0.0.0", "::") else self.config.listen
        return f"https://{host}:{self.port}/"

    @property
    def port(self) -> int:
        servers = getattr(self._server, "servers", None) or []
        for s in servers:
            for sock in s.sockets:
                return int(sock.getsockname()[1])
        return self.config.port

    def start(self, timeout_s: float = 10.0) -> WebServer:
        self._thread = threading.Thread(target=self._server.run, name="web", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self._server.should_exit = True
                self.backend.close()
                raise RuntimeError(f"the web view did not start on {self.config.listen}:{self.config.port}")
            time.sleep(0.05)
        return self

    def run(self) -> None:
        """Serve in the foreground until interrupted."""
        self._server.run()
        self.backend.close()

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        self.backend.close()

    def __enter__(self) -> WebServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def with_port(config: WebConfig, port: int) -> WebConfig:
    return replace(config, port=port)


def demo_config(out_dir: Path, api: str, pub: str, keys_dir: Path | None, key_name: str | None,
                port: int = 8443) -> WebConfig:
    """A config for the demo: self-signed certificate and tokens under ``OUT/web``."""
    d = out_dir / "web"
    return WebConfig(listen="127.0.0.1", port=port, cert_file=d / "tls" / "web.crt", key_file=d / "tls" / "web.key",
                     tokens_dir=d / "tokens", api=api, pub=pub, keys_dir=keys_dir, key_name=key_name)
