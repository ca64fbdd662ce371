"""Contract tests against a live engine."""
