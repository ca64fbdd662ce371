"""One line that names every field a pydantic model refused, for settings files and replies."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError


def _describe(error: Any, noun: str) -> str:
    key = ".".join(str(part) for part in error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    if not key:
        return message
    if error["type"] == "extra_forbidden":
        return f"unknown {noun} {key!r}"
    if error["type"] == "missing":
        return f"missing {noun} {key!r}"
    return f"{noun} {key!r}: {message}"


def describe_errors(error: ValidationError, noun: str = "setting") -> str:
    """One line naming every refused key (a ``noun``), in the document's order."""
    return "; ".join(_describe(item, noun) for item in error.errors())
