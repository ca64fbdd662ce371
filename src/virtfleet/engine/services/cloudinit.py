"""oVirt's ``initialization`` as a NoCloud seed: ``meta-data``, ``user-data`` (#cloud-config,
with the custom script appended as oVirt does) and a version 1 ``network-config``.

Fields cloud-init cannot apply (the sysprep ones for Windows) are refused, naming them; so is a
payload over ``MAX_SEED_BYTES``, before anything is created.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from virtfleet.common import apimodel as m
from virtfleet.common.apimodel.enums import BootProtocol, IpVersion
from virtfleet.common.errors import InvalidInput
from virtfleet.common.protocol import CloudInitSeed

MAX_SEED_BYTES = 64 * 1024
# Windows (sysprep) settings and others with no cloud-init meaning here.
UNSUPPORTED = (
    "configuration",
    "regenerate_ids",
    "input_locale",
    "ui_language",
    "system_locale",
    "user_locale",
    "windows_license_key",
    "active_directory_ou",
    "org_name",
    "cloud_init_network_protocol",
)
_TOP_KEY = re.compile(r"^([A-Za-z_][\w-]*)\s*:", re.MULTILINE)

Yaml = Mapping[str, Any] | Sequence[Any] | str | int | bool


def _scalar(value: str | int | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return _quoted(value)


_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r", '"': '\\"', "\\": "\\\\"}


def _quoted(text: str) -> str:
    """A YAML double-quoted scalar: printable ASCII as is, everything else escaped."""
    out = []
    for ch in text:
        code = ord(ch)
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif 0x20 <= code < 0x7F:
            out.append(ch)
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return '"' + "".join(out) + '"'


def _yaml_lines(value: Yaml, indent: int = 0) -> list[str]:
    """Block-style YAML, so that oVirt's custom script can follow as more top-level keys."""
    pad = " " * indent
    lines: list[str] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            name = _quoted(key)  # quoted, or YAML 1.1 reads a key ``on`` as true
            if isinstance(item, Mapping | list):
                lines += [f"{pad}{name}:", *_yaml_lines(item, indent + 2)]
            else:
                lines.append(f"{pad}{name}: {_scalar(item)}")
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, Mapping | list):
                nested = _yaml_lines(item, indent + 2)
                lines += [f"{pad}- {nested[0].lstrip()}", *nested[1:]]
            else:
                lines.append(f"{pad}- {_scalar(item)}")
    else:
        raise TypeError(f"not a YAML collection: {value!r}")
    return lines


def to_yaml(value: Mapping[str, Any], header: str | None = None) -> str:
    lines = ([header] if header else []) + _yaml_lines(value)
    return "\n".join(lines) + "\n"


def refuse_unsupported(init: m.Initialization) -> None:
    given = [name for name in UNSUPPORTED if getattr(init, name) is not None]
    if given:
        raise InvalidInput(f"These initialization fields are not supported: {', '.join(given)}")


def _split(words: str | None) -> list[str]:
    return [w for w in re.split(r"[\s,]+", words or "") if w]


def user_config(init: m.Initialization) -> dict[str, Any]:
    """The #cloud-config keys for host name, time zone, the user, its password and keys."""
    config: dict[str, Any] = {}
    if init.host_name:
        config["hostname"] = init.host_name
        if init.domain:
            config["fqdn"] = f"{init.host_name}.{init.domain}"
    if init.timezone:
        config["timezone"] = init.timezone
    user = init.user_name or "root"
    keys = [line.strip() for line in (init.authorized_ssh_keys or "").splitlines() if line.strip()]
    if user == "root":
        if init.root_password or keys:
            config["disable_root"] = False
        if keys:
            config["ssh_authorized_keys"] = keys
    else:
        account: dict[str, Any] = {"name": user, "lock_passwd": False}
        if keys:
            account["ssh_authorized_keys"] = keys
        config["users"] = ["default", account]
    if init.root_password:
        config["ssh_pwauth"] = True
        config["chpasswd"] = {"expire": False, "list": f"{user}:{init.root_password}"}
    if init.regenerate_ssh_keys is not None:
        config["ssh_deletekeys"] = init.regenerate_ssh_keys
    return config


