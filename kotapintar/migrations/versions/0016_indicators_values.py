"""indicators: imported smart-city indicator values (issue 15, item 7)

Revision ID: 0016_indicators_values
Revises: 0015_portal_search_location

One row per indicator code and month (YYYY-MM), loaded by `kotapintar indicators import FILE.csv`; computed
indicators are not stored (they are computed from the cases when asked).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_indicators_values"
down_revision: str | Sequence[str] | None = "0015_portal_search_location"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create indicator_values."""
    op.create_table(
        "indicator_values",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=60), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("source_file", sa.String(length=200), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("imported_by", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_indicator_values")),
        sa.UniqueConstraint("code", "period", name="uq_indicator_values_code_period"),
    )
    op.create_index(op.f("ix_indicator_values_code"), "indicator_values", ["code"], unique=False)


def downgrade() -> None:
    """Drop indicator_values."""
    op.drop_index(op.f("ix_indicator_values_code"), table_name="indicator_values")
    op.drop_table("indicator_values")
