"""Engine side of the agent protocol: typed calls to agents and their enrollment."""

from virtfleet.engine.agentclient.client import AgentClient, NotificationCallback
from virtfleet.engine.agentclient.enroll import engine_client_context, enroll_agent

__all__ = ["AgentClient", "NotificationCallback", "engine_client_context", "enroll_agent"]
