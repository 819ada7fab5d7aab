"""live clock: where the lab clock stood at which wall time, how fast it runs, and each
launch's expected duration, so a page can move 'now' and a running launch's progress
between the controller's writes; why an instrument takes no launches (its holds)

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("campaign", schema=None) as batch_op:
        batch_op.add_column(sa.Column("clock_wall", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("clock_rate", sa.Float(), nullable=True))
    with op.batch_alter_table("launch", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expected_s", sa.Float(), nullable=True))
    with op.batch_alter_table("instrumentstatus", schema=None) as batch_op:
        batch_op.add_column(sa.Column("holds", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("instrumentstatus", schema=None) as batch_op:
        batch_op.drop_column("holds")
    with op.batch_alter_table("launch", schema=None) as batch_op:
        batch_op.drop_column("expected_s")
    with op.batch_alter_table("campaign", schema=None) as batch_op:
        batch_op.drop_column("clock_rate")
        batch_op.drop_column("clock_wall")
