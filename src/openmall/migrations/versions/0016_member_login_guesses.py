"""failed logins at member ids no member has, locked as a member's are (a lock tells nothing about which ids exist)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "member_login_guesses",
        sa.Column(
            "guess_no", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),  # fmt: skip
        sa.Column("id_digest", sa.String(length=64), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mall_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["mall_id"], ["malls.mall_id"], name=op.f("fk_member_login_guesses_mall_id_malls"), ondelete="CASCADE"
        ),  # fmt: skip
        sa.PrimaryKeyConstraint("guess_no", name=op.f("pk_member_login_guesses")),
        sa.UniqueConstraint("mall_id", "id_digest", name=op.f("uq_member_login_guesses_mall_id_id_digest")),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("member_login_guesses")
