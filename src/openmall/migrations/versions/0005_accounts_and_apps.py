"""accounts and apps

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 18:15:44.490570
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "developers",
        sa.Column("developer_no", ID, autoincrement=True, nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("developer_no", name=op.f("pk_developers")),
        sa.UniqueConstraint("email", name=op.f("uq_developers_email")),
    )
    op.create_table(
        "apps",
        sa.Column("app_no", ID, autoincrement=True, nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("client_secret_digest", sa.String(length=64), nullable=False),
        sa.Column("developer_no", ID, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("app_url", sa.String(length=2000), nullable=False),
        sa.Column("redirect_uris", sa.JSON(), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("test_malls", sa.JSON(), nullable=False),
        sa.Column("secret_rotated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["developer_no"],
            ["developers.developer_no"],
            name=op.f("fk_apps_developer_no_developers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("app_no", name=op.f("pk_apps")),
        sa.UniqueConstraint("client_id", name=op.f("uq_apps_client_id")),
    )
    with op.batch_alter_table("apps", schema=None) as batch_op:
        batch_op.create_index("ix_apps_developer_no", ["developer_no"], unique=False)

    op.create_table(
        "operators",
        sa.Column("operator_no", ID, autoincrement=True, nullable=False),
        sa.Column("login_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mall_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["mall_id"], ["malls.mall_id"], name=op.f("fk_operators_mall_id_malls"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("operator_no", name=op.f("pk_operators")),
        sa.UniqueConstraint("mall_id", "login_id", name=op.f("uq_operators_mall_id_login_id")),
    )


def downgrade() -> None:
    op.drop_table("operators")
    with op.batch_alter_table("apps", schema=None) as batch_op:
        batch_op.drop_index("ix_apps_developer_no")

    op.drop_table("apps")
    op.drop_table("developers")
