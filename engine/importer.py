"""Audience import: stream a CSV into Postgres with COPY.

Rows are read and normalized in chunks (memory is bounded by the chunk size, never by the
file), copied into a temporary staging table, then moved into ``recipients`` with one
``INSERT ... SELECT DISTINCT ON`` that drops duplicates within the audience. The whole import
is one transaction: a file that turns out to be unusable changes nothing.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.core.phones import Invalid, normalize_phone
from engine.errors import InputError

CHUNK_ROWS = 5_000
MAX_LISTED_INVALID = 1_000
MAX_FIELD_BYTES = 1 << 20  # 1 MiB per field: a 10 MB line is refused, not loaded
MAX_VALUE_SHOWN = 64


@dataclass(slots=True, kw_only=True)
class ImportResult:
    imported: int = 0
    duplicates: int = 0
    invalid_total: int = 0
    invalid: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "imported": self.imported,
            "duplicates": self.duplicates,
            "invalid": self.invalid,
            "invalid_total": self.invalid_total,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class CsvLayout:
    phone_index: int
    bsuid_index: int | None
    attr_names: tuple[tuple[int, str], ...]


def open_csv(path: Path) -> io.TextIOWrapper:
    """Open as UTF-8 (a BOM is accepted); unreadable files are an ``InputError``."""
    try:
        return open(path, encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise InputError(str(path), None, exc.strerror or "cannot open file") from exc


def _reader(handle: io.TextIOWrapper) -> Any:
    """A strict reader: a quote that is never closed, or text after a closing quote, is an
    error with a line number instead of silently swallowing the rest of the file."""
    csv.field_size_limit(MAX_FIELD_BYTES)
    return csv.reader(handle, strict=True)


def _csv_reason(exc: csv.Error) -> str:
    text = str(exc)
    if "unexpected end of data" in text:
        return "unterminated quoted field (the '\"' that opens it is never closed)"
    if "expected after" in text:
        return "text after a closing quote (quote the whole field, write a '\"' inside as '\"\"')"
    return text


def _nul_problem(row: list[str]) -> str | None:
    # Postgres text cannot hold NUL; NULs between letters usually mean a UTF-16 file.
    if any("\x00" in value for value in row):
        return "contains a NUL character (is the file UTF-16? save it as UTF-8)"
    return None


def read_header(path: Path, phone_column: str) -> CsvLayout:
    """Check the header row alone, before anything touches the database."""
    with open_csv(path) as handle:
        try:
            header = next(_reader(handle), None)
        except csv.Error as exc:
            raise InputError(str(path), "line 1", _csv_reason(exc)) from exc
        except UnicodeDecodeError as exc:
            raise InputError(str(path), None, f"not UTF-8 text ({exc.reason})") from exc
    if header is None:
        raise InputError(str(path), None, "file is empty (expected a header row)")
    return read_layout(path, header, phone_column)


def read_layout(path: Path, header: list[str], phone_column: str) -> CsvLayout:
    """Locate the phone (and optional ``bsuid``) column; the rest become attrs."""
    problem = _nul_problem(header)
    if problem:
        raise InputError(str(path), "line 1", problem)
    names = [h.strip() for h in header]
    if not any(names):
        raise InputError(str(path), "line 1", "empty header row")
    if phone_column not in names:
        raise InputError(
            str(path), "line 1", f"no column {phone_column!r} (columns: {', '.join(names)[:200]})"
        )
    seen: set[str] = set()
    for name in names:
        if name in seen and name:
            raise InputError(str(path), "line 1", f"column {name!r} appears twice")
        seen.add(name)
    phone_index = names.index(phone_column)
    bsuid_index = names.index("bsuid") if "bsuid" in names else None
    attrs = tuple((i, n) for i, n in enumerate(names) if i not in (phone_index, bsuid_index) and n)
    return CsvLayout(phone_index=phone_index, bsuid_index=bsuid_index, attr_names=attrs)


def iter_chunks(
    path: Path, phone_column: str, default_region: str | None, result: ImportResult
) -> Iterator[list[tuple[int, str, str | None, dict[str, str]]]]:
    """Yield lists of ``(line, e164, bsuid, attrs)``; invalid rows are recorded in ``result``."""
    with open_csv(path) as handle:
        reader = _reader(handle)
        line = 1  # where the record being read starts (a quoted field may span lines)
        try:
            header = next(reader, None)
            if header is None:
                raise InputError(str(path), None, "file is empty (expected a header row)")
            layout = read_layout(path, header, phone_column)
            chunk: list[tuple[int, str, str | None, dict[str, str]]] = []
            line = reader.line_num + 1
            for row in reader:
                row_line, line = line, reader.line_num + 1
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                problem = _nul_problem(row)
                if problem:
                    raise InputError(str(path), f"line {row_line}", problem)
                raw = row[layout.phone_index] if layout.phone_index < len(row) else ""
                norm = normalize_phone(raw, default_region)
                if isinstance(norm, Invalid):
                    result.invalid_total += 1
                    if len(result.invalid) < MAX_LISTED_INVALID:
                        shown = raw if len(raw) <= MAX_VALUE_SHOWN else raw[:MAX_VALUE_SHOWN] + "…"
                        result.invalid.append(
                            {"line": row_line, "value": shown, "reason": norm.reason}
                        )
                    continue
                bsuid = None
                if layout.bsuid_index is not None and layout.bsuid_index < len(row):
                    bsuid = row[layout.bsuid_index].strip() or None
                attrs = {name: row[i] for i, name in layout.attr_names if i < len(row)}
                chunk.append((row_line, norm.e164, bsuid, attrs))
                if len(chunk) >= CHUNK_ROWS:
                    yield chunk
                    chunk = []
            if chunk:
                yield chunk
        except csv.Error as exc:
            raise InputError(str(path), f"line {line}", _csv_reason(exc)) from exc
        except UnicodeDecodeError as exc:
            raise InputError(str(path), None, f"not UTF-8 text ({exc.reason})") from exc
