"""resume: why a launch failed, and a dry-run's simulated lab

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('launch', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failure', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
    op.create_table('simulatedlab',
    sa.Column('campaign_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('virtual_t', sa.Float(), nullable=False),
    sa.Column('state', sa.LargeBinary(), nullable=False),
    sa.Column('updated_wall', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('campaign_id')
    )


def downgrade() -> None:
    op.drop_table('simulatedlab')
    with op.batch_alter_table('launch', schema=None) as batch_op:
        batch_op.drop_column('failure')
