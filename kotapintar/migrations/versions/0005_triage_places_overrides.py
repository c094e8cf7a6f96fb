"""triage: gazetteer places, learned routing overrides, duplicate-search index on cases

Revision ID: 0005_triage_places_overrides
Revises: 0001_spine
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005_triage_places_overrides"
down_revision: str | Sequence[str] | None = "0001_spine"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "places",
        sa.Column("id", BIGID, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("aliases", JSON, nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("region_code", sa.String(length=20), nullable=True),
        sa.Column("source", sa.String(length=300), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_places")),
        sa.UniqueConstraint("name", "kind", name="uq_places_name_kind"),
    )
    op.create_table(
        "routing_overrides",
        sa.Column("id", BIGID, nullable=False),
        sa.Column("service_code", sa.String(length=60), nullable=False),
        sa.Column("region_code", sa.String(length=20), nullable=False),
        sa.Column("agency_code", sa.String(length=40), nullable=False),
        sa.Column("learned_by", sa.String(length=120), nullable=False),
        sa.Column("case_id", BIGID, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_code"], ["agencies.code"], name=op.f("fk_routing_overrides_agency_code_agencies")
        ),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_routing_overrides_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["service_code"], ["services.code"], name=op.f("fk_routing_overrides_service_code_services")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_overrides")),
        sa.UniqueConstraint("service_code", "region_code", name="uq_routing_overrides_service_code"),
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index("ix_cases_h3_cell_created_at", ["h3_cell", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_h3_cell_created_at")
    op.drop_table("routing_overrides")
    op.drop_table("places")
