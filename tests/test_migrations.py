"""The migrations build exactly the schema the models describe, to a single head."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from engine import db, migrations
from engine.models import Base


def test_migrations_match_the_models(app):
    with db.engine_for(app).connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_one_head(app):
    script = ScriptDirectory.from_config(migrations.alembic_config(app))
    assert len(script.get_heads()) == 1, "merge the migration branches"
