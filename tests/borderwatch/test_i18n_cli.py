"""The command line in Chinese: --help, argparse and command errors, progress lines; --json stays neutral."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from station_testkit import chinese_stations

from borderwatch import i18n
from borderwatch.cli import main
from station_db.exchange import write_stations


@pytest.fixture(autouse=True)
def english_afterwards(monkeypatch: pytest.MonkeyPatch):
    for name in ("LC_ALL", "LC_MESSAGES", "LANGUAGE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    yield
    i18n.set_language("en")


def help_text(argv: list[str], capsys: pytest.CaptureFixture) -> str:
    with pytest.raises(SystemExit) as info:
        main([*argv, "--help"])
    assert info.value.code == 0
    return capsys.readouterr().out


def test_help_in_chinese_with_lang_option(capsys: pytest.CaptureFixture) -> None:
    out = help_text(["--lang", "zh_CN", "stations", "import"], capsys)
    assert out.startswith("用法：borderwatch stations import")
    for text in ("位置参数", "选项", "显示本帮助信息并退出", "文件中台站所属的省份",
                 "平台管理员：载入包含多个省份台站的文件"):
        assert text in out
    assert "show this help" not in out and "the province whose stations" not in out


def test_top_level_help_lists_commands_in_chinese(capsys: pytest.CaptureFixture) -> None:
    out = help_text(["--lang", "zh_CN"], capsys)
    assert "跨省无线电频谱监测与频率协调。" in out
    assert "共享台站数据库：导入、导出、查询、边界核查" in out
    assert "[--lang en|zh_CN]" in out


@pytest.mark.parametrize(("env", "expected"), [
    ({"LANG": "zh_CN.UTF-8"}, "zh_CN"),
    ({"LANG": "zh_CN.GB18030"}, "zh_CN"),
    ({"LANG": "en_GB.UTF-8"}, "en"),
    ({"LANG": "fr_FR.UTF-8"}, "en"),
    ({"LANG": "en_US.UTF-8", "LC_MESSAGES": "zh_CN.UTF-8"}, "zh_CN"),
    ({"LANG": "zh_CN.UTF-8", "LC_ALL": "C"}, "en"),  # LC_ALL wins over everything
    ({}, "en"),
])
def test_language_follows_the_locale_variables_in_posix_order(env: dict[str, str], expected: str) -> None:
    assert i18n.language_from_environment(env) == expected


def test_chinese_locale_gives_chinese_help_and_lang_en_overrides(monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    assert "导入、导出、查询、边界核查" in help_text([], capsys)
    out = help_text(["--lang", "en"], capsys)
    assert "shared station database: import, export, query" in out and "导入" not in out


def test_argparse_errors_in_chinese(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--lang", "zh_CN", "stations", "import"])
    assert info.value.code == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("用法：")
    assert err[-1].startswith("borderwatch stations import：错误：缺少以下必需参数：")
    with pytest.raises(SystemExit):
        main(["--lang", "zh_CN", "stations", "query", "--freq", "abc"])
    assert "参数 --freq：'abc' 不是频率（单位 Hz，或带 k/M/G：410.2125M）" in capsys.readouterr().err


def test_unknown_lang_is_a_usage_error(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--lang", "fr", "stations", "query"])
    assert info.value.code == 2
    assert "language 'fr' is not available (choose one of en, zh_CN)" in capsys.readouterr().err


def test_command_errors_and_progress_in_chinese(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    db = str(tmp_path / "s.sqlite")
    assert main(["--lang", "zh_CN", "stations", "query", "--near", "31.2,121.4", "--db", db]) == 1
    assert capsys.readouterr().err == "borderwatch stations query: --near 和 --radius-km 必须同时给出\n"
    gb = tmp_path / "gb.csv"
    write_stations(gb, chinese_stations())
    gb.write_bytes(gb.read_text(encoding="utf-8").encode("gb18030"))
    assert main(["--lang", "zh_CN", "stations", "import", str(gb), "--all-provinces", "--db", db]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{gb}：按 GB18030 编码读取"
    assert out[1] == f"AH：从 {gb} 读入 1 个台站：新增 1，更新 0，未变 0，删除 0（导入 #1）"
    assert main(["--lang", "zh_CN", "stations", "export", "-o", str(tmp_path / "x.csv"), "--db", db]) == 0
    assert capsys.readouterr().out == f"已导出 4 个台站到 {tmp_path / 'x.csv'}\n"
    assert main(["--lang", "zh_CN", "stations", "import", str(tmp_path / "missing.csv"), "--province", "SH",
                 "--db", db]) == 1
    assert capsys.readouterr().err.splitlines()[-1] == f"{tmp_path / 'missing.csv'}：1 处错误；未导入任何内容"


def test_json_output_is_language_neutral(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    db = str(tmp_path / "s.sqlite")
    src = tmp_path / "s.csv"
    write_stations(src, chinese_stations())
    assert main(["stations", "import", str(src), "--all-provinces", "--db", db]) == 0
    capsys.readouterr()
    outputs = {}
    for lang in ("en", "zh_CN"):
        assert main(["--lang", lang, "stations", "query", "--json", "--db", db]) == 0
        outputs[lang] = capsys.readouterr().out
    assert outputs["en"] == outputs["zh_CN"]
    rows = json.loads(outputs["zh_CN"])
    assert {r["province"] for r in rows} == {"SH", "JS", "ZJ", "AH"}  # codes, never 上海 ...
    assert {r["service"] for r in rows} == {"maritime", "land_mobile", "aeronautical", "broadcast"}


def test_lang_may_follow_the_subcommand(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = help_text(["stations", "import", "--lang", "zh_CN"], capsys)
    assert out.startswith("用法：") and "文件中台站所属的省份" in out
    assert "显示本帮助信息并退出" in help_text(["demo", "--lang", "zh_CN"], capsys)
    db = str(tmp_path / "s.sqlite")
    assert main(["stations", "query", "--near", "31.2,121.4", "--db", db, "--lang", "zh_CN"]) == 1
    assert "必须同时给出" in capsys.readouterr().err
    assert main(["--lang", "zh_CN", "stations", "query", "--db", db]) == 0  # a subcommand never resets it
    assert capsys.readouterr().out.endswith("0 个台站\n")


def test_lang_reaches_every_level_and_a_subcommands_own_lang_is_kept(capsys: pytest.CaptureFixture) -> None:
    for argv in (["tasking"], ["tasking", "list"], ["campaign", "add"], ["cases", "list"], ["coord", "respond"]):
        assert "--lang en|zh_CN" in help_text(argv, capsys), argv
    assert help_text(["tasking", "list", "--lang", "zh_CN"], capsys).startswith("用法：")
    report = help_text(["report"], capsys)
    assert "[--lang LANG]" in report and "en|zh_CN" not in report  # report's own option (its report's language)
