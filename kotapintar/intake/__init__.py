"""Intake: submit a report from any channel, assess it, keep its media and guard against abuse."""
