"""The web view's TLS certificate: from config, or a self-signed one made for a demo.

The self-signed certificate is made with the ``openssl`` command line (Debian's openssl package,
on every machine this runs on) rather than a Python crypto package: one command, no new
dependency, and the result is an ordinary PEM pair an operator can inspect or replace with the
centre's own. It names ``localhost``, ``127.0.0.1`` and any extra host names given.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path


class CertificateError(RuntimeError):
    """No usable certificate; says what is missing and what to do."""


def ensure_self_signed(cert_file: Path, key_file: Path, hosts: Sequence[str] = (), days: int = 825) -> bool:
    """Make a self-signed EC P-256 certificate unless both files exist; True if one was made."""
    if cert_file.exists() and key_file.exists():
        return False
    openssl = shutil.which("openssl")
    if openssl is None:
        raise CertificateError("openssl not found: install it (Debian: apt-get install openssl) or give "
                               "cert_file/key_file of the centre's own certificate")
    names = ["localhost", "127.0.0.1", *hosts]
    san = ",".join(f"IP:{h}" if _is_ip(h) else f"DNS:{h}" for h in dict.fromkeys(names))
    cert_file.parent.mkdir(parents=True, exist_ok=True)
    key_file.parent.mkdir(parents=True, exist_ok=True)
    cmd = [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
           "-keyout", str(key_file), "-out", str(cert_file), "-days", str(days), "-subj",
           "/CN=borderwatch field view (self-signed)", "-addext", f"subjectAltName={san}"]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise CertificateError(f"openssl could not make a certificate: {done.stderr.strip()[-300:]}")
    os.chmod(key_file, 0o600)
    return True


def check_pair(cert_file: Path, key_file: Path) -> None:
    for p, what in ((cert_file, "certificate"), (key_file, "private key")):
        if not p.is_file():
            raise CertificateError(f"{what} file {p} not found (set [web] cert_file/key_file, or use "
                                   "--self-signed for a demo)")


def _is_ip(h: str) -> bool:
    try:
        ipaddress.ip_address(h)
    except ValueError:
        return False
    return True
