"""product documents: each product's storefront JSON, kept with the product

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 17:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("products") as batch:
        batch.add_column(sa.Column("list_doc", sa.Text(), nullable=True))
        batch.add_column(sa.Column("detail_doc", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("products") as batch:
        batch.drop_column("detail_doc")
        batch.drop_column("list_doc")
