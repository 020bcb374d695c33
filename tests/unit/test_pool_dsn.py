"""``describe_dsn`` and the connect-error reason: never raise, never show a password."""

from __future__ import annotations

import pytest

from engine.db.pool import _reason, describe_dsn

PW = "Pw-Sekr3t"


@pytest.mark.parametrize(
    ("dsn", "shown"),
    [
        (f"postgresql://u:{PW}@127.0.0.1:5432/db", "postgresql://127.0.0.1:5432/db"),
        (f"postgresql://u:{PW}@127.0.0.1:99999/x", "postgresql://127.0.0.1:99999/x"),
        (f"postgresql://u:{PW}@127.0.0.1:port/x", "postgresql://127.0.0.1:port/x"),
        (f"postgresql://u:{PW}@[::1/x", "postgresql://[::1/x"),
        (f"postgresql://u:{PW}@[::1]:5432/x", "postgresql://[::1]:5432/x"),
        (f"postgresql://u:{PW}@/x?host=/run/pg", "postgresql:///run/pg/x"),
        ("postgresql://h1:5432,h2:5433/db?sslmode=require", "postgresql://h1:5432,h2:5433/db"),
        (f"postgresql://u:{PW}/?#@h/db", "postgresql://h/db"),  # '/', '?', '#' in a password
        (f"postgresql://u@h/db?password={PW}", "postgresql://h/db"),
        (f"host=127.0.0.1 port=1 password={PW}", "host=127.0.0.1 port=1 password=***"),
        (f"host=h password = '{PW} x' dbname=d", "host=h password = *** dbname=d"),
        ("", ""),
    ],
)
def test_describe_dsn_drops_the_password(dsn: str, shown: str) -> None:
    assert describe_dsn(dsn) == shown


@pytest.mark.parametrize(
    "dsn",
    [
        f"postgresql://u:{PW}@h/db",
        f"postgresql://u:{PW.replace('-', '%2D')}@h/db",
        f"postgresql://u@h/db?sslmode=x&password={PW}",
        f"host=h password={PW}",
    ],
)
def test_reason_redacts_a_password_the_driver_echoes(dsn: str) -> None:
    assert PW not in _reason(ValueError(f"bad value near {PW!r}"), dsn)
