"""Running the system tools the testbed is made of, with failures turned into domain errors."""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Sequence

from virtfleet.common.errors import VirtfleetError

log = logging.getLogger(__name__)
DEFAULT_TIMEOUT = 60.0


class TestbedError(VirtfleetError):
    """A step of building, running or removing the testbed failed."""

    __test__ = False  # not a pytest test class despite the name
    reason = "Testbed operation failed"


def run(
    argv: Sequence[str],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    check: bool = True,
    what: str | None = None,
) -> str:
    """Run ``argv`` and return its stdout; raise TestbedError with its stderr when it fails.

    ``what`` names the step in error messages instead of the whole command line.
    """
    log.debug("run argv=%s", list(argv))
    what = what or " ".join(argv)
    try:
        done = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=timeout, check=False
        )
    except FileNotFoundError as exc:
        raise TestbedError(f"{argv[0]} is not installed") from exc
    except subprocess.TimeoutExpired as exc:
        raise TestbedError(f"{what} did not finish within {timeout:g} s") from exc
    if check and done.returncode != 0:
        detail = (done.stderr or done.stdout).strip()
        raise TestbedError(f"{what} failed ({done.returncode}): {detail}")
    return done.stdout
