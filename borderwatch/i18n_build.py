"""The command line's gettext catalogue: extract the msgids, keep the ``.po`` current, compile ``.mo``.

``python -m borderwatch.i18n_build check``    list msgids without a translation (exit 1 if any)
``python -m borderwatch.i18n_build update``   add new msgids to each ``.po`` (empty msgstr), drop gone ones
``python -m borderwatch.i18n_build compile``  write ``borderwatch.mo`` next to each ``.po``

The compiled ``.mo`` files are committed beside their ``.po`` (so ``pip install`` and ``make test``
need no build step); ``tests/borderwatch/test_i18n_catalogues.py`` fails when one is out of date. Extraction
walks the syntax trees of ``borderwatch/*.py`` for ``_("...")`` and ``N_("...")`` with a literal
argument (messages with values use ``_("... {name} ...").format(name=...)``, never f-strings).
The extractor, the ``.po`` reader and the GNU ``.mo`` writer are the report's
(:mod:`coordination.report.catalogue`).
"""

from __future__ import annotations

import sys
from pathlib import Path

from borderwatch.i18n import DOMAIN, LOCALE_DIR
from coordination.report.catalogue import find_marked_literals, read_po, write_mo

PACKAGE_DIR = Path(__file__).resolve().parent
KEYWORDS = ("_", "N_")


def extract(paths: list[Path] | None = None) -> dict[str, list[str]]:
    """msgid -> the ``file:line`` places it is used, for every marked literal of the CLI package."""
    return find_marked_literals(paths or sorted(PACKAGE_DIR.glob("*.py")), KEYWORDS)


def po_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def mo_path(lang: str) -> Path:
    return po_path(lang).with_suffix(".mo")


def languages() -> list[str]:
    return sorted(p.name for p in LOCALE_DIR.iterdir() if p.is_dir()) if LOCALE_DIR.is_dir() else []


def _quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'


def render_po(entries: dict[str, str], places: dict[str, list[str]], lang: str) -> str:
    """The ``.po`` text: header, then one entry per msgid in extraction order (sorted), places as comments."""
    header = (f"Project-Id-Version: borderwatch command line\\nLanguage: {lang}\\nMIME-Version: 1.0\\n"
              "Content-Type: text/plain; charset=UTF-8\\nContent-Transfer-Encoding: 8bit\\n"
              "Plural-Forms: nplurals=1; plural=0;\\n")
    out = [f"# borderwatch command-line catalogue ({lang}); msgids extracted by borderwatch.i18n_build",
           'msgid ""', f'msgstr "{header}"', ""]
    for msgid in sorted(k for k in entries if k):
        out += [f"#: {' '.join(places.get(msgid, []))}", f"msgid {_quote(msgid)}",
                f"msgstr {_quote(entries[msgid])}", ""]
    return "\n".join(out)


def compiled_entries(lang: str) -> dict[str, str]:
    """What the ``.mo`` must hold for ``lang``: the ``.po``'s entries (header included)."""
    return read_po(po_path(lang))


def main(argv: list[str]) -> int:
    cmd = argv[0] if argv else "check"
    if cmd not in ("check", "update", "compile"):
        sys.stderr.write(f"usage: python -m borderwatch.i18n_build check|update|compile (not {cmd!r})\n")
        return 2
    places = extract()
    missing_any = False
    for lang in languages():
        po = po_path(lang)
        entries = read_po(po) if po.exists() else {}
        if cmd == "update":
            kept = {k: entries.get(k, "") for k in places}
            po.write_text(render_po(kept, places, lang), encoding="utf-8")
            entries = read_po(po)
        missing = [k for k in places if not entries.get(k)]
        for k in missing:
            sys.stderr.write(f"{lang}: untranslated: {k!r} ({' '.join(places[k])})\n")
        missing_any |= bool(missing)
        if cmd == "compile":
            write_mo(entries, mo_path(lang))
    return 1 if missing_any and cmd == "check" else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
