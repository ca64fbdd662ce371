"""The reverter runs registered undos newest first and keeps going past failures."""

from __future__ import annotations

from virtfleet.common.errors import NotFound
from virtfleet.engine.commands.revert import Reverter, Undo, describe_error


async def test_undos_run_newest_first_and_failures_are_reported() -> None:
    trail: list[str] = []

    def undo(name: str, fail: bool = False) -> Undo:
        async def run() -> None:
            trail.append(name)
            if fail:
                raise NotFound("volume vol-2 is gone")

        return run

    reverter = Reverter()
    reverter.add("one", undo("one"))
    reverter.add("two", undo("two", fail=True))
    reverter.add("three", undo("three"))

    failures = await reverter.revert()

    assert trail == ["three", "two", "one"]
    assert failures == ["two: volume vol-2 is gone"]
    assert len(reverter) == 0


def test_error_text_is_the_domain_detail_or_the_exception() -> None:
    assert describe_error(NotFound("The VM is gone")) == "The VM is gone"
    assert describe_error(ValueError("bad size")) == "ValueError: bad size"
    assert describe_error(TimeoutError()) == "TimeoutError"
