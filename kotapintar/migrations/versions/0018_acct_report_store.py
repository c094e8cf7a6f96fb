"""analytics: stored monthly accountability reports (issue 15, item 6)

Revision ID: 0018_acct_report_store
Revises: 0017_partition_events_readings

The worker generates last month's report (city-wide and per agency) once after the month ends and keeps the
PDF and a zip of its CSV tables here; /supervisor lists them for download.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_acct_report_store"
down_revision: str | Sequence[str] | None = "0017_partition_events_readings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create monthly_reports."""
    op.create_table(
        "monthly_reports",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("agency", sa.String(length=40), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.Column("csv_zip", sa.LargeBinary(), nullable=False),
        sa.Column("pdf_bytes", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monthly_reports")),
        sa.UniqueConstraint("month", "agency", name="uq_monthly_reports_month_agency"),
    )
    op.create_index(op.f("ix_monthly_reports_month"), "monthly_reports", ["month"], unique=False)


def downgrade() -> None:
    """Drop monthly_reports."""
    op.drop_index(op.f("ix_monthly_reports_month"), table_name="monthly_reports")
    op.drop_table("monthly_reports")
