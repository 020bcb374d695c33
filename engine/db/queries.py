"""Named SQL blocks loaded once from ``sql/queries/*.sql``.

A file holds blocks introduced by ``-- name: verb_object``; the text up to the next
``-- name:`` is the query. Names are unique across files.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from engine.paths import QUERIES_DIR

_NAME = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)


def parse_blocks(text: str, source: str) -> dict[str, str]:
    """Split one file's text into ``{name: sql}``; duplicate names are a ``ValueError``."""
    blocks: dict[str, str] = {}
    matches = list(_NAME.finditer(text))
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        name = match.group(1)
        if name in blocks:
            raise ValueError(f"{source}: query {name!r} defined twice")
        blocks[name] = text[match.end() : end].strip()
    return blocks


@cache
def load_queries(directory: Path = QUERIES_DIR) -> dict[str, str]:
    """All named queries of the directory; names must be unique across files."""
    queries: dict[str, str] = {}
    for path in sorted(directory.glob("*.sql")):
        for name, sql in parse_blocks(path.read_text(), str(path)).items():
            if name in queries:
                raise ValueError(f"{path}: query {name!r} already defined in another file")
            queries[name] = sql
    return queries


class Queries:
    """Attribute access to named queries: ``Q.claim_messages``."""

    def __getattr__(self, name: str) -> str:
        try:
            return load_queries()[name]
        except KeyError:
            raise AttributeError(f"no query named {name!r} under {QUERIES_DIR}") from None


Q = Queries()
