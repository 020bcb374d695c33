"""CLI command implementations (async). ``engine.cli`` looks handlers up here by name;
a name missing from this module is reported as "not built yet" with exit code 2."""

from engine.commands.admin import audience_import, db_migrate, status
from engine.commands.campaign import lifecycle, report, retry, run
from engine.commands.demo import demo
from engine.commands.webhooks import webhooks_configure, webhooks_serve

__all__ = [
    "audience_import",
    "db_migrate",
    "demo",
    "lifecycle",
    "report",
    "retry",
    "run",
    "status",
    "webhooks_configure",
    "webhooks_serve",
]
