"""`virtfleet testbed ...`: simulated hosts in network namespaces and the tiny guest image."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from virtfleet.cli import output
from virtfleet.cli.commands import get_state
from virtfleet.cli.output import Column, field
from virtfleet.testbed.hosts import Testbed
from virtfleet.testbed.image import build_guest_image
from virtfleet.testbed.plan import DEFAULT_PREFIX, DEFAULT_SUBNET

DEFAULT_BASE_DIR = Path("/var/lib/virtfleet/testbed")
DEFAULT_IMAGE_DIR = Path("/var/lib/virtfleet/guest-image")

_STATUS_COLUMNS = (
    Column("Host", field("name")),
    Column("Address", field("address")),
    Column("Namespace", field("netns")),
    Column("libvirtd", field("libvirtd")),
    Column("virtlogd", field("virtlogd")),
    Column("URI", field("libvirt_uri")),
)

BaseDirOpt = Annotated[
    Path, typer.Option("--base-dir", help="Directory holding the hosts' state and shared storage.")
]

app = typer.Typer(
    help="A multi-host testbed on this machine and a tiny guest image.", no_args_is_help=True
)


@app.command("up")
def up(
    ctx: typer.Context,
    hosts: Annotated[int, typer.Option("--hosts", min=1, help="Number of hosts.")] = 2,
    base_dir: BaseDirOpt = DEFAULT_BASE_DIR,
    prefix: Annotated[
        str, typer.Option(help="Prefix of namespace and link names.")
    ] = DEFAULT_PREFIX,
    subnet: Annotated[
        str, typer.Option(help="Private IPv4 network of the hosts.")
    ] = DEFAULT_SUBNET,
) -> None:
    """Bring up N hosts, each a network namespace with its own libvirtd (needs root)."""
    testbed = Testbed.up(base_dir, hosts, prefix=prefix, subnet=subnet)
    _show(ctx, testbed)


@app.command("down")
def down(base_dir: BaseDirOpt = DEFAULT_BASE_DIR) -> None:
    """Stop every daemon and guest of the testbed and remove all it created."""
    Testbed.load(base_dir).down()
    output.message(f"testbed in {base_dir} removed")


@app.command("status")
def status(ctx: typer.Context, base_dir: BaseDirOpt = DEFAULT_BASE_DIR) -> None:
    """Show the hosts, their addresses, daemon PIDs and libvirt URIs."""
    _show(ctx, Testbed.load(base_dir))


@app.command("image")
def image(
    ctx: typer.Context,
    output_dir: Annotated[
        Path, typer.Option("--output", help="Cache directory for the built files.")
    ] = DEFAULT_IMAGE_DIR,
) -> None:
    """Build (or reuse) the tiny guest: kernel, busybox initramfs and an ext4 data disk."""
    built = build_guest_image(output_dir)
    result = {
        "kernel": str(built.kernel),
        "initrd": str(built.initrd),
        "data_disk": str(built.data_disk),
        "cmdline": built.cmdline,
    }
    output.render_object(result, get_state(ctx).output)


def _show(ctx: typer.Context, testbed: Testbed) -> None:
    rows = [
        {
            "name": st.host.name,
            "address": st.host.address,
            "netns": st.host.netns,
            "libvirtd": _pid_cell(st.libvirtd_pid, st.libvirtd_alive),
            "virtlogd": _pid_cell(st.virtlogd_pid, st.virtlogd_alive),
            "libvirt_uri": st.host.libvirt_uri,
            "host_uuid": st.host.host_uuid,
        }
        for st in testbed.status()
    ]
    output.render_list(
        rows, _STATUS_COLUMNS, get_state(ctx).output, title=f"shared: {testbed.shared_dir}"
    )


def _pid_cell(pid: int | None, alive: bool) -> str:
    if pid is None:
        return "-"
    return f"{pid} ({'running' if alive else 'gone'})"
