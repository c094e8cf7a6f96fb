"""Every feature's tables on the one metadata: what Alembic compares against and what tests reset.

Importing this module registers all tables; a new feature with a `models.py` adds one line here.
"""

from __future__ import annotations

from kotapintar.analytics import models as analytics_models
from kotapintar.cases import models as cases_models
from kotapintar.catalog import models as catalog_models
from kotapintar.channels import models as channels_models
from kotapintar.core.access import models as access_models
from kotapintar.core.db import shared_models
from kotapintar.core.db.base import Base
from kotapintar.core.events import models as events_models
from kotapintar.dispatch import models as dispatch_models
from kotapintar.feedback import models as feedback_models
from kotapintar.indicators import models as indicators_models
from kotapintar.intake import models as intake_models
from kotapintar.sensors import models as sensors_models
from kotapintar.sop import models as sop_models
from kotapintar.triage import models as triage_models

FEATURE_MODELS = (
    access_models,
    events_models,
    catalog_models,
    cases_models,
    triage_models,
    sop_models,
    intake_models,
    dispatch_models,
    sensors_models,
    channels_models,
    feedback_models,
    shared_models,  # shared versions and rate-limit hits (issue 19)
    indicators_models,  # imported smart-city indicator values (issue 15)
    analytics_models,  # the analytics rollup (task and incident rows) and stored monthly reports (issue 15)
)

metadata = Base.metadata
