"""set-up of any kabupaten: the stored road network (reference-data versions live in shared_versions, issue 19)

Revision ID: 0013_setup_reference
Revises: 0012_production_shared_state
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_setup_reference"
down_revision: str | Sequence[str] | None = "0012_production_shared_state"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create road_networks: an imported GraphML/PBF kept in the database, so every process routes on it."""
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
    """Drop it (routing falls back to KOTAPINTAR_ROAD_NETWORK_PATH or straight lines)."""
    op.drop_table("road_networks")
