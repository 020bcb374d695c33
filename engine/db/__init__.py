"""Postgres adapter: the only package that runs SQL."""
