"""manual marking, results release, regrade and item statistics (issue 8)

Revision ID: 0007
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa


revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("form_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("marked_version_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("mark_outcome", sa.String(length=16), nullable=True))
        batch_op.create_foreign_key("fk_form_items_marked_version_id", "item_versions", ["marked_version_id"], ["id"])
    with op.batch_alter_table("results", schema=None) as batch_op:
        batch_op.add_column(sa.Column("by_criterion", sa.JSON(), nullable=False, server_default="[]"))
        batch_op.add_column(sa.Column("status", sa.String(length=16), nullable=False, server_default="confirmed"))
        batch_op.add_column(sa.Column("released_at", sa.DateTime(), nullable=True))
    op.create_table(
        "marking_settings",
        sa.Column("specification_id", sa.Integer(), nullable=False),
        sa.Column("second_marking", sa.Boolean(), nullable=False),
        sa.Column("tolerance", sa.Numeric(precision=7, scale=2), nullable=False),
        sa.ForeignKeyConstraint(["specification_id"], ["test_specifications.id"]),
        sa.PrimaryKeyConstraint("specification_id"),
    )
    op.create_table(
        "manual_marks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("form_item_id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("awarded", sa.Numeric(precision=7, scale=2), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("marked_at", sa.DateTime(), nullable=False),
        sa.Column("item_version_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["form_item_id"], ["form_items.id"]),
        sa.ForeignKeyConstraint(["item_version_id"], ["item_versions.id"]),
        sa.ForeignKeyConstraint(["staff_id"], ["staff_users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("manual_marks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_manual_marks_form_item_id"), ["form_item_id"], unique=False)
    op.create_table(
        "result_releases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sitting_id", sa.Integer(), nullable=False),
        sa.Column("released_at", sa.DateTime(), nullable=False),
        sa.Column("released_by", sa.String(length=120), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["sitting_id"], ["sittings.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("result_releases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_result_releases_sitting_id"), ["sitting_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("result_releases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_result_releases_sitting_id"))
    op.drop_table("result_releases")
    with op.batch_alter_table("manual_marks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_manual_marks_form_item_id"))
    op.drop_table("manual_marks")
    op.drop_table("marking_settings")
    with op.batch_alter_table("results", schema=None) as batch_op:
        batch_op.drop_column("released_at")
        batch_op.drop_column("status")
        batch_op.drop_column("by_criterion")
    with op.batch_alter_table("form_items", schema=None) as batch_op:
        batch_op.drop_constraint("fk_form_items_marked_version_id", type_="foreignkey")
        batch_op.drop_column("mark_outcome")
        batch_op.drop_column("marked_version_id")
