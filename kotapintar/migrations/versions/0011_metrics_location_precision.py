"""location precision of a report: where its coordinates came from and the browser's stated accuracy

Revision ID: 0011_metrics_location_precision
Revises: 0010_security_user_sessions
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_metrics_location_precision"
down_revision: str | Sequence[str] | None = "0010_security_user_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add reports.location_source (gps, map, desa_centroid, address) and reports.location_accuracy_m."""
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("location_source", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("location_accuracy_m", sa.Float(), nullable=True))


def downgrade() -> None:
    """Drop the two columns (the precision of earlier reports is then unknown again)."""
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_column("location_accuracy_m")
        batch_op.drop_column("location_source")
