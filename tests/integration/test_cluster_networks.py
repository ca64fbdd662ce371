"""Networks attached to clusters: what a cluster lists, attach with required and roles, the
roles moving between networks, and the detaches that are refused."""

from __future__ import annotations

from typing import Any

from test_vms_lab import API, VmLab, vmlab_fixture  # noqa: F401


async def _cluster(vmlab: VmLab, name: str = "Default") -> dict[str, Any]:
    [cluster] = (await vmlab.http.get(f"{API}/clusters?search=name={name}")).json()["cluster"]
    return cluster  # type: ignore[no-any-return]


async def _network(vmlab: VmLab, name: str, **fields: Any) -> dict[str, Any]:
    body = {"name": name, "data_center": {"name": "Default"}, **fields}
    reply = await vmlab.http.post(f"{API}/networks", json=body)
    assert reply.status_code == 201, reply.text
    return reply.json()  # type: ignore[no-any-return]


async def _attached(vmlab: VmLab, cluster_id: str) -> dict[str, dict[str, Any]]:
    reply = await vmlab.http.get(f"{API}/clusters/{cluster_id}/networks")
    assert reply.status_code == 200, reply.text
    return {n["name"]: n for n in reply.json().get("network", [])}


def _usages(network: dict[str, Any]) -> set[str]:
    return set(network.get("usages", {}).get("usage", []))


async def test_a_cluster_lists_only_its_attached_networks(vmlab: VmLab) -> None:
    cluster = await _cluster(vmlab)
    await _network(vmlab, "storage")
    listed = await _attached(vmlab, cluster["id"])
    assert list(listed) == ["ovirtmgmt"]
    assert _usages(listed["ovirtmgmt"]) == {"vm", "management", "display", "migration"}
    assert listed["ovirtmgmt"]["required"] is True


async def test_a_new_cluster_gets_the_management_network_attached(vmlab: VmLab) -> None:
    cpu = {"type": "Intel Conroe Family"}
    body = {"name": "c2", "data_center": {"name": "Default"}, "cpu": cpu}
    created = (await vmlab.http.post(f"{API}/clusters", json=body)).json()
    assert list(await _attached(vmlab, created["id"])) == ["ovirtmgmt"]
    lonely = (await vmlab.http.post(f"{API}/clusters", json={"name": "c3"})).json()
    assert await _attached(vmlab, lonely["id"]) == {}


async def test_attach_with_roles_takes_them_from_the_other_network(vmlab: VmLab) -> None:
    cluster = await _cluster(vmlab)
    network = await _network(vmlab, "mig", usages={"usage": []})
    base = f"{API}/clusters/{cluster['id']}/networks"
    body = {"id": network["id"], "required": False, "usages": {"usage": ["migration"]}}
    reply = await vmlab.http.post(base, json=body)
    assert reply.status_code == 201, reply.text
    assert (reply.json()["required"], _usages(reply.json())) == (False, {"migration"})

    listed = await _attached(vmlab, cluster["id"])
    assert _usages(listed["mig"]) == {"migration"}
    assert _usages(listed["ovirtmgmt"]) == {"vm", "management", "display"}

    changed = await vmlab.http.put(
        f"{base}/{network['id']}", json={"required": True, "usages": {"usage": ["display"]}}
    )
    assert changed.status_code == 200, changed.text
    listed = await _attached(vmlab, cluster["id"])
    assert (listed["mig"]["required"], _usages(listed["mig"])) == (True, {"display"})
    assert _usages(listed["ovirtmgmt"]) == {"vm", "management"}

    assert (await vmlab.http.delete(f"{base}/{network['id']}")).status_code == 200
    assert list(await _attached(vmlab, cluster["id"])) == ["ovirtmgmt"]


async def test_a_network_is_attached_by_name_once(vmlab: VmLab) -> None:
    cluster = await _cluster(vmlab)
    await _network(vmlab, "web")
    base = f"{API}/clusters/{cluster['id']}/networks"
    assert (await vmlab.http.post(base, json={"name": "web"})).status_code == 201
    again = await vmlab.http.post(base, json={"name": "web"})
    assert again.status_code == 409
    assert "already attached" in again.json()["detail"]


