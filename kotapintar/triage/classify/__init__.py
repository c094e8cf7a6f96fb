"""Classification of citizen report text: service code, urgency (P1–P4), confidence and alternatives."""

from kotapintar.triage.classify.model import DEFAULT_REVIEW_THRESHOLD, Classification, Classifier
from kotapintar.triage.classify.urgency import DEFAULT_PRIORITY, SERVICE_CODES, assess_urgency

__all__ = [
    "DEFAULT_PRIORITY",
    "DEFAULT_REVIEW_THRESHOLD",
    "SERVICE_CODES",
    "Classification",
    "Classifier",
    "assess_urgency",
]
