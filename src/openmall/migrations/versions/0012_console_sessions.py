"""console sessions: server-side console logins, so that logout, a password change and account removal end them

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 22:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "console_sessions",
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("mall_id", sa.String(length=32), nullable=True),
        sa.Column("operator_no", ID, nullable=True),
        sa.Column("developer_no", ID, nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["mall_id"], ["malls.mall_id"], name=op.f("fk_console_sessions_mall_id_malls"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["operator_no"],
            ["operators.operator_no"],
            name=op.f("fk_console_sessions_operator_no_operators"),
            ondelete="CASCADE",
        ),  # fmt: skip
        sa.ForeignKeyConstraint(
            ["developer_no"],
            ["developers.developer_no"],
            name=op.f("fk_console_sessions_developer_no_developers"),
            ondelete="CASCADE",
        ),  # fmt: skip
        sa.PrimaryKeyConstraint("token_digest", name=op.f("pk_console_sessions")),
    )
    op.create_index("ix_console_sessions_operator_no", "console_sessions", ["operator_no"])
    op.create_index("ix_console_sessions_developer_no", "console_sessions", ["developer_no"])


def downgrade() -> None:
    op.drop_index("ix_console_sessions_developer_no", table_name="console_sessions")
    op.drop_index("ix_console_sessions_operator_no", table_name="console_sessions")
    op.drop_table("console_sessions")
