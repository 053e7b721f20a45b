#!/usr/bin/env python3
"""Keep the console's Qt catalogues current: ``lupdate`` the sources into the ``.ts``, ``lrelease`` to ``.qm``.

Qt's own tool chain (shipped with PySide6 as ``pyside6-lupdate`` / ``pyside6-lrelease``) does the
work; this script only names the files. Translators edit ``gui/data/borderwatch_<lang>.ts`` (Qt
Linguist: ``pyside6-linguist``), then run ``compile``. The ``.qm`` is committed beside the ``.ts``
so an installed console needs no build step; ``tests/gui/test_i18n_console.py`` fails when either is
stale or a string has no translation.

Usage: python tools/console_catalogue.py update|compile|all [LANG ...]   (default: every .ts)
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GUI = ROOT / "gui"
DATA = GUI / "data"
PREFIX = "borderwatch_"


def qt_tool(name: str) -> str:
    """Path of ``pyside6-<name>`` next to the running Python (the venv), else on PATH."""
    exe = Path(sys.executable).parent / f"pyside6-{name}"
    found = str(exe) if exe.exists() else shutil.which(f"pyside6-{name}")
    if found is None:
        raise SystemExit(f"pyside6-{name} not found: install PySide6 (pip install -e .)")
    return found


def ts_path(lang: str) -> Path:
    return DATA / f"{PREFIX}{lang}.ts"


def qm_path(lang: str) -> Path:
    return DATA / f"{PREFIX}{lang}.qm"


def sources() -> list[str]:
    return [str(p) for p in sorted(GUI.glob("*.py"))]


def update(lang: str, ts: Path | None = None) -> Path:
    """Merge the sources' strings into the ``.ts`` (new ones unfinished, vanished ones dropped)."""
    ts = ts or ts_path(lang)
    subprocess.run([qt_tool("lupdate"), *sources(), "-ts", str(ts), "-no-obsolete", "-locations", "none",
                    "-target-language", lang, "-silent"], check=True, timeout=300)
    return ts


def compile_qm(lang: str, ts: Path | None = None, qm: Path | None = None) -> Path:
    qm = qm or qm_path(lang)
    subprocess.run([qt_tool("lrelease"), str(ts or ts_path(lang)), "-qm", str(qm), "-silent"], check=True,
                   timeout=300)
    return qm


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("update", "compile", "all"):
        sys.stderr.write(__doc__.strip().splitlines()[-1] + "\n")
        return 2
    langs = argv[1:] or sorted(p.stem.removeprefix(PREFIX) for p in DATA.glob(f"{PREFIX}*.ts"))
    for lang in langs:
        if argv[0] in ("update", "all"):
            update(lang)
        if argv[0] in ("compile", "all"):
            compile_qm(lang)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
