"""set-up of any kabupaten: versions of reference data (caches without restart) and the stored road network

Revision ID: 0011_setup_reference
Revises: 0010_security_user_sessions
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_setup_reference"
down_revision: str | Sequence[str] | None = "0010_security_user_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NAMES = ("regions", "catalogue", "units", "roads")


def upgrade() -> None:
    """Create data_versions (one counter per kind of reference data, seeded at 0) and road_networks."""
    versions = op.create_table(
        "data_versions",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_data_versions")),
    )
    op.bulk_insert(versions, [{"name": n, "version": 0} for n in _NAMES])
    op.create_table(
        "road_networks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("format", sa.String(length=20), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("nodes", sa.Integer(), nullable=False),
        sa.Column("edges", sa.Integer(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("imported_by", sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_road_networks")),
    )


def downgrade() -> None:
    """Drop both tables (routing falls back to KOTAPINTAR_ROAD_NETWORK_PATH or straight lines)."""
    op.drop_table("road_networks")
    op.drop_table("data_versions")
