"""112 calls carry the console's idempotency key: a retried 'new call' (double submit, network retry)
answers the call it already opened instead of opening a second one

Revision ID: 0011_cad_call_client_key
Revises: 0010_security_user_sessions
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_cad_call_client_key"
down_revision: str | Sequence[str] | None = "0010_security_user_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add calls.client_key (nullable, unique: one call per key)."""
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("client_key", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_calls_client_key"), ["client_key"], unique=True)


def downgrade() -> None:
    """Drop calls.client_key."""
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_calls_client_key"))
        batch_op.drop_column("client_key")
