"""oVirt's initialization rendered as a NoCloud seed: valid YAML that says what was asked,
the custom script appended, and refusals naming what cloud-init cannot do."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from virtfleet.common import apimodel as m
from virtfleet.common.apimodel.enums import BootProtocol, IpVersion
from virtfleet.common.errors import InvalidInput
from virtfleet.engine.services.cloudinit import MAX_SEED_BYTES, render_seed, to_yaml

# What the SDK's start_vm_with_cloud_init.py example sends.
EXAMPLE = m.Initialization(
    user_name="root",
    root_password="redhat123",
    host_name="myvm.example.com",
    nic_configurations=[
        m.NicConfiguration(
            name="eth0",
            on_boot=True,
            boot_protocol=BootProtocol.STATIC,
            ip=m.Ip(
                version=IpVersion.V4,
                address="192.168.0.100",
                netmask="255.255.255.0",
                gateway="192.168.0.1",
            ),
        )
    ],
    dns_servers="192.168.0.1 192.168.0.2 192.168.0.3",
    dns_search="example.com",
    custom_script=(
        "write_files:\n  - content: |\n      Hello, world!\n"
        "    path: /tmp/greeting.txt\n    permissions: '0644'\n"
    ),
)


def _load(text: str | None) -> Any:
    assert text is not None
    return yaml.safe_load(text)


def test_the_examples_initialization_becomes_user_data_with_its_custom_script() -> None:
    seed = render_seed(EXAMPLE, "myvm")
    assert seed.user_data.startswith("#cloud-config\n")
    config = _load(seed.user_data)
    assert config["hostname"] == "myvm.example.com"
    assert config["chpasswd"] == {"expire": False, "list": "root:redhat123"}
    assert config["disable_root"] is False and config["ssh_pwauth"] is True
    assert config["write_files"] == [
        {"content": "Hello, world!\n", "path": "/tmp/greeting.txt", "permissions": "0644"}
    ]


def test_the_examples_nic_and_name_servers_become_network_config_v1() -> None:
    network = _load(render_seed(EXAMPLE, "myvm").network_config)
    assert network == {
        "version": 1,
        "config": [
            {
                "type": "physical",
                "name": "eth0",
                "subnets": [
                    {
                        "type": "static",
                        "address": "192.168.0.100",
                        "netmask": "255.255.255.0",
                        "gateway": "192.168.0.1",
                    }
                ],
            },
            {
                "type": "nameserver",
                "address": ["192.168.0.1", "192.168.0.2", "192.168.0.3"],
                "search": ["example.com"],
            },
        ],
    }


def test_each_seed_has_a_new_instance_id_so_cloud_init_applies_it_again() -> None:
    first, second = (_load(render_seed(EXAMPLE, "myvm").meta_data) for _ in range(2))
    assert first["instance-id"] != second["instance-id"]
    assert first["local-hostname"] == "myvm.example.com"


def test_another_user_gets_an_account_with_its_keys() -> None:
    init = m.Initialization(user_name="alice", authorized_ssh_keys="ssh-ed25519 AAAA a@b\n")
    config = _load(render_seed(init, "vm").user_data)
    assert config["users"] == [
        "default",
        {"name": "alice", "lock_passwd": False, "ssh_authorized_keys": ["ssh-ed25519 AAAA a@b"]},
    ]
    assert "disable_root" not in config


def test_dhcp_ipv6_autoconf_and_a_nic_down_at_boot() -> None:
    init = m.Initialization(
        nic_configurations=[
            m.NicConfiguration(
                name="eth1",
                on_boot=False,
                boot_protocol=BootProtocol.DHCP,
                ipv6_boot_protocol=BootProtocol.AUTOCONF,
            )
        ]
    )
    [nic] = _load(render_seed(init, "vm").network_config)["config"]
    assert nic["subnets"] == [
        {"type": "dhcp", "control": "manual"},
        {"type": "ipv6_slaac", "control": "manual"},
    ]


def test_no_network_settings_means_no_network_config() -> None:
    assert render_seed(m.Initialization(host_name="vm1"), "vm1").network_config is None


@pytest.mark.parametrize(
    ("init", "named"),
    [
        (m.Initialization(windows_license_key="X"), "windows_license_key"),
        (m.Initialization(org_name="Acme", user_locale="de_DE"), "user_locale, org_name"),
        (m.Initialization(cloud_init_network_protocol="eni"), "cloud_init_network_protocol"),
        (m.Initialization(host_name="a", custom_script="hostname: b\n"), "hostname"),
        (
            m.Initialization(
                nic_configurations=[m.NicConfiguration(name="eth0", boot_protocol="static")]
            ),
            "ip.address",
        ),
        (m.Initialization(nic_configurations=[m.NicConfiguration()]), "name"),
    ],
)
def test_what_cloud_init_cannot_apply_is_refused_naming_it(
    init: m.Initialization, named: str
) -> None:
    with pytest.raises(InvalidInput, match=named):
        render_seed(init, "vm")


def test_a_payload_over_the_limit_is_refused() -> None:
    init = m.Initialization(custom_script="runcmd:\n" + "  - true\n" * (MAX_SEED_BYTES // 8))
    with pytest.raises(InvalidInput, match=f"at most {MAX_SEED_BYTES}"):
        render_seed(init, "vm")


_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
_keys = st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8)  # "on", "no"... too
_values = st.recursive(
    st.booleans() | st.integers(-(10**6), 10**6) | _text,
    lambda inner: (
        st.lists(inner, min_size=1, max_size=3)
        | st.dictionaries(st.from_regex(r"[a-z][a-z_]{0,8}", fullmatch=True), inner, min_size=1)
    ),
    max_leaves=12,
)


@settings(max_examples=50, deadline=None)  # a pure-Python YAML parser per example
@given(st.dictionaries(_keys, _values, min_size=1))
def test_the_yaml_writer_round_trips_through_a_yaml_parser(value: dict[str, Any]) -> None:
    assert yaml.safe_load(to_yaml(value)) == value
