"""analytics scale: the case rollup (metric_cases) for hotspots and the public board (issue 15, scale)

Revision ID: 0020_analytics_scale_case_rollup
Revises: 0019_rollup_metrics

One narrow row per case: its filter keys, its H3 cell coarsened to the hotspot resolution (in SQL, when the
row is written) and the seconds from report to resolution. Hotspots become a GROUP BY over it instead of a
scan of the wide cases table plus a Python pass over every fine cell; the public board's median time to
resolve reads it in order off an index. Kept, like the other rollup tables, by the `refresh_metrics` hook;
this migration fills it from the cases with the same SQL as `kotapintar analytics rebuild`.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

from kotapintar.core.db.types import UTCDateTime

revision: str = "0020_analytics_scale_case_rollup"
down_revision: str | Sequence[str] | None = "0019_rollup_metrics"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create metric_cases and fill it."""
    op.create_table(
        "metric_cases",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("agency", sa.String(length=60), nullable=True),
        sa.Column("service", sa.String(length=60), nullable=False),
        sa.Column("kecamatan", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("confidential", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("cell", sa.String(length=16), nullable=True),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.Column("resolve_s", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_metric_cases")),
    )
    op.create_index("ix_metric_cases_created_at_cell", "metric_cases", ["created_at", "cell"], unique=False)
    op.create_index(
        "ix_metric_cases_agency_resolve_s",
        "metric_cases",
        ["agency", "resolve_s", "resolved_at"],
        unique=False,
    )
    _backfill()


def _backfill() -> None:
    """Fill the case rollup from the existing cases with the application's own SQL (`analytics rebuild`)."""
    from kotapintar.analytics.service import rollup_repository

    session = Session(bind=op.get_bind())
    rollup_repository(session).rebuild_cases()
    session.flush()


def downgrade() -> None:
    """Drop the case rollup (derived data)."""
    op.drop_index("ix_metric_cases_agency_resolve_s", table_name="metric_cases")
    op.drop_index("ix_metric_cases_created_at_cell", table_name="metric_cases")
    op.drop_table("metric_cases")
