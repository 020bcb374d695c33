"""Typed, path-aware reading of one mapping of a config document.

``Section(data, where, path)`` wraps a mapping; its getters validate type and range and
raise ``ConfigError(where, "<dotted.path>", reason)``; ``finish()`` rejects fields nobody
read, so typos are errors rather than silently ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from engine.errors import ConfigError

T = TypeVar("T")


class Section:
    """A mapping being read: typed getters that name ``where`` and the dotted field."""

    def __init__(self, data: Any, where: str, path: str) -> None:
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise ConfigError(where, path or "<root>", "must be a mapping")
        self.data: Mapping[str, Any] = data
        self.where = where
        self.path = path
        self._known: set[str] = set()

    def name(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str, reason: str) -> ConfigError:
        return ConfigError(self.where, self.name(key), reason)

    def raw(self, key: str) -> Any:
        self._known.add(key)
        return self.data.get(key)

    def has(self, key: str) -> bool:
        self._known.add(key)
        return key in self.data

    def section(self, key: str) -> Section:
        return Section(self.raw(key), self.where, self.name(key))

    def boolean(self, key: str, default: bool) -> bool:
        value = self.raw(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.fail(key, "must be true or false")
        return value

    def number(
        self, key: str, default: float, *, lo: float = 0.0, hi: float | None = None
    ) -> float:
        value = self.raw(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(key, "must be a number")
        if value < lo or (hi is not None and value > hi):
            bound = f"between {lo:g} and {hi:g}" if hi is not None else f">= {lo:g}"
            raise self.fail(key, f"must be {bound}, got {value!r}")
        return float(value)

    def integer(self, key: str, default: int, *, lo: int = 0, hi: int | None = None) -> int:
        value = self.raw(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, "must be an integer")
        if value < lo or (hi is not None and value > hi):
            raise self.fail(key, f"must be between {lo} and {hi}, got {value}")
        return value

    def ratio(self, key: str, default: float) -> float:
        return self.number(key, default, lo=0.0, hi=1.0)

    def text(self, key: str, default: T) -> str | T:
        value = self.raw(key)
        if value is None:
            return default
        if not isinstance(value, str) or not value:
            raise self.fail(key, "must be a non-empty string")
        return value

    def choice(self, key: str, default: T, allowed: tuple[Any, ...]) -> T:
        value = self.raw(key)
        if value is None:
            return default
        if value not in allowed:
            raise self.fail(key, f"must be one of {', '.join(map(str, allowed))}")
        return value  # type: ignore[no-any-return]

    def finish(self) -> None:
        """Reject fields nobody asked for (typos)."""
        for key in self.data:
            if key not in self._known:
                raise self.fail(str(key), "unknown field")
