"""apps keep the name and description the platform last approved (operators see those until a change is approved)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 22:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("apps") as batch:
        batch.add_column(sa.Column("reviewed_name", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("reviewed_description", sa.Text(), nullable=True))
    # apps published before this change: what they are called now is what operators have been seeing
    op.execute("UPDATE apps SET reviewed_name = name, reviewed_description = description WHERE status = 'published'")


def downgrade() -> None:
    with op.batch_alter_table("apps") as batch:
        batch.drop_column("reviewed_description")
        batch.drop_column("reviewed_name")
