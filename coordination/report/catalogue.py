"""The report's gettext catalogue tooling: extract the msgids, compile ``.po`` to ``.mo``.

``python -m coordination.report.catalogue check``   list msgids without a zh_CN translation
``python -m coordination.report.catalogue update``  add new msgids to the ``.po`` (empty msgstr)
``python -m coordination.report.catalogue compile`` write ``borderwatch.mo`` next to each ``.po``

Extraction walks the modules' syntax trees (calls of ``_``, ``N_`` and ``t`` with a literal
argument), which also sees calls inside f-strings, where ``xgettext`` is blind. The ``.mo`` writer
follows the GNU format (as CPython's ``Tools/i18n/msgfmt.py``) so :mod:`gettext` reads it.
"""

from __future__ import annotations

import ast
import struct
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from coordination.report.i18n import DOMAIN, LOCALE_DIR

PACKAGE_DIR = Path(__file__).resolve().parent
KEYWORDS = ("_", "N_", "t")


def find_marked_literals(paths: Iterable[Path], keywords: Sequence[str]) -> dict[str, list[str]]:
    """msgid -> the ``file:line`` places of every ``k("literal")`` call (k in keywords), in walk order.

    The one extractor of the project's gettext catalogues (this report's and the command line's,
    :mod:`borderwatch.i18n_build`), so both mark strings by the same rule: a non-empty string
    literal as the only argument.
    """
    found: dict[str, list[str]] = {}
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in keywords
                    and len(node.args) == 1 and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str) and node.args[0].value):
                found.setdefault(node.args[0].value, []).append(f"{path.name}:{node.lineno}")
    return found


def extract(paths: list[Path] | None = None) -> list[str]:
    """Every translatable literal of the report package, sorted, without repeats."""
    return sorted(find_marked_literals(paths or sorted(PACKAGE_DIR.glob("*.py")), KEYWORDS))


def _unquote(s: str) -> str:
    return ast.literal_eval(s)


def read_po(path: Path) -> dict[str, str]:
    """msgid -> msgstr of a ``.po`` file (single-line or continued strings; the header has msgid "")."""
    out: dict[str, str] = {}
    msgid = msgstr = None
    section = None
    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            if line.startswith("msgid "):
                if msgid is not None and msgstr is not None:
                    out[msgid] = msgstr
                msgid, msgstr, section = _unquote(line[6:]), None, "id"
            elif line.startswith("msgstr "):
                msgstr, section = _unquote(line[7:]), "str"
            elif line.startswith('"'):
                if section == "id" and msgid is not None:
                    msgid += _unquote(line)
                elif section == "str" and msgstr is not None:
                    msgstr += _unquote(line)
            else:
                raise ValueError(f"unexpected line {line[:40]!r}")
        except (ValueError, SyntaxError) as exc:
            raise ValueError(f"{path}:{lineno}: {exc}") from exc
    if msgid is not None and msgstr is not None:
        out[msgid] = msgstr
    return out


def _po_quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def write_po(path: Path, entries: dict[str, str], lang: str) -> None:
    header = (f"Project-Id-Version: borderwatch reports\\nLanguage: {lang}\\n"
              "MIME-Version: 1.0\\nContent-Type: text/plain; charset=UTF-8\\nContent-Transfer-Encoding: 8bit\\n")
    lines = [f"# borderwatch report catalogue ({lang}); msgids extracted by coordination.report.catalogue",
             'msgid ""', f'msgstr "{header}"', ""]
    for k in sorted(e for e in entries if e):
        lines += [f"msgid {_po_quote(k)}", f"msgstr {_po_quote(entries[k])}", ""]
    path.write_text("\n".join(lines), encoding="utf-8")


def write_mo(entries: dict[str, str], path: Path) -> None:
    """GNU ``.mo`` (little-endian, no hash table) of the translated entries plus the header."""
    items = sorted((k.encode("utf-8"), v.encode("utf-8")) for k, v in entries.items() if v)
    ids = b""
    strs = b""
    offsets = []
    for k, v in items:
        offsets.append((len(ids), len(k), len(strs), len(v)))
        ids += k + b"\0"
        strs += v + b"\0"
    n = len(items)
    keystart = 7 * 4 + 16 * n
    valuestart = keystart + len(ids)
    koffsets: list[int] = []
    voffsets: list[int] = []
    for o1, l1, o2, l2 in offsets:
        koffsets += [l1, o1 + keystart]
        voffsets += [l2, o2 + valuestart]
    out = struct.pack("Iiiiiii", 0x950412DE, 0, n, 7 * 4, 7 * 4 + n * 8, 0, 0)
    out += struct.pack(f"{len(koffsets)}i", *koffsets) + struct.pack(f"{len(voffsets)}i", *voffsets) + ids + strs
    path.write_bytes(out)


def po_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def main(argv: list[str]) -> int:
    cmd = argv[0] if argv else "check"
    ids = extract()
    langs = sorted(p.name for p in LOCALE_DIR.iterdir() if p.is_dir()) if LOCALE_DIR.is_dir() else []
    missing_any = False
    for lang in langs:
        po = po_path(lang)
        entries = read_po(po) if po.exists() else {"": ""}
        if cmd == "update":
            for k in ids:
                entries.setdefault(k, "")
            write_po(po, entries, lang)
        missing = [k for k in ids if not entries.get(k)]
        for k in missing:
            sys.stderr.write(f"{lang}: untranslated: {k!r}\n")
        missing_any |= bool(missing)
        if cmd == "compile":
            write_mo(entries, po.with_suffix(".mo"))
    return 1 if missing_any and cmd == "check" else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
