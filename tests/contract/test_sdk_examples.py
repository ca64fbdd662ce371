"""The SDK's own example scripts, unchanged but for their connection details, against a live
engine (``virtfleet up`` with one simulated host besides the local one).

The examples run in the order a user would run them, on the names they use (``mydc``,
``mycluster``, ``myhost``, ``myvm``...). Where an example assumes something that no example makes
(a host named ``myhost``, a VM named ``myvm0``, a SPICE display), the test makes it through the SDK
first, as the user would. Each example must exit 0; its effect is then checked through the API.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import ovirtsdk4 as sdk
import ovirtsdk4.types as types
import pytest

from support.sdkexamples import Connection, run_example, sdk_examples

from .conftest import ADMIN, LiveEngine, running_engine, wait_for_status, wait_until

pytestmark = pytest.mark.contract

EXAMPLE_TIMEOUT_S = 180.0
POLL_EVENTS_S = 12.0


class Examples:
    """Runs examples against one engine, each in the same working directory."""

    def __init__(self, directory: Path, engine: LiveEngine, workdir: Path) -> None:
        self.directory = directory
        self.engine = engine
        self.workdir = workdir
        self.connection = Connection(
            url=engine.api_url, username=ADMIN, password=engine.password, ca_file=engine.ca_file
        )

    def run(self, name: str) -> str:
        """Run one example; its standard output, once it has exited 0."""
        done = run_example(
            self.directory, name, self.connection, self.workdir, timeout=EXAMPLE_TIMEOUT_S
        )
        assert done.returncode == 0, (
            f"{name}.py exited {done.returncode}:\n{done.stderr[-3000:]}\n"
            f"engine log:\n{self.engine.log_tail()}"
        )
        return done.stdout


@pytest.fixture(scope="module")
def live() -> Iterator[LiveEngine]:
    with running_engine(simulate=1) as engine:
        yield engine


@pytest.fixture(scope="module")
def admin(live: LiveEngine) -> Iterator[sdk.services.SystemService]:
    connection = live.connect()
    try:
        yield connection.system_service()
    finally:
        connection.close()


@pytest.fixture(scope="module")
def examples(live: LiveEngine, tmp_path_factory: pytest.TempPathFactory) -> Examples:
    try:
        directory = sdk_examples()
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        pytest.fail(f"the SDK's examples could not be fetched from the package index: {exc}")
    return Examples(directory, live, tmp_path_factory.mktemp("sdk-examples"))


def test_connection_and_summary_examples(
    examples: Examples, admin: sdk.services.SystemService
) -> None:
    assert "Connection works." in examples.run("test_connection")
    wait_until(
        lambda: all(h.status == types.HostStatus.UP for h in admin.hosts_service().list()) or None,
        EXAMPLE_TIMEOUT_S,
        "both hosts up",
    )
    assert "hosts: 2" in examples.run("show_summary")
    assert "root" in examples.run("list_tags")


def test_data_center_cluster_and_network_examples(
    examples: Examples, admin: sdk.services.SystemService
) -> None:
    examples.run("add_data_center")
    assert "mydc: Updated description" in examples.run("update_data_center")
    examples.run("add_cluster")
    examples.run("add_logical_network")
    examples.run("assign_network_to_cluster")
    listed = examples.run("list_cluster_networks")

    dc = admin.data_centers_service().list(search="name=mydc")[0]
    cluster = admin.clusters_service().list(search="name=mycluster")[0]
    assert cluster.data_center.id == dc.id
    assert cluster.cpu.type == "Intel Conroe Family"
    networks = admin.clusters_service().cluster_service(cluster.id).networks_service().list()
    assert {n.name for n in networks} == {"ovirtmgmt", "mynetwork"}
    assert next(n for n in networks if n.name == "mynetwork").required is True
    assert "name: mynetwork" in listed and "name: ovirtmgmt" in listed


def test_host_examples(examples: Examples, admin: sdk.services.SystemService) -> None:
    hosts = admin.hosts_service()
    simulated = hosts.list(search="name=sim-0001")[0]
    hosts.host_service(simulated.id).update(types.Host(name="myhost"))

    examples.run("change_host_cluster")
    assert "memory.total:" in examples.run("list_host_statistics")

    host = hosts.host_service(simulated.id).get()
    assert host.status == types.HostStatus.UP
    assert admin.clusters_service().cluster_service(host.cluster.id).get().name == "mycluster"


def test_vm_examples(examples: Examples, admin: sdk.services.SystemService) -> None:
    examples.run("add_vm")
    vms = admin.vms_service()
    vm = vms.list(search="name=myvm")[0]
    wait_for_status(vms.vm_service(vm.id).get, types.VmStatus.DOWN)
    examples.run("add_vm_nic")
    examples.run("set_vm_serial_number")
    examples.run("enable_serial_console")
    assert "myvm" in examples.run("list_vms")
    assert "myvm" in examples.run("search_vms")
    examples.run("follow_vm_links")
    examples.run("page_vms")

    examples.run("start_vm")
    assert vms.vm_service(vm.id).get().status == types.VmStatus.UP
    examples.run("stop_vm")
    examples.run("start_vm_with_boot_devices")
    assert vms.vm_service(vm.id).get().os.boot.devices == [types.BootDevice.HD]  # one run's
    examples.run("stop_vm")
    examples.run("start_vm_with_cloud_init")  # returns once the start is accepted
    wait_for_status(vms.vm_service(vm.id).get, types.VmStatus.UP)
    examples.run("stop_vm")

    vm = vms.vm_service(vm.id).get()
    assert vm.status == types.VmStatus.DOWN
    assert vm.serial_number.value == "myserial"
    assert vm.console.enabled is True
    [nic] = vms.vm_service(vm.id).nics_service().list()
    profile = admin.vnic_profiles_service().profile_service(nic.vnic_profile.id).get()
    assert (nic.name, profile.name) == ("mynic", "mynetwork")


def test_console_examples(examples: Examples, admin: sdk.services.SystemService) -> None:
    vms = admin.vms_service()
    vm = vms.list(search="name=myvm")[0]
    consoles = vms.vm_service(vm.id).graphics_consoles_service()
    # a SPICE-only VM: get_display_ticket reads its SPICE console, add_vnc_console adds VNC
    consoles.add(types.GraphicsConsole(protocol=types.GraphicsType.SPICE))
    consoles.console_service(b"vnc".hex()).remove()

    examples.run("start_vm")
    shown = examples.run("get_display_ticket")
    examples.run("stop_vm")
    examples.run("add_vnc_console")

    password = next(line for line in shown.splitlines() if line.startswith("password: "))
    assert len(password.removeprefix("password: ")) == 12
    assert [c.protocol for c in consoles.list()] == [
        types.GraphicsType.SPICE,
        types.GraphicsType.VNC,
    ]


def test_tag_examples(examples: Examples, admin: sdk.services.SystemService) -> None:
    examples.run("add_tag")
    admin.vms_service().add(
        types.Vm(
            name="myvm0",
            cluster=types.Cluster(name="mycluster"),
            template=types.Template(name="Blank"),
        )
    )
    examples.run("assign_tag_to_vm")
    assert "mytag" in examples.run("list_tags_of_vm")
    examples.run("unassign_tag_to_vm")
    assert "mytag" not in examples.run("list_tags_of_vm")
    examples.run("remove_tag")
    assert "mytag" not in {t.name for t in admin.tags_service().list()}


def test_poll_events_follows_the_event_log(examples: Examples) -> None:
    """The example polls for ever; a few seconds show the newest event and record its id."""
    with pytest.raises(subprocess.TimeoutExpired) as ran:
        run_example(
            examples.directory,
            "poll_events",
            examples.connection,
            examples.workdir,
            timeout=POLL_EVENTS_S,
        )
    output = ran.value.stdout or b""
    text = output.decode() if isinstance(output, bytes) else output
    assert " - " in text, text
    index = (examples.workdir / "index.txt").read_text()
    assert int(index) > 0


def test_remove_examples(examples: Examples, admin: sdk.services.SystemService) -> None:
    examples.run("remove_vm")
    examples.run("remove_host")
    assert admin.vms_service().list(search="name=myvm") == []
    assert admin.hosts_service().list(search="name=myhost") == []


def test_asynchronous_inventory_loads_every_vms_reported_devices(
    examples: Examples, admin: sdk.services.SystemService
) -> None:
    output = examples.run("asynchronous_inventory")

    vms = admin.vms_service().list()
    assert f"Loaded {len(vms)} VMs." in output
    assert "Loaded VM reported devices." in output
    assert output.count("Loaded reported devices of VM") == len(vms)
