"""Persisted multi-step commands, each followed by a job, resumed or rolled back after restarts."""

from virtfleet.engine.commands.context import CommandContext
from virtfleet.engine.commands.definition import CommandDefinition, Recovery, Step
from virtfleet.engine.commands.runner import CommandRunner

__all__ = ["CommandContext", "CommandDefinition", "CommandRunner", "Recovery", "Step"]
