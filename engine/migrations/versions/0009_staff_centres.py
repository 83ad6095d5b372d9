"""staff belonging to several centres (issue 13)

Revision ID: 0009
Revises: 0008
"""
from alembic import op
import sqlalchemy as sa


revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_centres",
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("centre_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["centre_id"], ["centres.id"]),
        sa.ForeignKeyConstraint(["staff_id"], ["staff_users.id"]),
        sa.PrimaryKeyConstraint("staff_id", "centre_id"),
    )
    op.create_index(op.f("ix_staff_centres_centre_id"), "staff_centres", ["centre_id"], unique=False)
    # Every existing member of staff works at their one centre.
    op.execute("INSERT INTO staff_centres (staff_id, centre_id) "
               "SELECT id, centre_id FROM staff_users WHERE centre_id IS NOT NULL")


def downgrade() -> None:
    op.drop_index(op.f("ix_staff_centres_centre_id"), table_name="staff_centres")
    op.drop_table("staff_centres")
