"""Network namespaces, veth pairs and the bridge that joins the simulated hosts."""

from __future__ import annotations

from pathlib import Path

from virtfleet.testbed.plan import HostPlan
from virtfleet.testbed.proc import TestbedError, run

NETNS_DIR = Path("/run/netns")


def netns_exists(name: str) -> bool:
    return (NETNS_DIR / name).exists()


def link_exists(name: str) -> bool:
    return Path("/sys/class/net", name).exists()


def create_bridge(name: str, address: str, prefix_len: int) -> None:
    """The root-namespace bridge all hosts' veths join; its address lets the root reach them."""
    run(["ip", "link", "add", name, "type", "bridge"])
    run(["ip", "addr", "add", f"{address}/{prefix_len}", "dev", name])
    run(["ip", "link", "set", name, "up"])


def create_netns(name: str) -> None:
    run(["ip", "netns", "add", name])
    run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"])


def connect_host(host: HostPlan, bridge: str) -> None:
    """A veth pair born with one end inside the host's namespace, the other on the bridge."""
    peer = ["peer", "name", host.veth_inside, "netns", host.netns]
    run(["ip", "link", "add", host.veth_root, "type", "veth", *peer])
    run(["ip", "link", "set", host.veth_root, "master", bridge])
    run(["ip", "link", "set", host.veth_root, "up"])
    inside = ["ip", "netns", "exec", host.netns, "ip"]
    run([*inside, "addr", "add", f"{host.address}/{host.prefix_len}", "dev", host.veth_inside])
    run([*inside, "link", "set", host.veth_inside, "up"])


def netns_pids(name: str) -> list[int]:
    """Every process living in the network namespace ``name``."""
    if not netns_exists(name):
        return []
    out = run(["ip", "netns", "pids", name], check=False)
    return [int(tok) for tok in out.split() if tok.isdigit()]


def delete_netns(name: str) -> None:
    """Delete the namespace; its veth end goes with it and takes the root-side peer along."""
    if netns_exists(name):
        run(["ip", "netns", "del", name], check=False)
    if netns_exists(name):
        raise TestbedError(f"network namespace {name} could not be deleted")


def delete_link(name: str) -> None:
    """Delete the link if present; a veth may vanish on its own as its peer's namespace goes."""
    if link_exists(name):
        run(["ip", "link", "del", name], check=False)
    if link_exists(name):
        raise TestbedError(f"link {name} could not be deleted")
