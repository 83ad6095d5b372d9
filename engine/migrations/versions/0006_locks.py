"""exam-condition locks (issue 7): lock settings on specifications and sittings, device
bindings, lockouts and browser signals

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa


revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("test_specifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("locks", sa.JSON(), nullable=False, server_default=sa.text("'{}'")))
    with op.batch_alter_table("sittings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("locks", sa.JSON(none_as_null=True), nullable=True))
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("locked_at", sa.DateTime(), nullable=True))
    op.create_table(
        "device_bindings",
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("bound_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["attempt_id"], ["attempts.id"]),
        sa.PrimaryKeyConstraint("attempt_id"),
    )
    op.create_table(
        "lockouts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("lock_name", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("locked_at", sa.DateTime(), nullable=False),
        sa.Column("clock_stopped", sa.Boolean(), nullable=False),
        sa.Column("unlocked_at", sa.DateTime(), nullable=True),
        sa.Column("unlocked_by", sa.String(length=120), nullable=True),
        sa.Column("unlock_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["attempt_id"], ["attempts.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("lockouts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lockouts_attempt_id"), ["attempt_id"], unique=False)
    op.create_table(
        "browser_signals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["attempt_id"], ["attempts.id"]),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("browser_signals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_browser_signals_attempt_id"), ["attempt_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("browser_signals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_browser_signals_attempt_id"))
    op.drop_table("browser_signals")
    with op.batch_alter_table("lockouts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lockouts_attempt_id"))
    op.drop_table("lockouts")
    op.drop_table("device_bindings")
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.drop_column("locked_at")
    with op.batch_alter_table("sittings", schema=None) as batch_op:
        batch_op.drop_column("locks")
    with op.batch_alter_table("test_specifications", schema=None) as batch_op:
        batch_op.drop_column("locks")
