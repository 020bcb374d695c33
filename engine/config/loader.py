"""Reading YAML config files safely, and validating their fields with exact error paths.

``read_yaml`` refuses what ``yaml.safe_load`` alone lets through: files over 1 MB, anchors
and aliases (the "billion laughs" bomb), nesting deeper than 32 levels and duplicate keys.
YAML 1.1's base-60 numbers are switched off so ``to: 10:00`` stays the string ``"10:00"``
instead of the integer 600. Every failure is a ``ConfigError`` with one line:
``<file>: line N: <problem>``.

``Section`` wraps one mapping of a file and reads typed fields from it; its errors name the
dotted path of the field (``profile.backoff.max_s``) and the reason.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any, NoReturn

import yaml
from yaml.events import AliasEvent, NodeEvent
from yaml.nodes import MappingNode, Node

from engine.errors import ConfigError

MAX_FILE_BYTES = 1 << 20
MAX_DEPTH = 32


class _Loader(yaml.SafeLoader):
    """SafeLoader without aliases, anchors, duplicate keys, deep nesting or base-60 numbers."""

    where = "<yaml>"
    _depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, AliasEvent) or (
            isinstance(event, NodeEvent) and event.anchor is not None
        ):
            _fail_at(self.where, event.start_mark, "anchors and aliases (&, *) are not allowed")
        self._depth += 1
        if self._depth > MAX_DEPTH:
            _fail_at(self.where, event.start_mark, f"nested deeper than {MAX_DEPTH} levels")
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, list | dict):
                _fail_at(
                    self.where,
                    key_node.start_mark,
                    'mapping keys must be plain values (quote placeholders: "{{attr}}")',
                )
            if key in seen:
                _fail_at(self.where, key_node.start_mark, f"duplicate key {key!r}")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


# YAML 1.1 int/float resolvers without the base-60 forms ("10:00" -> 600).
_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if not tag.endswith((":int", ":float"))]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"),
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?"
        r"|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


def _fail_at(where: str, mark: Any, reason: str) -> NoReturn:
    line = f"line {mark.line + 1}" if mark is not None else None
    raise ConfigError(where, line, reason)


def read_yaml(path: Path, *, where: str | None = None) -> Any:
    """Parse one YAML file; ``where`` (default: the path as given) prefixes every error."""
    name = where or str(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigError(name, None, exc.strerror or "cannot read file") from exc
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(name, None, f"file is larger than {MAX_FILE_BYTES} bytes")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(name, None, f"not UTF-8 text ({exc.reason})") from exc
    try:
        # The reader checks the whole text for characters YAML forbids (NUL, most C0/C1
        # controls) as it is constructed, so this is inside the ``try`` too.
        loader = _Loader(text)
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        char = exc.character
        shown = f"U+{char:04X}" if isinstance(char, int) else repr(char)
        reason = f"character {shown} is not allowed (control characters are not YAML)"
        raise ConfigError(name, f"line {line}", f"invalid YAML: {reason}") from exc
    loader.where = name
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        _fail_at(name, mark, f"invalid YAML: {problem}")
    except yaml.YAMLError as exc:
        raise ConfigError(name, None, f"invalid YAML: {exc}") from exc
    finally:
        loader.dispose()


def show(value: object) -> str:
    """A value as it should appear after "got" in an error message."""
    if isinstance(value, str):
        return repr(value) if len(value) <= 80 else repr(value[:77] + "...")
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return f"a {type(value).__name__}"


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


class Section:
    """One mapping of a config file; typed field readers that fail with a precise path."""

    __slots__ = ("path", "raw", "where")

    def __init__(self, where: str, path: str, raw: object, keys: Collection[str]) -> None:
        self.where = where
        self.path = path
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            # A whole file that is one string is likely the wrong file (a .env, a key file):
            # its text is not echoed.
            got = "plain text (not shown)" if not path and isinstance(raw, str) else show(raw)
            raise ConfigError(where, path or None, f"must be a mapping, got {got}")
        self.raw: Mapping[Any, Any] = raw
        for key in raw:
            if key not in keys:
                hint = f"allowed: {', '.join(sorted(keys))}"
                if isinstance(key, str) and "key" in key.lower() and "env" not in key.lower():
                    hint = "secrets are never read from files: name an environment variable"
                    hint += " in *_env (e.g. api_key_env: D360_API_KEY)"
                raise ConfigError(where, self.field(str(key)), f"unknown key ({hint})")

    def __repr__(self) -> str:
        return f"Section({self.where!r}, {self.path!r}, keys={sorted(map(str, self.raw))})"

    def field(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str, reason: str) -> NoReturn:
        raise ConfigError(self.where, self.field(key), reason)

    def has(self, key: str) -> bool:
        return key in self.raw

    def get(self, key: str, default: Any = MISSING) -> Any:
        if key in self.raw:
            return self.raw[key]
        if default is MISSING:
            self.fail(key, "required field is missing")
        return default

    def section(self, key: str, keys: Collection[str], *, default: Any = None) -> Section:
        return Section(self.where, self.field(key), self.get(key, default), keys)

    def string(self, key: str, *, default: Any = MISSING, pattern: str | None = None) -> Any:
        """A non-empty string (or ``default`` when absent, which may be None)."""
        value = self.get(key, default)
        if value is default and default is not MISSING:
            return value
        if not isinstance(value, str) or not value.strip():
            self.fail(key, f"must be a non-empty string, got {show(value)}")
        if pattern is not None and not re.fullmatch(pattern, value):
            self.fail(key, f"must match {pattern}, got {show(value)}")
        return value

    def env_name(self, key: str, *, pattern: str, default: Any = MISSING) -> Any:
        """The name of an environment variable (or ``default``). A value that is not a name
        is not echoed: the usual mistake is pasting the secret itself here."""
        value = self.get(key, default)
        if value is default and default is not MISSING:
            return value
        if not isinstance(value, str) or not re.fullmatch(pattern, value):
            self.fail(
                key,
                f"must match {pattern}: the NAME of an environment variable (e.g."
                " D360_API_KEY), not the secret itself (the value is not shown)",
            )
        return value

    def integer(
        self, key: str, *, default: Any = MISSING, lo: int = 1, hi: int | None = None
    ) -> Any:
        value = self.get(key, default)
        if value is None and default is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(key, f"must be an integer, got {show(value)}")
        if value < lo:
            self.fail(key, f"must be >= {lo}, got {value}")
        if hi is not None and value > hi:
            self.fail(key, f"must be <= {hi}, got {value}")
        return value

    def number(
        self,
        key: str,
        *,
        default: Any = MISSING,
        nullable: bool = False,
        gt: float | None = 0.0,
        ge: float | None = None,
        le: float | None = None,
        lt: float | None = None,
    ) -> Any:
        """A finite number (int or float, never bool) within the given bounds, as float."""
        value = self.get(key, default)
        if value is None and nullable:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            kind = "a number or null" if nullable else "a number"
            self.fail(key, f"must be {kind}, got {show(value)}")
        if value != value or value in (float("inf"), float("-inf")):
            self.fail(key, f"must be a finite number, got {value}")
        for op, bound, ok in (
            (">", gt, gt is None or value > gt),
            (">=", ge, ge is None or value >= ge),
            ("<=", le, le is None or value <= le),
            ("<", lt, lt is None or value < lt),
        ):
            if not ok:
                self.fail(key, f"must be {op} {bound:g}, got {show(value)}")
        return float(value)

    def choice(self, key: str, choices: Collection[object], *, default: Any = MISSING) -> Any:
        value = self.get(key, default)
        if not any(value == c and type(value) is type(c) for c in choices):
            allowed = ", ".join(show(c) for c in choices)
            self.fail(key, f"must be one of {allowed}, got {show(value)}")
        return value

    def strings(self, key: str, *, default: Any = MISSING) -> tuple[str, ...]:
        value = self.get(key, default)
        if not isinstance(value, list):
            self.fail(key, f"must be a list of strings, got {show(value)}")
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                self.fail(f"{key}[{i}]", f"must be a non-empty string, got {show(item)}")
        return tuple(value)


def to_jsonable(value: Any) -> Any:
    """Config dataclasses to plain JSON data (tuples to lists, datetimes to ISO-8601)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.metadata.get("json", f.name): to_jsonable(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if not f.metadata.get("skip_json")
        }
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    return value
