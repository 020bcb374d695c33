"""YAML reading: bombs, size, duplicates and syntax errors are one-line ConfigErrors."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from engine.config.loader import MAX_FILE_BYTES, Section, read_yaml, to_jsonable
from engine.errors import ConfigError

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "config"


def write(tmp_path: Path, text: str | bytes, name: str = "x.yaml") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def error_of(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        read_yaml(path, where="x.yaml")
    message = str(info.value)
    assert "\n" not in message
    assert info.value.exit_code == 2
    return message


def test_reads_plain_yaml(tmp_path: Path) -> None:
    data = read_yaml(write(tmp_path, "a: 1\nb: [x, 'y']\nc: {d: 2.5}\n"))
    assert data == {"a": 1, "b": ["x", "y"], "c": {"d": 2.5}}


def test_billion_laughs_is_refused() -> None:
    path = FIXTURES / "billion-laughs.yaml"
    with pytest.raises(ConfigError) as info:
        read_yaml(path, where="bomb.yaml")
    assert str(info.value) == "bomb.yaml: line 1: anchors and aliases (&, *) are not allowed"


def test_alias_alone_is_refused(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, "a: 1\nb: *x\n"))
    assert message.startswith("x.yaml: line 2: ")


def test_file_over_1_mb_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "a: '" + "x" * MAX_FILE_BYTES + "'\n")
    assert error_of(path) == f"x.yaml: file is larger than {MAX_FILE_BYTES} bytes"


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "[" * 100_000 + "]" * 100_000)
    assert error_of(path) == "x.yaml: line 1: nested deeper than 32 levels"


def test_duplicate_key_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "name: a\nchannel: {}\nname: b\n")
    assert error_of(path) == "x.yaml: line 3: duplicate key 'name'"


def test_malformed_yaml_is_one_line_with_line_number() -> None:
    with pytest.raises(ConfigError) as info:
        read_yaml(FIXTURES / "malformed.yaml", where="malformed.yaml")
    assert str(info.value).startswith("malformed.yaml: line 4: invalid YAML: ")
    assert "\n" not in str(info.value)


def test_unquoted_placeholder_hints_at_quoting(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, "body: [{{first_name}}]\n"))
    assert message.startswith("x.yaml: line 1: ")
    assert "quote placeholders" in message


def test_not_utf8(tmp_path: Path) -> None:
    assert error_of(write(tmp_path, b"a: \xff\xfe\n")).startswith("x.yaml: not UTF-8 text")


def test_missing_file(tmp_path: Path) -> None:
    assert error_of(tmp_path / "nope.yaml") == "x.yaml: No such file or directory"


def test_times_stay_strings_not_base_60(tmp_path: Path) -> None:
    data = read_yaml(write(tmp_path, "a: 10:00\nb: 09:30\nc: 1_000\nd: 0x10\ne: 1.5e+3\nf: .5\n"))
    assert data == {"a": "10:00", "b": "09:30", "c": 1000, "d": 16, "e": 1500.0, "f": 0.5}


def test_timestamps_keep_their_timezone(tmp_path: Path) -> None:
    data = read_yaml(write(tmp_path, "t: 2026-03-01T09:00:00+01:00\n"))
    assert data["t"] == dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)


def test_section_unknown_key_and_secret_hint() -> None:
    with pytest.raises(ConfigError) as info:
        Section("x.yaml", "channel", {"api_key": "abc"}, ("name", "api_key_env"))
    assert str(info.value).startswith("x.yaml: channel.api_key: unknown key (secrets are never")
    with pytest.raises(ConfigError) as info:
        Section("x.yaml", "", {"nmae": "a"}, ("name",))
    assert str(info.value) == "x.yaml: nmae: unknown key (allowed: name)"


def test_section_not_a_mapping() -> None:
    with pytest.raises(ConfigError) as info:
        Section("x.yaml", "options", [1, 2], ("a",))
    assert str(info.value) == "x.yaml: options: must be a mapping, got a list"


def test_to_jsonable_converts_times_and_tuples() -> None:
    data = {"t": dt.time(9, 5), "d": dt.datetime(2026, 1, 1, tzinfo=dt.UTC), "x": (1, 2)}
    assert to_jsonable(data) == {"t": "09:05", "d": "2026-01-01T00:00:00+00:00", "x": [1, 2]}
