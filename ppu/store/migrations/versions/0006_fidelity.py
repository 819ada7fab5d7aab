"""fidelity: a measurement is measured (an instrument) or computed (a model's estimate)

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('measurement', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                'fidelity',
                sqlmodel.sql.sqltypes.AutoString(),
                nullable=False,
                server_default='measured',
            )
        )
        batch_op.create_index('ix_measurement_fidelity', ['fidelity'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('measurement', schema=None) as batch_op:
        batch_op.drop_index('ix_measurement_fidelity')
        batch_op.drop_column('fidelity')
