"""each mall's account for bank transfers; orders by status and time (overdue deposits)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28 01:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bank_accounts",
        sa.Column(
            "account_no", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),  # fmt: skip
        sa.Column("bank", sa.String(length=50), nullable=False),
        sa.Column("account_number", sa.String(length=40), nullable=False),
        sa.Column("holder", sa.String(length=100), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mall_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["mall_id"], ["malls.mall_id"], name=op.f("fk_bank_accounts_mall_id_malls"), ondelete="CASCADE"
        ),  # fmt: skip
        sa.PrimaryKeyConstraint("account_no", name=op.f("pk_bank_accounts")),
        sa.UniqueConstraint("mall_id", name=op.f("uq_bank_accounts_mall_id")),
    )
    op.create_index("ix_orders_status_created", "orders", ["status", "created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_orders_status_created", table_name="orders")
    op.drop_table("bank_accounts")
