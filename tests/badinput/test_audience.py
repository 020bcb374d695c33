"""`campaign audience import NAME FILE.csv`: refusals are one line and change nothing;
odd but valid files (unicode, BOM, CR line ends, quoted newlines) are imported intact.

Extends ``tests/integration/test_audience_import.py`` (which covers the basic empty file,
missing phone column, ``phone,phone``, a 2 MB field, latin-1 and a missing file).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.badinput.kit import InProcess, all_counts, refused
from tests.helpers import cli, fetch, run_isolated

GOOD = "phone,first_name\n+4915123456789,Anna\n"


def many_rows(n: int) -> str:
    """A header and ``n`` valid distinct German mobile numbers (first chunk is 5,000)."""
    return "phone,first_name\n" + "".join(f"+49151{i:08d},n{i}\n" for i in range(n))


REFUSED: list[tuple[str, bytes, list[str], list[str]]] = [
    # (id, file content, extra args, needles)
    ("bom-only", b"\xef\xbb\xbf", [], ["a.csv: file is empty (expected a header row)"]),
    ("blank-lines-only", b"\n\n\n", [], ["a.csv: line 1: empty header row"]),
    ("commas-only-header", b",,\n+4915123456789,,\n", [], ["a.csv: line 1: empty header row"]),
    (
        "phone-column-flag-missing",
        GOOD.encode(),
        ["--phone-column", "msisdn"],
        ["a.csv: line 1: no column 'msisdn' (columns: phone, first_name)"],
    ),
    (
        "phone-column-case",
        b"Phone,first_name\n+4915123456789,Anna\n",
        [],
        ["a.csv: line 1: no column 'phone' (columns: Phone, first_name)"],
    ),
    (
        "duplicate-header-spaces",
        b"phone, phone \n+4915123456789,x\n",
        [],
        ["a.csv: line 1: column 'phone' appears twice"],
    ),
    (
        "duplicate-attribute-header",
        b"phone,name,name\n+4915123456789,a,b\n",
        [],
        ["a.csv: line 1: column 'name' appears twice"],
    ),
    ("latin-1-header", b"phone,pr\xe9nom\n+4915123456789,x\n", [], ["a.csv: not UTF-8 text"]),
    (
        "utf-16-with-bom",
        "phone,name\n+4915123456789,Anna\n".encode("utf-16"),
        [],
        ["a.csv: not UTF-8 text"],
    ),
    (
        "utf-16-without-bom",
        "phone,name\n+4915123456789,Anna\n".encode("utf-16-le"),
        [],
        ["a.csv: line 1: contains a NUL character (is the file UTF-16? save it as UTF-8)"],
    ),
    (
        "nul-in-a-value",
        b"phone,name\n+4915123456789,Anna\n+4915123456790,Bo\x00b\n",
        [],
        ["a.csv: line 3: contains a NUL character"],
    ),
    (
        "unterminated-quote",
        b'phone,name\n+4915123456789,Anna\n+4915123456790,"Bob\n+4915123456791,Cy\n',
        [],
        ["a.csv: line 3: unterminated quoted field"],
    ),
    (
        "text-after-closing-quote",
        b'phone,name\n+4915123456789,"Anna" Maria\n',
        [],
        ["a.csv: line 2: text after a closing quote"],
    ),
    (
        "invalid-utf8-after-first-chunk",
        many_rows(6_000).encode() + b"+4915199999999,Jos\xe9\n",
        [],
        ["a.csv: not UTF-8 text"],
    ),
    (
        "huge-field-after-first-chunk",
        (many_rows(6_000) + "+4915199999999," + "x" * (2 << 20) + "\n").encode(),
        [],
        ["a.csv: line 6002: field larger than field limit"],
    ),
    (
        "nul-after-first-chunk",
        many_rows(6_000).encode() + b"+4915199999999,\x00\n",
        [],
        ["a.csv: line 6002: contains a NUL character"],
    ),
    ("region-unknown", GOOD.encode(), ["--default-region", "XX"], ["--default-region: unknown"]),
    ("region-zz", GOOD.encode(), ["--default-region", "ZZ"], ["--default-region: unknown"]),
    ("region-empty", GOOD.encode(), ["--default-region", ""], ["--default-region: expected"]),
    ("region-alpha3", GOOD.encode(), ["--default-region", "DEU"], ["--default-region: expected"]),
    ("region-digits", GOOD.encode(), ["--default-region", "49"], ["--default-region: expected"]),
]


@pytest.mark.parametrize(
    ("content", "args", "needles"),
    [pytest.param(c, a, n, id=i) for i, c, a, n in REFUSED],
)
def test_bad_file_or_flag_is_refused(
    seeded_dsn: str,
    tmp_path: Path,
    in_process: InProcess,
    content: bytes,
    args: list[str],
    needles: list[str],
) -> None:
    (tmp_path / "a.csv").write_bytes(content)
    before = all_counts(seeded_dsn)
    res = in_process("audience", "import", "fresh", "a.csv", *args, dsn=seeded_dsn, cwd=tmp_path)
    refused(res, "campaign: error: ", *needles)
    assert all_counts(seeded_dsn) == before


@pytest.mark.parametrize(
    "name",
    ["", "Spring List", "spring/../x", "x" * 65, "-leading-dash", "sprïng"],
    ids=["empty", "spaces-and-caps", "slashes", "too-long", "leading-dash", "non-ascii"],
)
def test_bad_audience_name_is_refused(
    seeded_dsn: str, tmp_path: Path, in_process: InProcess, name: str
) -> None:
    # A spec can only name [a-z0-9][a-z0-9._-]{0,63}: anything else could never be sent to.
    (tmp_path / "a.csv").write_text(GOOD)
    before = all_counts(seeded_dsn)
    res = in_process("audience", "import", "--", name, "a.csv", dsn=seeded_dsn, cwd=tmp_path)
    refused(res, "campaign: error: audience name: must be 1-64 of a-z 0-9")
    assert all_counts(seeded_dsn) == before


def test_directory_and_device_are_not_csv_files(
    seeded_dsn: str, tmp_path: Path, in_process: InProcess
) -> None:
    before = all_counts(seeded_dsn)
    (tmp_path / "lists").mkdir()
    res = in_process("audience", "import", "x", "lists", dsn=seeded_dsn, cwd=tmp_path)
    refused(res, "campaign: error: lists: is a directory (expected a CSV file)")
    res = in_process("audience", "import", "x", "/dev/null", dsn=seeded_dsn, cwd=tmp_path)
    refused(res, "campaign: error: /dev/null: is not a regular file")
    assert all_counts(seeded_dsn) == before


# ---- as real processes -----------------------------------------------------------------


def test_ten_megabyte_line_is_refused(seeded_dsn: str, tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_text("phone,notes\n+4915123456789," + "x" * (10 << 20) + "\n+4915123456790,ok\n")
    before = all_counts(seeded_dsn)
    res = cli("audience", "import", "big", "big.csv", dsn=seeded_dsn, cwd=tmp_path)
    refused(res, "campaign: error: big.csv: line 2: field larger than field limit")
    assert all_counts(seeded_dsn) == before


def test_directory_as_a_process(seeded_dsn: str, tmp_path: Path) -> None:
    before = all_counts(seeded_dsn)
    res = cli("audience", "import", "x", str(tmp_path), dsn=seeded_dsn, cwd=tmp_path)
    refused(res, f"campaign: error: {tmp_path}: is a directory")
    (tmp_path / "a.csv").write_text(GOOD)
    res = cli(
        "audience", "import", "x", "a.csv", "--default-region", "XX", dsn=seeded_dsn, cwd=tmp_path
    )
    refused(res, "campaign: error: --default-region: unknown country code 'XX'")
    assert all_counts(seeded_dsn) == before


def test_late_bad_byte_rolls_back_the_chunks_already_copied(db_dsn: str, tmp_path: Path) -> None:
    # 12,000 good rows (two chunks already COPYed) then a bad byte: nothing may remain.
    path = tmp_path / "late.csv"
    path.write_bytes(many_rows(12_000).encode() + b"+4915199999999,Jos\xe9\n")
    before = all_counts(db_dsn)
    res = cli("audience", "import", "late", "late.csv", dsn=db_dsn, cwd=tmp_path)
    refused(res, "campaign: error: late.csv: not UTF-8 text")
    assert all_counts(db_dsn) == before


UNICODE_NAMES = [
    "Zoë",  # NFC
    "Zoe\u0308",  # the same, NFD: must not be normalized
    "李小龙",
    "محمد بن سلمان",  # right-to-left
    "👩\u200d👩\u200d👧\u200d👦",  # one emoji made of four joined by ZWJ
    "O'Brien, Jr.",  # a comma: quoted in the file
    'Say "hi"',  # doubled quotes in the file
    "\u200bzero width",
    "Ñandú  two  spaces",
]


def test_unicode_names_and_bom_are_stored_intact(db_dsn: str, tmp_path: Path) -> None:
    rows = "".join(
        f'+49151234567{i:02d},"{name.replace(chr(34), chr(34) * 2)}",ü{i}\r\n'
        for i, name in enumerate(UNICODE_NAMES)
    )
    path = tmp_path / "unicode.csv"
    path.write_bytes(("\ufeffphone,prénom,名字\r\n" + rows).encode("utf-8"))
    res = cli("audience", "import", "uni", "unicode.csv", dsn=db_dsn, cwd=tmp_path)
    assert res.code == 0, res.stderr
    assert json.loads(res.stdout)["imported"] == len(UNICODE_NAMES)
    stored = run_isolated(
        fetch(db_dsn, "SELECT phone, attrs::text AS attrs FROM recipients ORDER BY phone")
    )
    assert [json.loads(r["attrs"]) for r in stored] == [
        {"prénom": name, "名字": f"ü{i}"} for i, name in enumerate(UNICODE_NAMES)
    ]


def test_invalid_numbers_are_listed_with_their_lines(db_dsn: str, tmp_path: Path) -> None:
    content = (
        "phone,name\r"  # old Mac line ends
        "+4915123456789,Anna\r"
        "12345,Short\r"  # line 3
        '+4915123456790,"two\rlines"\r'  # lines 4-5, valid
        "+49 (0) 151 2345 6791 ext,Bad\r"  # line 6
        '"+4915",Quoted\r'  # line 7
        "\r"  # line 8, blank: skipped silently
        + "x" * 200
        + ",Long\r"  # line 9: shown cut to 64 characters
    )
    path = tmp_path / "mixed.csv"
    path.write_text(content, newline="")
    res = cli("audience", "import", "mixed", "mixed.csv", dsn=db_dsn, cwd=tmp_path)
    assert res.code == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["imported"] == 2
    assert [i["line"] for i in out["invalid"]] == [3, 6, 7, 9]
    assert out["invalid_total"] == 4
    assert all(i["reason"] for i in out["invalid"])
    assert len(out["invalid"][-1]["value"]) <= 65


def test_invalid_list_is_capped_but_counted(db_dsn: str, tmp_path: Path) -> None:
    path = tmp_path / "junk.csv"
    path.write_text("phone\n+4915123456789\n" + "not-a-phone\n" * 1500)
    res = cli("audience", "import", "junk", "junk.csv", dsn=db_dsn, cwd=tmp_path)
    assert res.code == 0, res.stderr
    out = json.loads(res.stdout)
    assert (out["imported"], out["invalid_total"], len(out["invalid"])) == (1, 1500, 1000)
    assert out["invalid"][0]["line"] == 3
