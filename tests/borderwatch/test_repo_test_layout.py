"""The tests folder keeps the layout tests/README.md states: mirrored packages, unique names, kits."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
AREAS = {"tomlconf", "dsp", "sdr", "coordination", "station_db", "gui", "web", "borderwatch", "kits"}


def _test_modules() -> list[Path]:
    return sorted(p for p in TESTS.rglob("test_*.py") if "__pycache__" not in p.parts)


def test_top_level_folders_are_the_packages_and_the_kits():
    folders = {p.name for p in TESTS.iterdir() if p.is_dir() and not p.name.startswith((".", "__"))}
    assert folders == AREAS
    assert not [p.name for p in TESTS.glob("test_*.py")], "tests belong in the folder of their package"


def test_test_file_basenames_are_unique():
    seen: dict[str, Path] = {}
    clashes = []
    for p in _test_modules():
        if p.name in seen:
            clashes.append(f"{seen[p.name].relative_to(TESTS)} and {p.relative_to(TESTS)}")
        seen[p.name] = p
    assert len(seen) > 50
    assert clashes == []


def test_kits_are_named_topic_testkit_and_hold_no_tests():
    kits = sorted((TESTS / "kits").glob("*.py"))
    assert kits, "no kits found"
    assert [k.name for k in kits if not k.name.endswith("_testkit.py")] == []
    for k in kits:
        tree = ast.parse(k.read_text(encoding="utf-8"))
        tests = [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")]
        assert tests == [], f"{k.name} defines tests"


def test_no_test_module_imports_another_test_module():
    names = {p.stem for p in _test_modules()}
    offenders = []
    for p in _test_modules():
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                mods = [node.module]
            elif isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            else:
                continue
            offenders += [f"{p.relative_to(TESTS)} imports {m}" for m in mods
                          if m.split(".")[-1] in names or m.startswith("tests.")]
    assert offenders == [], "share through tests/kits/<topic>_testkit.py instead"
