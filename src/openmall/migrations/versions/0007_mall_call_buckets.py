"""each mall's call buckets (rate limits) for the Admin and Shop APIs

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 19:26:56.928767
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("malls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("admin_call_capacity", sa.Integer(), server_default="40", nullable=False))
        batch_op.add_column(sa.Column("admin_call_drain", sa.Float(), server_default="1", nullable=False))
        batch_op.add_column(sa.Column("shop_call_capacity", sa.Integer(), server_default="40", nullable=False))
        batch_op.add_column(sa.Column("shop_call_drain", sa.Float(), server_default="1", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("malls", schema=None) as batch_op:
        batch_op.drop_column("shop_call_drain")
        batch_op.drop_column("shop_call_capacity")
        batch_op.drop_column("admin_call_drain")
        batch_op.drop_column("admin_call_capacity")
