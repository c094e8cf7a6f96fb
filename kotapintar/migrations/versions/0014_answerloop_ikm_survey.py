"""IKM survey answers (SKM, PermenPANRB 14/2017): one row per closed case

Revision ID: 0014_answerloop_ikm_survey
Revises: 0013_setup_reference
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_answerloop_ikm_survey"
down_revision: str | Sequence[str] | None = "0013_setup_reference"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ikm_responses (nine elements 1–4, optional respondent fields, per case)."""
    op.create_table(
        "ikm_responses",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("agency_code", sa.String(length=40), nullable=True),
        sa.Column("service_code", sa.String(length=60), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        *[sa.Column(f"u{n}", sa.SmallInteger(), nullable=True) for n in range(1, 10)],
        sa.Column("gender", sa.String(length=1), nullable=True),
        sa.Column("age", sa.SmallInteger(), nullable=True),
        sa.Column("education", sa.String(length=10), nullable=True),
        sa.Column("occupation", sa.String(length=20), nullable=True),
        sa.Column("suggestion", sa.String(length=1000), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_ikm_responses_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ikm_responses")),
        sa.UniqueConstraint("case_id", name=op.f("uq_ikm_responses_case_id")),
    )
    with op.batch_alter_table("ikm_responses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ikm_responses_agency_code"), ["agency_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_ikm_responses_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_ikm_responses_service_code"), ["service_code"], unique=False)


def downgrade() -> None:
    """Drop ikm_responses (the survey answers are lost)."""
    op.drop_table("ikm_responses")
