"""Alembic environment: runs migrations on the connection or URL given by kotapintar.core.db.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

from kotapintar.app.models import metadata

config = context.config
target_metadata = metadata

# Search objects made by raw DDL in migration 0011 (no model can declare them): SQLite's FTS5 table with
# its shadow tables, and PostgreSQL's GIN expression index. Autogenerate and `alembic check` leave them be.
RAW_DDL_PREFIXES = ("cases_fts", "ix_cases_fts_")


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """False for the database objects only migrations manage (see RAW_DDL_PREFIXES)."""
    return not (reflected and compare_to is None and (name or "").startswith(RAW_DDL_PREFIXES))


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
