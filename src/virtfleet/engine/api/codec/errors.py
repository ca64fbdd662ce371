"""Turning model validation failures into one readable fault detail."""

from __future__ import annotations

import pydantic


def describe_validation_error(exc: pydantic.ValidationError) -> str:
    """oVirt-style detail: which element is wrong and why, first problems first."""
    parts = []
    for error in exc.errors()[:5]:
        location = ".".join(str(p) for p in error["loc"]) or "body"
        parts.append(f"{location}: {error['msg']}")
    more = len(exc.errors()) - 5
    if more > 0:
        parts.append(f"and {more} more")
    return "Invalid value — " + "; ".join(parts)
