"""SOP runtime: published SOP versions, SOP instances per case, task keys and timer attempts.

Revision ID: 0002_sop_runtime
Revises: 0001_spine
Create Date: 2026-11-29 05:14:05.485327
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002_sop_runtime"
down_revision: str | Sequence[str] | None = "0001_spine"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sop_versions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=60), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column(
            "spec",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_by", sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sop_versions")),
        sa.UniqueConstraint("code", "version", name="uq_sop_versions_code_version"),
    )
    with op.batch_alter_table("sop_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sop_versions_code"), ["code"], unique=False)

    op.create_table(
        "sop_instances",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sop_code", sa.String(length=60), nullable=False),
        sa.Column("sop_version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column(
            "state",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_sop_instances_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sop_instances")),
        sa.UniqueConstraint("case_id", name=op.f("uq_sop_instances_case_id")),
    )
    with op.batch_alter_table("sop_instances", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sop_instances_sop_code"), ["sop_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_sop_instances_status"), ["status"], unique=False)

    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("task_key", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("position", sa.String(length=40), nullable=True))
        batch_op.create_index(batch_op.f("ix_tasks_task_key"), ["task_key"], unique=False)

    with op.batch_alter_table("timers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("timers", schema=None) as batch_op:
        batch_op.drop_column("attempts")

    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tasks_task_key"))
        batch_op.drop_column("position")
        batch_op.drop_column("task_key")

    with op.batch_alter_table("sop_instances", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sop_instances_status"))
        batch_op.drop_index(batch_op.f("ix_sop_instances_sop_code"))

    op.drop_table("sop_instances")
    with op.batch_alter_table("sop_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sop_versions_code"))

    op.drop_table("sop_versions")
