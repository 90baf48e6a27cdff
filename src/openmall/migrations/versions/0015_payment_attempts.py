"""payment attempts: each card charge recorded (committed) before the gateway is asked

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 22:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "payment_attempts",
        sa.Column(
            "attempt_no", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),  # fmt: skip
        sa.Column("payment_key", sa.String(length=40), nullable=False),
        sa.Column("order_sheet_no", sa.String(length=32), nullable=False),
        sa.Column("pay_type", sa.String(length=20), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("gateway", sa.String(length=30), nullable=False),
        sa.Column("gateway_tx_id", sa.String(length=100), nullable=True),
        sa.Column("order_id", sa.String(length=20), nullable=True),
        sa.Column("note", sa.String(length=300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mall_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["mall_id"], ["malls.mall_id"], name=op.f("fk_payment_attempts_mall_id_malls"), ondelete="CASCADE"
        ),  # fmt: skip
        sa.PrimaryKeyConstraint("attempt_no", name=op.f("pk_payment_attempts")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_payment_attempts_mall_payment_key", "payment_attempts", ["mall_id", "payment_key"])
    op.create_index("ix_payment_attempts_status_created", "payment_attempts", ["status", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_payment_attempts_status_created", table_name="payment_attempts")
    op.drop_index("ix_payment_attempts_mall_payment_key", table_name="payment_attempts")
    op.drop_table("payment_attempts")
