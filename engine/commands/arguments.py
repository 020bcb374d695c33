"""Checks of command-line arguments, made before any I/O: a bad one is an ``InputError``
naming the argument, so the database is never asked about a name it cannot hold."""

from __future__ import annotations

import re

from engine.config.loader import show
from engine.config.profile import NAME_PATTERN
from engine.errors import InputError


def check_name(value: str, what: str) -> str:
    """``value`` when it is a valid campaign, audience or channel name (the spec's
    ``NAME_PATTERN``); else ``InputError(what, ...)``. Catches the empty name and bytes
    that are not UTF-8 (argv decodes them to lone surrogates, which the driver refuses)."""
    if not re.fullmatch(NAME_PATTERN, value):
        raise InputError(
            what,
            None,
            f"must be 1-64 of a-z 0-9 . _ - starting with a letter or digit, got {show(value)}",
        )
    return value
