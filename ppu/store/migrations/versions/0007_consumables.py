"""consumables: stock levels the kernels draw on (stocks, solvents, gas, vials)

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consumable",
        sa.Column("scope", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("level", sa.Float(), nullable=False),
        sa.Column("capacity", sa.Float(), nullable=False),
        sa.Column("unit", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("refills", sa.Integer(), nullable=False),
        sa.Column("updated_v", sa.Float(), nullable=False),
        sa.Column("updated_wall", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "name"),
    )


def downgrade() -> None:
    op.drop_table("consumable")
