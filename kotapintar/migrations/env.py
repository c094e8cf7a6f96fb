"""Alembic environment: runs migrations on the connection or URL given by kotapintar.core.db.migrate."""

from __future__ import annotations

import re

from alembic import context
from sqlalchemy import engine_from_config, pool

from kotapintar.app.models import metadata
from kotapintar.core.db.partitions import TABLES as PARTITIONED

config = context.config
target_metadata = metadata

# Search objects made by raw DDL in migration 0011 (no model can declare them): SQLite's FTS5 table with
# its shadow tables, and PostgreSQL's GIN expression index. Autogenerate and `alembic check` leave them be.
RAW_DDL_PREFIXES = ("cases_fts", "ix_cases_fts_")

# PostgreSQL partitions of the tables migration 0017 partitions by month (`events_p2026_12`, `events_default`):
# made by the migration and `kotapintar db partitions`, never by a model.
PARTITION_NAME = re.compile(rf"^({'|'.join(t.name for t in PARTITIONED)})_(p\d{{4}}_\d{{2}}|default)$")
PARTITION_KEYS = {t.name: t.column for t in PARTITIONED}


def _columns(obj: object) -> set[str]:
    return {c.name for c in getattr(obj, "columns", ())}


def _only_partition_key_added(obj: object, compare_to: object) -> bool:
    """True for a unique constraint or index that differs from its model only by the partition key, which
    PostgreSQL requires in every unique key of a partitioned table (e.g. uq_events_stream_seq)."""
    table = getattr(getattr(obj, "table", None), "name", None)
    key = PARTITION_KEYS.get(str(table))
    return key is not None and compare_to is not None and _columns(obj) ^ _columns(compare_to) == {key}


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """False for the database objects only migrations manage (see RAW_DDL_PREFIXES, PARTITION_NAME)."""
    if reflected and compare_to is None and (name or "").startswith(RAW_DDL_PREFIXES):
        return False
    if type_ == "table" and reflected and compare_to is None and PARTITION_NAME.match(name or ""):
        return False
    return not (type_ in ("unique_constraint", "index") and _only_partition_key_added(obj, compare_to))


def run_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=True,
            include_object=include_object,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = engine_from_config(
        config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.", poolclass=pool.NullPool
    )
    with engine.connect() as conn:
        context.configure(
            connection=conn,
            target_metadata=target_metadata,
            render_as_batch=True,
            include_object=include_object,
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
