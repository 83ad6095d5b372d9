"""centres: network ranges, candidates' dates of birth, scheduled sittings (window and room)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("centres", schema=None) as batch_op:
        batch_op.add_column(sa.Column("network_ranges", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
    with op.batch_alter_table("candidates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("date_of_birth", sa.Date(), nullable=True))
    with op.batch_alter_table("sittings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scheduled_start", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("scheduled_end", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("room", sa.String(length=100), nullable=True))
        batch_op.create_index(batch_op.f("ix_sittings_scheduled_start"), ["scheduled_start"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sittings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sittings_scheduled_start"))
        batch_op.drop_column("room")
        batch_op.drop_column("scheduled_end")
        batch_op.drop_column("scheduled_start")
    with op.batch_alter_table("candidates", schema=None) as batch_op:
        batch_op.drop_column("date_of_birth")
    with op.batch_alter_table("centres", schema=None) as batch_op:
        batch_op.drop_column("network_ranges")
