"""join the parts' migrations (SOP, dispatch, channels, triage, sensors) into one head

Each part branched from the spine while they were built side by side; this revision changes nothing in
the schema, it only gives the history a single head again so the next migration has one parent.

Revision ID: 0008_merge_parts
Revises: 0002_sop_runtime, 0003_dispatch_calls_units, 0004_channels_intake, 0005_triage_places_overrides,
         0007_sensors_obs_warnings
"""

from collections.abc import Sequence

revision: str = "0008_merge_parts"
down_revision: str | Sequence[str] | None = (
    "0002_sop_runtime",
    "0003_dispatch_calls_units",
    "0004_channels_intake",
    "0005_triage_places_overrides",
    "0007_sensors_obs_warnings",
)
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing to change: the parent revisions already created every table."""


def downgrade() -> None:
    """Nothing to undo."""
