"""simhosts: one process running many simulated agents, for benchmarks that need a fleet.

Each agent is a real ``AgentServer`` with its own libvirt ``test:///`` node file, its own port
and identity, speaking the real protocol over mutual TLS; all share one event loop.

Protocol: on start-up the process prints one JSON line ``{"ready": true, "agents": [...]}``
(name, port, secret, host_uuid of each agent). Then it reads commands from stdin, one a line:

- ``running`` -> ``{"running": N}``: how many domains run on this process's hosts;
- ``destroy N INTERVAL_S`` / ``pause N INTERVAL_S`` -> one ``{"vm_id", "action", "t"}`` line per
  change (``t`` = ``time.time()`` just before the libvirt call), then ``{"done": N}``;
- ``quit`` (or end of input) stops every agent and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import secrets
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script or a module

from virtfleet.agent.config import AgentConfig
from virtfleet.agent.hypervisor.base import HypervisorDriver
from virtfleet.agent.hypervisor.factory import open_driver
from virtfleet.agent.hypervisor.testdriver.node import write_node_file
from virtfleet.agent.identity import AgentIdentity
from virtfleet.agent.server import AgentServer
from virtfleet.agent.storage.ops import StorageOps
from virtfleet.common.errors import VirtfleetError
from virtfleet.common.protocol import VmRunState

log = logging.getLogger("simhosts")


@dataclass
class SimHost:
    name: str
    secret: str
    driver: HypervisorDriver
    server: AgentServer


def _emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def start_host(base: Path, name: str, stats_interval_s: float) -> SimHost:
    """One agent on an ephemeral loopback port with a fresh node file and identity."""
    directory = base / name
    secret = secrets.token_urlsafe(18)
    uri = await asyncio.to_thread(write_node_file, directory / "node.xml")
    config = AgentConfig(
        listen_host="127.0.0.1",
        port=0,
        data_dir=directory,
        driver_uri=uri,
        enrollment_secret=secret,
        stats_interval_s=stats_interval_s,
    )
    identity = await asyncio.to_thread(AgentIdentity.load_or_create, directory)
    driver = open_driver(uri, host_uuid=identity.host_uuid)
    await asyncio.to_thread(driver.open)
    server = AgentServer(config, driver, StorageOps(), identity=identity)
    await server.start()
    return SimHost(name, secret, driver, server)


def _running(hosts: list[SimHost]) -> list[tuple[SimHost, str]]:
    found = []
    for host in hosts:
        for state in host.driver.list_vms():
            if state.state == VmRunState.RUNNING:
                found.append((host, state.vm_id))
    return found


def _change(host: SimHost, vm_id: str, action: str) -> float:
    started = time.time()
    if action == "destroy":
        host.driver.destroy_vm(vm_id)
    else:
        host.driver.pause_vm(vm_id)
    return started


async def _changes(hosts: list[SimHost], action: str, count: int, interval_s: float) -> None:
    candidates = await asyncio.to_thread(_running, hosts)
    chosen = random.sample(candidates, min(count, len(candidates)))
    done = 0
    for host, vm_id in chosen:
        try:
            started = await asyncio.to_thread(_change, host, vm_id, action)
        except VirtfleetError as exc:
            log.warning("%s %s failed: %s", action, vm_id, exc)
        else:
            done += 1
            _emit({"vm_id": vm_id, "host": host.name, "action": action, "t": started})
        await asyncio.sleep(interval_s)
    _emit({"done": done})


async def _serve_commands(hosts: list[SimHost]) -> None:
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        words = line.split()
        if not line or words[:1] == ["quit"]:
            return
        if words[:1] == ["running"]:
            _emit({"running": len(await asyncio.to_thread(_running, hosts))})
        elif words[:1] in (["destroy"], ["pause"]) and len(words) == 3:
            await _changes(hosts, words[0], int(words[1]), float(words[2]))
        else:
            _emit({"error": f"unknown command {line.strip()!r}"})


async def run(base: Path, count: int, prefix: str, stats_interval_s: float) -> None:
    hosts: list[SimHost] = []
    try:
        for batch in range(0, count, 50):
            names = [f"{prefix}{i:04d}" for i in range(batch, min(count, batch + 50))]
            hosts += await asyncio.gather(
                *(start_host(base, name, stats_interval_s) for name in names)
            )
        _emit(
            {
                "ready": True,
                "agents": [
                    {
                        "name": h.name,
                        "port": h.server.port,
                        "secret": h.secret,
                        "host_uuid": h.server.identity.host_uuid,
                    }
                    for h in hosts
                ],
            }
        )
        await _serve_commands(hosts)
    finally:
        await asyncio.gather(*(h.server.stop() for h in hosts), return_exceptions=True)
        for host in hosts:
            await asyncio.to_thread(host.driver.close)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, required=True, help="how many agents")
    parser.add_argument("--base-dir", type=Path, required=True, help="their data dirs")
    parser.add_argument("--prefix", default="sim-", help="host name prefix")
    parser.add_argument("--stats-interval", type=float, default=15.0)
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    asyncio.run(run(args.base_dir, args.count, args.prefix, args.stats_interval))


if __name__ == "__main__":
    main()
