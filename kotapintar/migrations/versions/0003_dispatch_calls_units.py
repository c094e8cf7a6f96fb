"""dispatch: 112 calls, unit assignments, unit status log, ingest counters

Revision ID: 0003_dispatch_calls_units
Revises: 0001_spine
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003_dispatch_calls_units"
down_revision: str | Sequence[str] | None = "0001_spine"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column("id", BIGID, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("classified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("caller_number", sa.String(length=40), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("location_text", sa.String(length=300), nullable=True),
        sa.Column("region_code", sa.String(length=20), nullable=True),
        sa.Column("service_code", sa.String(length=60), nullable=True),
        sa.Column("answers", JSON, nullable=False),
        sa.Column("priority", sa.String(length=2), nullable=True),
        sa.Column("classification", sa.String(length=20), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("case_id", BIGID, nullable=True),
        sa.Column("operator", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_calls_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calls")),
    )
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_calls_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_calls_classification"), ["classification"], unique=False)
        batch_op.create_index(batch_op.f("ix_calls_received_at"), ["received_at"], unique=False)

    op.create_table(
        "dispatch_counters",
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("last_reason", sa.String(length=300), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_dispatch_counters")),
    )

    op.create_table(
        "unit_assignments",
        sa.Column("id", BIGID, nullable=False),
        sa.Column("unit_code", sa.String(length=40), nullable=False),
        sa.Column("case_id", BIGID, nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dispatched_by", sa.String(length=120), nullable=False),
        sa.Column("eta_s", sa.Float(), nullable=True),
        sa.Column("method", sa.String(length=20), nullable=True),
        sa.Column("override_reason", sa.Text(), nullable=True),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_unit_assignments_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["unit_code"], ["units.code"], name=op.f("fk_unit_assignments_unit_code_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unit_assignments")),
    )
    with op.batch_alter_table("unit_assignments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_unit_assignments_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_unit_assignments_unit_code"), ["unit_code"], unique=False)

    op.create_table(
        "unit_status_log",
        sa.Column("id", BIGID, nullable=False),
        sa.Column("unit_code", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("previous", sa.String(length=20), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("case_id", BIGID, nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_unit_status_log_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["unit_code"], ["units.code"], name=op.f("fk_unit_status_log_unit_code_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unit_status_log")),
    )
    with op.batch_alter_table("unit_status_log", schema=None) as batch_op:
        batch_op.create_index("ix_unit_status_log_unit_at", ["unit_code", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("unit_status_log", schema=None) as batch_op:
        batch_op.drop_index("ix_unit_status_log_unit_at")
    op.drop_table("unit_status_log")
    with op.batch_alter_table("unit_assignments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_unit_assignments_unit_code"))
        batch_op.drop_index(batch_op.f("ix_unit_assignments_case_id"))
    op.drop_table("unit_assignments")
    op.drop_table("dispatch_counters")
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_calls_received_at"))
        batch_op.drop_index(batch_op.f("ix_calls_classification"))
        batch_op.drop_index(batch_op.f("ix_calls_case_id"))
    op.drop_table("calls")
