"""The log format every virtfleet process writes (key=value messages on stderr)."""

from __future__ import annotations

import logging


def configure_logging(level: str = "INFO") -> None:
    """Send records at ``level`` and above to stderr; a level set by the config file wins."""
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger().setLevel(level)
