"""portal: how a report's point was placed (accuracy, source) and full-text search over public case words

Revision ID: 0015_portal_search_location
Revises: 0014_answerloop_ikm_survey

- `reports` and `cases` get `location_accuracy_m` (the device's stated accuracy, metres) and
  `location_source` (gps | map | manual | address); the case keeps its first report's, for the metrics.
- Search: on SQLite an FTS5 table `cases_fts` over cases.title and cases.description (external content,
  kept by triggers); on PostgreSQL a GIN index on `to_tsvector('simple', title || ' ' || description)`.
  A SQLite built without FTS5 gets neither and the portal falls back to LIKE.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_portal_search_location"
down_revision: str | Sequence[str] | None = "0014_answerloop_ikm_survey"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PG_INDEX = "ix_cases_fts_simple"
# Must be the same expression, character for character, as PublicRepository's search (or the index is unused).
PG_EXPRESSION = "to_tsvector('simple', coalesce(title, '') || ' ' || coalesce(description, ''))"

SQLITE_FTS = (
    "CREATE VIRTUAL TABLE cases_fts USING fts5(title, description, content='cases', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER cases_fts_ai AFTER INSERT ON cases BEGIN "
    "INSERT INTO cases_fts(rowid, title, description) VALUES (new.id, new.title, new.description); END",
    "CREATE TRIGGER cases_fts_ad AFTER DELETE ON cases BEGIN "
    "INSERT INTO cases_fts(cases_fts, rowid, title, description) "
    "VALUES ('delete', old.id, old.title, old.description); END",
    "CREATE TRIGGER cases_fts_au AFTER UPDATE OF title, description ON cases BEGIN "
    "INSERT INTO cases_fts(cases_fts, rowid, title, description) "
    "VALUES ('delete', old.id, old.title, old.description); "
    "INSERT INTO cases_fts(rowid, title, description) VALUES (new.id, new.title, new.description); END",
    "INSERT INTO cases_fts(cases_fts) VALUES ('rebuild')",
)


def _sqlite_has_fts5(bind: sa.engine.Connection) -> bool:
    options = {str(row[0]) for row in bind.exec_driver_sql("PRAGMA compile_options").fetchall()}
    return "ENABLE_FTS5" in options


def upgrade() -> None:
    """Add the location columns, then the search index of the database in use."""
    for table in ("reports", "cases"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("location_accuracy_m", sa.Float(), nullable=True))
            batch_op.add_column(sa.Column("location_source", sa.String(length=20), nullable=True))
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(f"CREATE INDEX {PG_INDEX} ON cases USING gin ({PG_EXPRESSION})")
    elif bind.dialect.name == "sqlite" and _sqlite_has_fts5(bind):
        for statement in SQLITE_FTS:
            op.execute(statement)


def downgrade() -> None:
    """Drop the search index and the location columns."""
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {PG_INDEX}")
    elif bind.dialect.name == "sqlite":
        for name in ("cases_fts_ai", "cases_fts_ad", "cases_fts_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS cases_fts")
    for table in ("cases", "reports"):
        if bind.dialect.name == "sqlite":
            # ALTER TABLE … DROP COLUMN (SQLite 3.35+), not batch mode: rebuilding `cases` would fail on the
            # foreign keys that point at it and would drop every trigger on it.
            for column in ("location_source", "location_accuracy_m"):
                op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
            continue
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("location_source")
            batch_op.drop_column("location_accuracy_m")
