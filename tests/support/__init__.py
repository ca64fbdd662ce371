"""Helpers shared by the test suites (imported as ``support``, with ``tests/`` on sys.path)."""
