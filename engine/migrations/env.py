"""Alembic environment: the engine comes from the app (``onscreen db upgrade``) or, for
``alembic revision --autogenerate`` during development, from ONSCREEN_DATABASE_URL."""
from __future__ import annotations

import os

from alembic import context

from engine.db import make_engine
from engine.models import Base

config = context.config
engine = config.attributes.get("engine") or make_engine(os.environ.get("ONSCREEN_DATABASE_URL", "sqlite:///instance/onscreen.db"))

with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata,
                      render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
