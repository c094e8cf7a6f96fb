"""sensor alarms wait for their case: the opening that a case opener still has to carry out

A rule that fires records its alarm (and publishes its CAP warning) in the ingest transaction; the case is
opened right after by a case opener, off the ingest path. `pending_case` holds what the case is opened with
(service, priority, level, title, readings) until then.

Revision ID: 0009_sensor_pending_cases
Revises: 0008_merge_parts
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009_sensor_pending_cases"
down_revision: str | Sequence[str] | None = "0008_merge_parts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add sensor_alarms.pending_case (JSON, null once the case is open)."""
    with op.batch_alter_table("sensor_alarms", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "pending_case",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )


def downgrade() -> None:
    """Drop the column."""
    with op.batch_alter_table("sensor_alarms", schema=None) as batch_op:
        batch_op.drop_column("pending_case")
