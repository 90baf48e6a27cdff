"""the events outbox; webhook subscriptions, deliveries and the delivery log

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 20:21:45.899166
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("event_no", ID, autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=40), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("mall_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["mall_id"], ["malls.mall_id"], name=op.f("fk_events_mall_id_malls"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("event_no", name=op.f("pk_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_events_event_id")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_undispatched", ["dispatched_at", "event_no"], unique=False)

    op.create_table(
        "webhook_subscriptions",
        sa.Column("subscription_no", ID, autoincrement=True, nullable=False),
        sa.Column("app_no", ID, nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("event_types", sa.JSON(), nullable=False),
        sa.Column("secret_sealed", sa.String(length=300), nullable=False),
        sa.Column("previous_secret_sealed", sa.String(length=300), nullable=True),
        sa.Column("previous_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mall_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_no"], ["apps.app_no"], name=op.f("fk_webhook_subscriptions_app_no_apps"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["mall_id"], ["malls.mall_id"], name=op.f("fk_webhook_subscriptions_mall_id_malls"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("subscription_no", name=op.f("pk_webhook_subscriptions")),
        sa.UniqueConstraint("mall_id", "app_no", name=op.f("uq_webhook_subscriptions_mall_id_app_no")),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("delivery_no", ID, autoincrement=True, nullable=False),
        sa.Column("event_no", ID, nullable=False),
        sa.Column("subscription_no", ID, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("mall_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_no"], ["events.event_no"], name=op.f("fk_webhook_deliveries_event_no_events"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["mall_id"], ["malls.mall_id"], name=op.f("fk_webhook_deliveries_mall_id_malls"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["subscription_no"],
            ["webhook_subscriptions.subscription_no"],
            name=op.f("fk_webhook_deliveries_subscription_no_webhook_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("delivery_no", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint("event_no", "subscription_no", name=op.f("uq_webhook_deliveries_event_no_subscription_no")),
    )
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_webhook_deliveries_due", ["status", "next_attempt_at"], unique=False)

    op.create_table(
        "webhook_attempts",
        sa.Column("attempt_no", ID, autoincrement=True, nullable=False),
        sa.Column("delivery_no", ID, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("response_excerpt", sa.Text(), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=False),
        sa.Column("mall_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_no"],
            ["webhook_deliveries.delivery_no"],
            name=op.f("fk_webhook_attempts_delivery_no_webhook_deliveries"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["mall_id"], ["malls.mall_id"], name=op.f("fk_webhook_attempts_mall_id_malls"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("attempt_no", name=op.f("pk_webhook_attempts")),
    )
    with op.batch_alter_table("webhook_attempts", schema=None) as batch_op:
        batch_op.create_index("ix_webhook_attempts_mall_started", ["mall_id", "started_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("webhook_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_attempts_mall_started")

    op.drop_table("webhook_attempts")
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_deliveries_due")

    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_subscriptions")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_undispatched")

    op.drop_table("events")
