"""Reading a process's settings from one TOML file: every key applied or refused by name.

The engine and the agent each declare their settings as a pydantic model that forbids extra
keys; this module turns the file into that model and every problem into one ``InvalidInput``
line that names the file and the offending key, so a typo never passes silently and a bad value
never surfaces as a traceback.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, ValidationError

from virtfleet.common.errors import InvalidInput
from virtfleet.common.validation import describe_errors

M = TypeVar("M", bound=BaseModel)
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


def read_settings(model: type[M], path: Path, *, what: str, path_keys: Iterable[str] = ()) -> M:
    """Load ``path`` as ``model``; relative ``path_keys`` are taken from the file's directory."""
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInput(f"cannot read the {what} config {path}: {exc}") from None
    for key in path_keys:
        value = raw.get(key)
        if isinstance(value, str):
            raw[key] = str(path.parent / Path(value).expanduser())
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise InvalidInput(f"{what} config {path}: {describe_errors(exc)}") from None
