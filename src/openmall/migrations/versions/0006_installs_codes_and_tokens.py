"""installs, authorization codes and tokens; apps get a sealed launch key

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 18:37:03.123485
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "authorization_codes",
        sa.Column("code_no", ID, autoincrement=True, nullable=False),
        sa.Column("code_digest", sa.String(length=64), nullable=False),
        sa.Column("grant_id", sa.String(length=32), nullable=False),
        sa.Column("app_no", ID, nullable=False),
        sa.Column("operator_no", ID, nullable=False),
        sa.Column("redirect_uri", sa.String(length=2000), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("code_challenge", sa.String(length=128), nullable=True),
        sa.Column("code_challenge_method", sa.String(length=8), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("mall_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_no"], ["apps.app_no"], name=op.f("fk_authorization_codes_app_no_apps"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["mall_id"], ["malls.mall_id"], name=op.f("fk_authorization_codes_mall_id_malls"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("code_no", name=op.f("pk_authorization_codes")),
        sa.UniqueConstraint("code_digest", name=op.f("uq_authorization_codes_code_digest")),
    )
    op.create_table(
        "installs",
        sa.Column("install_no", ID, autoincrement=True, nullable=False),
        sa.Column("app_no", ID, nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("operator_no", ID, nullable=True),
        sa.Column("installed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mall_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["app_no"], ["apps.app_no"], name=op.f("fk_installs_app_no_apps"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["mall_id"], ["malls.mall_id"], name=op.f("fk_installs_mall_id_malls"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("install_no", name=op.f("pk_installs")),
        sa.UniqueConstraint("mall_id", "app_no", name=op.f("uq_installs_mall_id_app_no")),
    )
    op.create_table(
        "tokens",
        sa.Column("token_no", ID, autoincrement=True, nullable=False),
        sa.Column("grant_id", sa.String(length=32), nullable=False),
        sa.Column("app_no", ID, nullable=False),
        sa.Column("operator_no", ID, nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("access_digest", sa.String(length=64), nullable=False),
        sa.Column("refresh_digest", sa.String(length=64), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("access_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("refresh_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("mall_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["app_no"], ["apps.app_no"], name=op.f("fk_tokens_app_no_apps"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["mall_id"], ["malls.mall_id"], name=op.f("fk_tokens_mall_id_malls"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("token_no", name=op.f("pk_tokens")),
        sa.UniqueConstraint("access_digest", name=op.f("uq_tokens_access_digest")),
        sa.UniqueConstraint("refresh_digest", name=op.f("uq_tokens_refresh_digest")),
    )
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.create_index("ix_tokens_mall_app", ["mall_id", "app_no"], unique=False)
        batch_op.create_index("ix_tokens_mall_grant", ["mall_id", "grant_id"], unique=False)

    with op.batch_alter_table("apps", schema=None) as batch_op:
        batch_op.add_column(sa.Column("launch_key_sealed", sa.String(length=200), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("apps", schema=None) as batch_op:
        batch_op.drop_column("launch_key_sealed")

    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.drop_index("ix_tokens_mall_grant")
        batch_op.drop_index("ix_tokens_mall_app")

    op.drop_table("tokens")
    op.drop_table("installs")
    op.drop_table("authorization_codes")
