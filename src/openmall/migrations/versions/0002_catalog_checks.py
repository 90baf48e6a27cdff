"""catalog checks: prices and stock never below zero, in the database too

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 17:50:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("products") as batch:
        batch.create_check_constraint("price_not_negative", "price >= 0")
        batch.create_check_constraint("retail_price_not_negative", "retail_price >= 0")
    with op.batch_alter_table("variants") as batch:
        batch.create_check_constraint("quantity_not_negative", "quantity >= 0")


def downgrade() -> None:
    with op.batch_alter_table("variants") as batch:
        batch.drop_constraint("quantity_not_negative", type_="check")
    with op.batch_alter_table("products") as batch:
        batch.drop_constraint("retail_price_not_negative", type_="check")
        batch.drop_constraint("price_not_negative", type_="check")
