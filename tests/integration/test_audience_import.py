"""`campaign audience import`: COPY, E.164, dedupe, invalid rows listed, bad files refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import cli, counts, fetch, run_isolated


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_text(text, encoding=encoding)
    return path


def test_import_normalizes_dedupes_and_lists_invalid(db_dsn: str, tmp_path: Path) -> None:
    csv_path = write(
        tmp_path / "a.csv",
        "phone,first_name,code\n"
        "+49 151 23456789,Anna,A1\n"
        "0151 23456789,Anna again,A2\n"  # same number, local format (DE)
        "+1 650 555 0123,Bob,B1\n"
        "not-a-number,Eve,E1\n"
        "+44 20 7946 0958,Zoë,Z1\n"
        "\n"
        "12,Short,S1\n",
    )
    res = cli("audience", "import", "spring", str(csv_path), "--default-region", "DE", dsn=db_dsn)
    assert res.code == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["imported"] == 3
    assert out["duplicates"] == 1
    assert [i["line"] for i in out["invalid"]] == [5, 8]
    assert all(i["reason"] for i in out["invalid"])
    rows = run_isolated(
        fetch(db_dsn, "SELECT phone, attrs::text AS attrs FROM recipients ORDER BY phone")
    )
    phones = [r["phone"] for r in rows]
    assert phones == ["+16505550123", "+442079460958", "+4915123456789"]
    anna = json.loads(rows[2]["attrs"])
    assert anna == {"first_name": "Anna", "code": "A1"}  # first line of a duplicate wins
    assert json.loads(rows[1]["attrs"])["first_name"] == "Zoë"


def test_reimport_adds_only_new_recipients(db_dsn: str, tmp_path: Path) -> None:
    first = write(tmp_path / "1.csv", "phone\n+4915123456789\n")
    second = write(tmp_path / "2.csv", "phone\n+4915123456789\n+4915123456790\n")
    assert cli("audience", "import", "x", str(first), dsn=db_dsn).code == 0
    out = json.loads(cli("audience", "import", "x", str(second), dsn=db_dsn).stdout)
    assert (out["imported"], out["duplicates"]) == (1, 1)


def test_bom_and_custom_phone_column(db_dsn: str, tmp_path: Path) -> None:
    path = write(tmp_path / "bom.csv", "\ufeffmsisdn,name\n+4915123456789,A\n", encoding="utf-8")
    res = cli("audience", "import", "b", str(path), "--phone-column", "msisdn", dsn=db_dsn)
    assert res.code == 0, res.stderr
    assert json.loads(res.stdout)["imported"] == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "file is empty"),
        ("name,code\nAnna,A1\n", "no column 'phone'"),
        ("phone,phone\n+4915123456789,x\n", "appears twice"),
        ("phone,notes\n+4915123456789," + "x" * (2 << 20) + "\n", "line 2"),
    ],
    ids=["empty", "no-phone-column", "duplicate-column", "10MB-line"],
)
def test_bad_files_give_one_line_and_change_nothing(
    db_dsn: str, tmp_path: Path, content: str, message: str
) -> None:
    path = write(tmp_path / "bad.csv", content)
    before = counts(db_dsn)
    res = cli("audience", "import", "bad", str(path), dsn=db_dsn)
    assert res.code == 2
    assert message in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert "Traceback" not in res.stderr
    assert counts(db_dsn) == before


def test_missing_file_and_bad_region(db_dsn: str, tmp_path: Path) -> None:
    before = counts(db_dsn)
    res = cli("audience", "import", "x", str(tmp_path / "nope.csv"), dsn=db_dsn)
    assert res.code == 2 and "no such file" in res.stderr
    path = write(tmp_path / "ok.csv", "phone\n+4915123456789\n")
    res = cli("audience", "import", "x", str(path), "--default-region", "Germany", dsn=db_dsn)
    assert res.code == 2 and "--default-region" in res.stderr
    assert counts(db_dsn) == before


def test_not_utf8_is_refused(db_dsn: str, tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("phone,name\n+4915123456789,Jos\xe9\n".encode("latin-1"))
    before = counts(db_dsn)
    res = cli("audience", "import", "l", str(path), dsn=db_dsn)
    assert res.code == 2 and "UTF-8" in res.stderr
    assert counts(db_dsn) == before
