"""Merge the centres (0002) and invigilation (0003) branches, developed side by side.

Revision ID: 0005
Revises: 0002, 0003
"""
revision = "0005"
down_revision = ("0002", "0003")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
