"""sensor devices, observations, rollups, rejections, rule states, alarms and CAP warnings

Revision ID: 0007_sensors_obs_warnings
Revises: 0001_spine
Create Date: 2026-11-29 05:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007_sensors_obs_warnings"
down_revision: str | Sequence[str] | None = "0001_spine"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = (
    "sensor_warnings",
    "sensor_alarms",
    "sensor_rule_states",
    "sensor_rollups",
    "sensor_rejections",
    "sensor_observations",
    "sensor_devices",
)


def upgrade() -> None:
    op.create_table(
        "sensor_devices",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("region_code", sa.String(length=20), nullable=False),
        sa.Column("owner_agency", sa.String(length=40), nullable=False),
        sa.Column("interval_s", sa.Integer(), nullable=False),
        sa.Column(
            "thresholds",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "spec",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("api_key_hash", sa.String(length=64), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sensor_devices")),
    )
    with op.batch_alter_table("sensor_devices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sensor_devices_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_sensor_devices_region_code"), ["region_code"], unique=False)

    op.create_table(
        "sensor_observations",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("device_id", sa.String(length=128), nullable=False),
        sa.Column("attribute", sa.String(length=40), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("flags", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sensor_observations")),
    )
    with op.batch_alter_table("sensor_observations", schema=None) as batch_op:
        batch_op.create_index("ix_sensor_obs_series", ["device_id", "attribute", "observed_at"], unique=True)

    op.create_table(
        "sensor_rejections",
        sa.Column("device_id", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_message", sa.String(length=300), nullable=True),
        sa.PrimaryKeyConstraint("device_id", "reason", name=op.f("pk_sensor_rejections")),
    )
    op.create_table(
        "sensor_rollups",
        sa.Column("device_id", sa.String(length=128), nullable=False),
        sa.Column("attribute", sa.String(length=40), nullable=False),
        sa.Column("resolution", sa.String(length=4), nullable=False),
        sa.Column("bucket_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("min", sa.Float(), nullable=False),
        sa.Column("max", sa.Float(), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
        sa.Column("mean", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint(
            "device_id", "attribute", "resolution", "bucket_start", name=op.f("pk_sensor_rollups")
        ),
    )
    op.create_table(
        "sensor_rule_states",
        sa.Column("rule_id", sa.String(length=80), nullable=False),
        sa.Column(
            "state",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("rule_id", name=op.f("pk_sensor_rule_states")),
    )
    op.create_table(
        "sensor_alarms",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("dedupe_key", sa.String(length=200), nullable=False),
        sa.Column("rule_id", sa.String(length=80), nullable=False),
        sa.Column("area_code", sa.String(length=20), nullable=False),
        sa.Column("service_code", sa.String(length=60), nullable=False),
        sa.Column("level", sa.String(length=40), nullable=True),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_sensor_alarms_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sensor_alarms")),
    )
    with op.batch_alter_table("sensor_alarms", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sensor_alarms_area_code"), ["area_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_sensor_alarms_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sensor_alarms_dedupe_key"), ["dedupe_key"], unique=False)
        batch_op.create_index(
            "uq_sensor_alarms_open_key",
            ["dedupe_key"],
            unique=True,
            sqlite_where=sa.text("closed_at IS NULL"),
            postgresql_where=sa.text("closed_at IS NULL"),
        )

    op.create_table(
        "sensor_warnings",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("alarm_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("identifier", sa.String(length=200), nullable=False),
        sa.Column("sender", sa.String(length=200), nullable=False),
        sa.Column("sent", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("msg_type", sa.String(length=20), nullable=False),
        sa.Column("area_code", sa.String(length=20), nullable=False),
        sa.Column("level", sa.String(length=40), nullable=True),
        sa.Column(
            "cap_references",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("headline", sa.String(length=300), nullable=False),
        sa.Column("current", sa.Boolean(), nullable=False),
        sa.Column("xml", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["alarm_id"], ["sensor_alarms.id"], name=op.f("fk_sensor_warnings_alarm_id_sensor_alarms")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sensor_warnings")),
        sa.UniqueConstraint("identifier", name=op.f("uq_sensor_warnings_identifier")),
    )
    with op.batch_alter_table("sensor_warnings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sensor_warnings_alarm_id"), ["alarm_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sensor_warnings_current"), ["current"], unique=False)
        batch_op.create_index(batch_op.f("ix_sensor_warnings_sent"), ["sent"], unique=False)


def downgrade() -> None:
    for name in TABLES:
        op.drop_table(name)
