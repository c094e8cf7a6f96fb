"""Wiring: register every feature's implementation of the core's hooks (idempotent).

Called by `create_app`, the CLI root and the test suite before any command runs. A new hook is wired here.
"""

from __future__ import annotations

from kotapintar.analytics import service as analytics_service
from kotapintar.feedback import pages as feedback_pages
from kotapintar.indicators import report as indicators_report
from kotapintar.sop import hooks as sop_hooks
from kotapintar.sop import restart as sop_restart


def wire() -> None:
    """Register all hook implementations; calling it again is harmless."""
    sop_hooks.install()
    sop_restart.install()  # un-merge starts the case's SOP again (issue 15)
    feedback_pages.install()
    indicators_report.install()  # the indicators' table in the monthly report (issue 15)
    analytics_service.install()  # the analytics rollup, refreshed by the transactions that change it
