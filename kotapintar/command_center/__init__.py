"""The command center's read models and pages: operator, agency, supervisor and sensors."""
