"""centres made by the load-test kit are marked, so their attempts never count as evidence

Revision ID: 0010
Revises: 0009
"""
from alembic import op
import sqlalchemy as sa


revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("centres", schema=None) as batch_op:
        batch_op.add_column(sa.Column("load_test", sa.Boolean(), nullable=False, server_default=sa.false()))
    # Centres an earlier `onscreen loadtest prepare` made (engine/loadtest_prepare.py's name).
    op.execute("UPDATE centres SET load_test = true WHERE name = 'Load Test Centre'")


def downgrade() -> None:
    with op.batch_alter_table("centres", schema=None) as batch_op:
        batch_op.drop_column("load_test")
