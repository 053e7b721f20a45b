"""The demo's web view for field teams: HTTPS with a self-signed certificate, one token per province.

Started next to the demo's server (its API and PUB, with the demo's console keys), on port 8443
when free (an ephemeral port otherwise). The tokens are made fresh in ``<out>/web/tokens`` at
every play and printed, so whoever watches the demo can log in as a province's team.
"""

from __future__ import annotations

import logging
import shutil
import socket
from dataclasses import dataclass, replace
from pathlib import Path

from coordination.keys import ClientKeys
from web.serve import WebServer, demo_config
from web.tls import ensure_self_signed
from web.tokens import TokenStore

log = logging.getLogger(__name__)

DEMO_PORT = 8443
PROVINCES = ("SH", "JS", "ZJ", "AH")


@dataclass
class DemoWeb:
    server: WebServer
    url: str
    tokens: dict[str, str]  # province -> token of its team

    def close(self) -> None:
        self.server.stop()


def start_demo_web(out_dir: Path, api: str, pub: str, keys: ClientKeys | None) -> DemoWeb:
    cfg = demo_config(out_dir, api, pub, None, None, port=DEMO_PORT)
    ensure_self_signed(cfg.cert_file, cfg.key_file)
    shutil.rmtree(cfg.tokens_dir, ignore_errors=True)  # tokens of an earlier play no longer let anyone in
    store = TokenStore(cfg.tokens_dir)
    tokens = {p: store.new(f"team-{p.lower()}", (p,))[0] for p in PROVINCES}
    if not _port_free(cfg.listen, DEMO_PORT):
        log.info("port %d is taken: the demo's web view uses an ephemeral port", DEMO_PORT)
        cfg = replace(cfg, port=0)
    server = WebServer(cfg, keys=keys).start()
    return DemoWeb(server, server.url, tokens)


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True
