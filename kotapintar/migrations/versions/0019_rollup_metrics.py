"""analytics rollup: one narrow row per task and per 112/dispatch incident (issue 15, scale)

Revision ID: 0019_rollup_metrics
Revises: 0018_acct_report_store

The figures aggregate these rows instead of joining tasks to cases and windowing over the event log. They
are kept by the transactions that change a case (the core's `refresh_metrics` hook); this migration fills
them from the existing tasks, cases and events with the same SQL as `kotapintar analytics rebuild`.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

from kotapintar.core.db.types import UTCDateTime

revision: str = "0019_rollup_metrics"
down_revision: str | Sequence[str] | None = "0018_acct_report_store"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEGMENTS = ("answering", "processing", "turnout", "travel", "total")
# (grouping, duration): SQLite reads each group's percentiles off an index on (grouping, duration, created_at)
ORDER_STATISTICS = [
    (key, value)
    for key in ("agency", "service", "kecamatan", "desa", "channel", "week", "month")
    for value in ("accept_s", "complete_s")
]


def upgrade() -> None:
    """Create metric_tasks and metric_incidents, and fill them."""
    op.create_table(
        "metric_tasks",
        sa.Column("task_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("agency", sa.String(length=60), nullable=False),
        sa.Column("service", sa.String(length=60), nullable=False),
        sa.Column("kecamatan", sa.String(length=40), nullable=False),
        sa.Column("desa", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("confidential", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("week", sa.String(length=10), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=True),
        sa.Column("completed_at", UTCDateTime(), nullable=True),
        sa.Column("accept_s", sa.Float(), nullable=True),
        sa.Column("complete_s", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("task_id", name=op.f("pk_metric_tasks")),
    )
    op.create_index(op.f("ix_metric_tasks_case_id"), "metric_tasks", ["case_id"], unique=False)
    op.create_index("ix_metric_tasks_created_at", "metric_tasks", ["created_at"], unique=False)
    op.create_index(
        "ix_metric_tasks_status_agency_due_at", "metric_tasks", ["status", "agency", "due_at"], unique=False
    )
    op.create_index("ix_metric_tasks_due_at", "metric_tasks", ["due_at"], unique=False)
    for key, value in ORDER_STATISTICS:
        op.create_index(
            f"ix_metric_tasks_{key}_{value}", "metric_tasks", [key, value, "created_at"], unique=False
        )
    op.create_table(
        "metric_incidents",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("ticket", sa.String(length=40), nullable=True),
        sa.Column("title", sa.String(length=300), nullable=True),
        sa.Column("service", sa.String(length=60), nullable=True),
        sa.Column("agency", sa.String(length=60), nullable=True),
        sa.Column("kecamatan", sa.String(length=40), nullable=True),
        sa.Column("desa", sa.String(length=40), nullable=True),
        sa.Column("channel", sa.String(length=40), nullable=True),
        sa.Column("confidential", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        *(sa.Column(name, sa.Float(), nullable=True) for name in SEGMENTS),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_metric_incidents")),
    )
    op.create_index("ix_metric_incidents_created_at", "metric_incidents", ["created_at"], unique=False)
    _backfill()


def _backfill() -> None:
    """Fill the rollup from the existing data with the application's own SQL (`analytics rebuild`)."""
    from kotapintar.analytics.service import rollup_repository

    session = Session(bind=op.get_bind())
    rollup_repository(session).rebuild()
    session.flush()


def downgrade() -> None:
    """Drop the rollup (it is derived data)."""
    op.drop_index("ix_metric_incidents_created_at", table_name="metric_incidents")
    op.drop_table("metric_incidents")
    for key, value in ORDER_STATISTICS:
        op.drop_index(f"ix_metric_tasks_{key}_{value}", table_name="metric_tasks")
    op.drop_index("ix_metric_tasks_due_at", table_name="metric_tasks")
    op.drop_index("ix_metric_tasks_status_agency_due_at", table_name="metric_tasks")
    op.drop_index("ix_metric_tasks_created_at", table_name="metric_tasks")
    op.drop_index(op.f("ix_metric_tasks_case_id"), table_name="metric_tasks")
    op.drop_table("metric_tasks")
