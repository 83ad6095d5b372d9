"""invigilation: keycode revocation, room stops, attempt outcomes, break requests, hidden
timer, and the incident log

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-23 12:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sittings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("keycode_active", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(sa.Column("stopped_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("outcome", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("break_requested_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("timer_hidden", sa.Boolean(), nullable=False, server_default=sa.false()))
    # Attempts that finished before outcomes existed: absent stays absent, the rest were complete.
    op.execute("UPDATE attempts SET outcome = CASE WHEN finish_reason = 'absent' THEN 'absent' ELSE 'complete' END "
               "WHERE state = 'finished'")
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sitting_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("happened_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("recorded_by", sa.String(length=120), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("stops_room", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["sitting_id"], ["sittings.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incidents_sitting_id"), ["sitting_id"], unique=False)
    op.create_table(
        "incident_attempts",
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["attempt_id"], ["attempts.id"]),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"]),
        sa.PrimaryKeyConstraint("incident_id", "attempt_id"),
    )
    with op.batch_alter_table("incident_attempts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incident_attempts_attempt_id"), ["attempt_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("incident_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_attempts_attempt_id"))
    op.drop_table("incident_attempts")
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incidents_sitting_id"))
    op.drop_table("incidents")
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.drop_column("timer_hidden")
        batch_op.drop_column("break_requested_at")
        batch_op.drop_column("outcome")
    with op.batch_alter_table("sittings", schema=None) as batch_op:
        batch_op.drop_column("stopped_at")
        batch_op.drop_column("keycode_active")
