"""Dispatch: 112 calls, unit recommendation by road travel time, unit status timelines and response segments."""
