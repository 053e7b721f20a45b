"""Fixtures of the coordination tests that live in shared kits (tests/kits)."""

from security_testkit import secure  # noqa: F401  (a CURVE-secured server on loopback, its keys, a context)
