"""Alembic migrations, run through ``onscreen db upgrade`` with the app's database URL."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from flask import Flask

from engine.db import engine_for

HERE = Path(__file__).parent


def alembic_config(app: Flask) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.attributes["engine"] = engine_for(app)
    return config


def upgrade(app: Flask, revision: str = "heads") -> None:
    command.upgrade(alembic_config(app), revision)


def current_revision(app: Flask) -> str | None:
    with engine_for(app).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
