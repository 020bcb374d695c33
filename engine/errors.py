"""One exception tree, split by what the caller must do.

Third-party exceptions are translated at adapter edges (``raise ... from exc``); the CLI
turns any ``EngineError`` into one line on stderr and its ``exit_code``.
"""

from __future__ import annotations


class EngineError(Exception):
    """Base of every error the engine raises on purpose."""

    exit_code = 1


class ConfigError(EngineError):
    """Bad input from the user: fix the file, field or argument named in the message.

    The message is one line: ``<where>: <field>: <reason>``.
    """

    exit_code = 2

    def __init__(self, where: str, field: str | None, reason: str) -> None:
        self.where = where
        self.field = field
        self.reason = reason
        parts = [where] + ([field] if field else []) + [reason]
        super().__init__(": ".join(parts))


class InputError(ConfigError):
    """Bad data file (CSV, JSON) given on the command line."""


class DatabaseError(EngineError):
    """The database cannot be reached or is in an unexpected shape."""

    exit_code = 3


class MigrationError(DatabaseError):
    """Recorded migrations disagree with the files under sql/migrations."""


class CampaignStateError(EngineError):
    """The campaign is not in a state that allows the requested operation."""

    exit_code = 4


class NotBuiltError(EngineError):
    """A command named in the design that this version does not implement yet."""

    exit_code = 2
