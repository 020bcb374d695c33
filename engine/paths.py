"""Where the project's data files live (sql/, campaigns/), resolved from the package."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SQL_DIR = PROJECT_ROOT / "sql"
MIGRATIONS_DIR = SQL_DIR / "migrations"
QUERIES_DIR = SQL_DIR / "queries"
CAMPAIGNS_DIR = PROJECT_ROOT / "campaigns"
PROFILES_DIR = CAMPAIGNS_DIR / "profiles"
