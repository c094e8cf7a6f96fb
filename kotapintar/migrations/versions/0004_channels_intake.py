"""channels intake: conversations, processed provider messages, subscriptions, notifications, sender flags,
stored photos

Revision ID: 0004_channels_intake
Revises: 0001_spine
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004_channels_intake"
down_revision: str | Sequence[str] | None = "0001_spine"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def TS() -> sa.DateTime:  # noqa: N802 - reads like a type in the column lists
    """An aware timestamp column type."""
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the channel tables."""
    op.create_table(
        "channel_conversations",
        sa.Column("id", BIGID, nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("sender", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=30), nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.Column("updated_at", TS(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_conversations")),
        sa.UniqueConstraint("channel", "sender", name="uq_channel_conversations_channel_sender"),
    )
    op.create_table(
        "channel_cursors",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("last_event_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", TS(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_channel_cursors")),
    )
    op.create_table(
        "channel_messages",
        sa.Column("id", BIGID, nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("provider_id", sa.String(length=200), nullable=False),
        sa.Column("received_at", TS(), nullable=False),
        sa.Column("replies", JSON, nullable=False),
        sa.Column("deliveries", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_messages")),
        sa.UniqueConstraint("channel", "provider_id", name="uq_channel_messages_channel_provider_id"),
    )
    op.create_table(
        "channel_sender_flags",
        sa.Column("id", BIGID, nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("sender", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("report_id", BIGID, nullable=True),
        sa.Column("flagged_by", sa.String(length=120), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("created_at", TS(), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"], ["reports.id"], name=op.f("fk_channel_sender_flags_report_id_reports")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_sender_flags")),
    )
    with op.batch_alter_table("channel_sender_flags", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_channel_sender_flags_sender"), ["sender"], unique=False)

    op.create_table(
        "channel_subscriptions",
        sa.Column("id", BIGID, nullable=False),
        sa.Column("case_id", BIGID, nullable=False),
        sa.Column("report_id", BIGID, nullable=True),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("created_at", TS(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_channel_subscriptions_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["report_id"], ["reports.id"], name=op.f("fk_channel_subscriptions_report_id_reports")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_subscriptions")),
    )
    with op.batch_alter_table("channel_subscriptions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_channel_subscriptions_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_channel_subscriptions_report_id"), ["report_id"], unique=False)

    op.create_table(
        "media_files",
        sa.Column("id", BIGID, nullable=False),
        sa.Column("token", sa.String(length=40), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=40), nullable=False),
        sa.Column("original_type", sa.String(length=40), nullable=False),
        sa.Column("original_bytes", sa.Integer(), nullable=False),
        sa.Column("bytes", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("thumb_bytes", sa.Integer(), nullable=False),
        sa.Column("confidential", sa.Boolean(), nullable=False),
        sa.Column("case_id", BIGID, nullable=True),
        sa.Column("report_id", BIGID, nullable=True),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("created_at", TS(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_media_files_case_id_cases")),
        sa.ForeignKeyConstraint(["report_id"], ["reports.id"], name=op.f("fk_media_files_report_id_reports")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_files")),
        sa.UniqueConstraint("token", name=op.f("uq_media_files_token")),
    )
    with op.batch_alter_table("media_files", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_media_files_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_media_files_sha256"), ["sha256"], unique=False)

    op.create_table(
        "channel_notifications",
        sa.Column("id", BIGID, nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", BIGID, nullable=False),
        sa.Column("text", sa.String(length=1000), nullable=False),
        sa.Column("due_at", TS(), nullable=False),
        sa.Column("sent_at", TS(), nullable=True),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["channel_subscriptions.id"],
            name=op.f("fk_channel_notifications_subscription_id_channel_subscriptions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_notifications")),
        sa.UniqueConstraint("event_id", "subscription_id", name="uq_channel_notifications_event_id"),
    )
    with op.batch_alter_table("channel_notifications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_channel_notifications_due_at"), ["due_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_channel_notifications_subscription_id"), ["subscription_id"], unique=False
        )


def downgrade() -> None:
    """Drop the channel tables."""
    for name in (
        "channel_notifications",
        "media_files",
        "channel_subscriptions",
        "channel_sender_flags",
        "channel_messages",
        "channel_cursors",
        "channel_conversations",
    ):
        op.drop_table(name)