def _ipv4_subnet(nic: m.NicConfiguration) -> dict[str, Any] | None:
    protocol = nic.boot_protocol
    if protocol in (None, BootProtocol.NONE):
        return None
    if protocol == BootProtocol.DHCP:
        return {"type": "dhcp"}
    if protocol != BootProtocol.STATIC:
        raise InvalidInput(f"NIC {nic.name}: IPv4 boot protocol {protocol.value} is not supported")
    ip = nic.ip
    if ip is None or not ip.address:
        raise InvalidInput(f"NIC {nic.name}: a static IPv4 configuration needs ip.address")
    if ip.version not in (None, IpVersion.V4):
        raise InvalidInput(f"NIC {nic.name}: ip is the IPv4 address; give IPv6 as ipv6")
    subnet: dict[str, Any] = {"type": "static", "address": ip.address}
    if ip.netmask:
        subnet["netmask"] = ip.netmask
    if ip.gateway:
        subnet["gateway"] = ip.gateway
    return subnet


def _ipv6_subnet(nic: m.NicConfiguration) -> dict[str, Any] | None:
    protocol = nic.ipv6_boot_protocol
    if protocol in (None, BootProtocol.NONE):
        return None
    if protocol == BootProtocol.DHCP:
        return {"type": "dhcp6"}
    if protocol == BootProtocol.AUTOCONF:
        return {"type": "ipv6_slaac"}
    if protocol != BootProtocol.STATIC:
        raise InvalidInput(f"NIC {nic.name}: IPv6 boot protocol {protocol.value} is not supported")
    ip = nic.ipv6
    if ip is None or not ip.address:
        raise InvalidInput(f"NIC {nic.name}: a static IPv6 configuration needs ipv6.address")
    address = ip.address if "/" in ip.address or not ip.netmask else f"{ip.address}/{ip.netmask}"
    subnet: dict[str, Any] = {"type": "static6", "address": address}
    if ip.gateway:
        subnet["gateway"] = ip.gateway
    return subnet


def network_config(init: m.Initialization) -> dict[str, Any] | None:
    """cloud-init's network config version 1 for the NICs and name servers, if any is given."""
    entries: list[dict[str, Any]] = []
    for nic in init.nic_configurations or []:
        if not nic.name:
            raise InvalidInput("A NIC configuration needs the name of the guest's interface")
        subnets = [s for s in (_ipv4_subnet(nic), _ipv6_subnet(nic)) if s is not None]
        if nic.on_boot is False:
            subnets = [{**subnet, "control": "manual"} for subnet in subnets]
        entry: dict[str, Any] = {"type": "physical", "name": nic.name}
        if subnets:
            entry["subnets"] = subnets
        entries.append(entry)
    servers, search = _split(init.dns_servers), _split(init.dns_search)
    if servers or search:
        resolver: dict[str, Any] = {"type": "nameserver"}
        if servers:
            resolver["address"] = servers
        if search:
            resolver["search"] = search
        entries.append(resolver)
    return {"version": 1, "config": entries} if entries else None


def user_data(init: m.Initialization) -> str:
    config = user_config(init)
    text = to_yaml(config, header="#cloud-config") if config else "#cloud-config\n"
    script = init.custom_script or ""
    if script.strip():
        clashes = sorted(set(_TOP_KEY.findall(script)) & set(config))
        if clashes:
            raise InvalidInput(
                f"The custom script sets what other initialization fields set: {', '.join(clashes)}"
            )
        text += script if script.endswith("\n") else script + "\n"
    return text


def render_seed(init: m.Initialization, vm_name: str) -> CloudInitSeed:
    """The seed for one run; a new instance id each time, so cloud-init applies it again."""
    refuse_unsupported(init)
    meta = {"instance-id": str(uuid.uuid4()), "local-hostname": init.host_name or vm_name}
    network = network_config(init)
    seed = CloudInitSeed(
        meta_data=to_yaml(meta),
        user_data=user_data(init),
        network_config=None if network is None else to_yaml(network),
    )
    size = sum(len(t.encode()) for t in (seed.meta_data, seed.user_data, seed.network_config or ""))
    if size > MAX_SEED_BYTES:
        raise InvalidInput(
            f"The cloud-init payload is {size} bytes; at most {MAX_SEED_BYTES} are allowed"
        )
    return seed