async def test_bad_attachments_are_refused_naming_what_is_wrong(vmlab: VmLab) -> None:
    cluster = await _cluster(vmlab)
    web = await _network(vmlab, "web")
    base = f"{API}/clusters/{cluster['id']}/networks"
    cases = [
        ({"id": web["id"], "mtu": 9000}, 400, "mtu"),
        ({"id": web["id"], "usages": {"usage": ["gluster"]}}, 400, "gluster"),
        ({"name": "nowhere"}, 404, "nowhere"),
        ({}, 400, "Name the network"),
    ]
    for body, status, named in cases:
        reply = await vmlab.http.post(base, json=body)
        assert reply.status_code == status, (body, reply.text)
        assert named in reply.json()["detail"]
    other_dc = (await vmlab.http.post(f"{API}/datacenters", json={"name": "dc2"})).json()
    foreign = (await vmlab.http.get(f"{API}/datacenters/{other_dc['id']}/networks")).json()
    reply = await vmlab.http.post(base, json={"id": foreign["network"][0]["id"]})
    assert reply.status_code == 409 and "another data center" in reply.json()["detail"]
    assert list(await _attached(vmlab, cluster["id"])) == ["ovirtmgmt"]


async def test_the_management_network_stays_attached(vmlab: VmLab) -> None:
    cluster = await _cluster(vmlab)
    mgmt = (await _attached(vmlab, cluster["id"]))["ovirtmgmt"]
    base = f"{API}/clusters/{cluster['id']}/networks/{mgmt['id']}"
    detached = await vmlab.http.delete(base)
    assert detached.status_code == 409 and "management network" in detached.json()["detail"]
    demoted = await vmlab.http.put(base, json={"usages": {"usage": ["display"]}})
    assert demoted.status_code == 409
    assert _usages((await _attached(vmlab, cluster["id"]))["ovirtmgmt"]) >= {"management"}


async def test_a_network_a_vnic_uses_cannot_be_detached(vmlab: VmLab) -> None:
    cluster = await _cluster(vmlab)
    web = await _network(vmlab, "web")
    base = f"{API}/clusters/{cluster['id']}/networks"
    assert (await vmlab.http.post(base, json={"id": web["id"]})).status_code == 201
    profiles = (await vmlab.http.get(f"{API}/vnicprofiles?search=name=web")).json()
    vm = await vmlab.add_vm("vm1")
    nic = {"name": "nic1", "vnic_profile": {"id": profiles["vnic_profile"][0]["id"]}}
    assert (await vmlab.http.post(f"{API}/vms/{vm['id']}/nics", json=nic)).status_code == 201

    refused = await vmlab.http.delete(f"{base}/{web['id']}")
    assert refused.status_code == 409
    assert "1 VM network interface(s) use it" in refused.json()["detail"]
    assert "web" in await _attached(vmlab, cluster["id"])


async def test_a_vnic_takes_only_a_network_its_vms_cluster_has(vmlab: VmLab) -> None:
    cluster = await _cluster(vmlab)
    await _network(vmlab, "backup")
    profiles = (await vmlab.http.get(f"{API}/vnicprofiles?search=name=backup")).json()
    vm = await vmlab.add_vm("vm1")
    nic = {"name": "nic1", "vnic_profile": {"id": profiles["vnic_profile"][0]["id"]}}
    nics = f"{API}/vms/{vm['id']}/nics"

    refused = await vmlab.http.post(nics, json=nic)
    assert refused.status_code == 409, refused.text
    assert "network backup" in refused.json()["detail"]
    assert "not attached to cluster Default" in refused.json()["detail"]
    assert (await vmlab.http.get(nics)).json() == {}

    plain = await vmlab.http.post(nics, json={"name": "nic1"})
    assert plain.status_code == 201, plain.text
    moved = await vmlab.http.put(f"{nics}/{plain.json()['id']}", json=nic)
    assert moved.status_code == 409, moved.text

    network_id = profiles["vnic_profile"][0]["network"]["id"]
    attach = await vmlab.http.post(
        f"{API}/clusters/{cluster['id']}/networks", json={"id": network_id}
    )
    assert attach.status_code == 201, attach.text
    assert (await vmlab.http.put(f"{nics}/{plain.json()['id']}", json=nic)).status_code == 200
