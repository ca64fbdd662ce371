"""The oVirt API model: tags, collections, optional fields, enums and write-only secrets."""

from __future__ import annotations

import enum
import inspect
import re
import typing
from datetime import datetime, timedelta
from types import ModuleType

import pytest
from pydantic import ValidationError
from pydantic.fields import FieldInfo

from virtfleet.common import apimodel
from virtfleet.common.apimodel import (
    ALL_TYPES,
    TYPES_BY_TAG,
    Action,
    ApiObject,
    ApiStruct,
    Boot,
    BootDevice,
    Cluster,
    DiskAttachment,
    DiskStatus,
    Event,
    Host,
    HostStatus,
    HostStorage,
    InheritableBoolean,
    MacPool,
    Network,
    NetworkUsage,
    OperatingSystemInfo,
    StorageDomain,
    StorageDomainStatus,
    Template,
    Vm,
    VmStatus,
    common,
    compute,
    enums,
    infra,
    storage,
    system,
)

MODEL_MODULES: tuple[ModuleType, ...] = (common, infra, compute, storage, system)

EXPECTED_COLLECTIONS = {
    "Vm": "vms",
    "DiskAttachment": "disk_attachments",
    "DataCenter": "data_centers",
    "OperatingSystemInfo": "operation_systems",
    "StorageDomain": "storage_domains",
    "VnicProfile": "vnic_profiles",
    "Statistic": "statistics",
    "GraphicsConsole": "graphics_consoles",
    "NumaNode": "host_numa_nodes",
    "VirtualNumaNode": "vm_numa_nodes",
    "Permission": "permissions",
    "Event": "events",
    "Job": "jobs",
    "Step": "steps",
    "User": "users",
    "Tag": "tags",
    "Network": "networks",
    "Nic": "nics",
    "HostNic": "host_nics",
    "Host": "hosts",
    "Cluster": "clusters",
    "Template": "templates",
    "Disk": "disks",
    "Role": "roles",
    "Domain": "domains",
    "Group": "groups",
    "SchedulingPolicy": "scheduling_policies",
    "CpuProfile": "cpu_profiles",
    "AffinityGroup": "affinity_groups",
    "MacPool": "mac_pools",
}

EXPECTED_WRITE_ONLY = {
    ("Host", "root_password"),
    ("PowerManagement", "password"),
    ("User", "password"),
    ("Initialization", "root_password"),
    ("HostStorage", "password"),
    ("Action", "root_password"),
}


def _declared_models() -> list[type[ApiStruct]]:
    found = []
    for module in MODEL_MODULES:
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, ApiStruct) and obj.__module__ == module.__name__:
                found.append(obj)
    return found


def _list_item_type(info: FieldInfo) -> type | None:
    for arg in typing.get_args(info.annotation):
        if typing.get_origin(arg) is list:
            item: type = typing.get_args(arg)[0]
            return item
    return None


def _write_only_fields() -> set[tuple[str, str]]:
    return {
        (cls.__name__, name)
        for cls in ALL_TYPES
        for name, info in cls.model_fields.items()
        if isinstance(info.json_schema_extra, dict) and info.json_schema_extra.get("write_only")
    }


def test_all_types_lists_every_declared_model() -> None:
    assert set(ALL_TYPES) == set(_declared_models())


def test_every_model_declares_its_own_xml_tag() -> None:
    missing = [cls.__name__ for cls in ALL_TYPES if not cls.__dict__.get("xml_tag")]
    assert missing == []


def test_xml_tags_do_not_clash() -> None:
    assert len(TYPES_BY_TAG) == len(ALL_TYPES)
    assert all(TYPES_BY_TAG[cls.xml_tag] is cls for cls in ALL_TYPES)


@pytest.mark.parametrize(("name", "collection"), sorted(EXPECTED_COLLECTIONS.items()))
def test_objects_name_their_collection_as_ovirt_does(name: str, collection: str) -> None:
    cls = getattr(apimodel, name)
    assert issubclass(cls, ApiObject)
    assert cls.__dict__.get("xml_collection") == collection


def test_storage_details_are_a_struct_so_they_are_written_inline() -> None:
    assert not issubclass(HostStorage, ApiObject)
    assert StorageDomain.model_fields["storage"].annotation == HostStorage | None
    assert HostStorage.xml_collection == "host_storages"
    assert HostStorage.model_validate({"id": "s1", "type": "nfs"}).id == "s1"


def test_collection_tags_are_unique() -> None:
    collections = [
        cls.__dict__["xml_collection"] for cls in ALL_TYPES if cls.__dict__.get("xml_collection")
    ]
    assert len(collections) == len(set(collections))


def test_operating_systems_keep_ovirt_tag_spelling() -> None:
    assert OperatingSystemInfo.xml_tag == "operating_system"
    assert TYPES_BY_TAG["operating_system"] is OperatingSystemInfo


def test_every_field_is_optional_with_none_default() -> None:
    required = [
        f"{cls.__name__}.{name}"
        for cls in ALL_TYPES
        for name, info in cls.model_fields.items()
        if info.is_required() or info.default is not None
    ]
    assert required == []


def test_element_names_are_snake_case() -> None:
    bad = [
        f"{cls.__name__}.{name}"
        for cls in ALL_TYPES
        for name, info in cls.model_fields.items()
        if not re.fullmatch(r"[a-z][a-z0-9_]*[a-z0-9]", info.alias or name)
    ]
    assert bad == []


def test_every_model_is_fully_resolved() -> None:
    incomplete = [cls.__name__ for cls in ALL_TYPES if not cls.__pydantic_complete__]
    assert incomplete == []


def test_list_fields_name_their_items() -> None:
    unnamed = []
    for cls in ALL_TYPES:
        for name, info in cls.model_fields.items():
            item = _list_item_type(info)
            if item is None or (isinstance(item, type) and issubclass(item, ApiStruct)):
                continue
            extra = info.json_schema_extra
            if not (isinstance(extra, dict) and extra.get("xml_item")):
                unnamed.append(f"{cls.__name__}.{name}")
    assert unnamed == []


def test_plain_value_lists_use_ovirt_item_elements() -> None:
    assert Boot.model_fields["devices"].json_schema_extra == {"xml_item": "device"}
    assert Network.model_fields["usages"].json_schema_extra == {"xml_item": "usage"}


def test_partial_vm_validates_with_nested_references() -> None:
    vm = Vm.model_validate(
        {
            "name": "web1",
            "cluster": {"id": "c1"},
            "template": {"name": "Blank"},
            "memory": str(2 * 1024**3),
            "os": {"type": "rhel_9x64", "boot": {"devices": ["hd", "network"]}},
            "disk_attachments": [{"disk": {"id": "d1", "provisioned_size": 10**9}}],
        }
    )
    assert vm.status is None
    assert isinstance(vm.cluster, Cluster) and vm.cluster.id == "c1"
    assert isinstance(vm.template, Template)
    assert vm.memory == 2 * 1024**3
    assert vm.os is not None and vm.os.boot is not None
    assert vm.os.boot.devices == [BootDevice.HD, BootDevice.NETWORK]
    assert vm.disk_attachments is not None
    assert isinstance(vm.disk_attachments[0], DiskAttachment)


def test_partial_host_validates_power_management_and_status() -> None:
    host = Host.model_validate(
        {
            "name": "h1",
            "status": "non_responsive",
            "power_management": {"enabled": "true", "options": [{"name": "lanplus"}]},
            "os": {"custom_kernel_cmdline": "intel_iommu=on"},
        }
    )
    assert host.status is HostStatus.NON_RESPONSIVE
    assert host.power_management is not None and host.power_management.enabled is True
    assert host.os is not None and host.os.custom_kernel_cmdline == "intel_iommu=on"


def test_unknown_enum_value_is_refused() -> None:
    with pytest.raises(ValidationError):
        Vm.model_validate({"status": "flying"})


def test_unknown_elements_are_ignored() -> None:
    vm = Vm.model_validate({"name": "a", "not_modelled_yet": {"x": 1}})
    assert vm.name == "a"


def test_keyword_elements_use_aliases() -> None:
    action = Action.model_validate({"async": True, "force": False})
    assert action.async_ is True
    assert Action(async_=False).model_dump(by_alias=True, exclude_none=True) == {"async": False}
    pool = MacPool.model_validate({"ranges": [{"from": "56:6f:00:00:00:00", "to": "56:6f:ff"}]})
    assert pool.ranges is not None and pool.ranges[0].from_ == "56:6f:00:00:00:00"


def test_event_ids_are_strings() -> None:
    assert Event.model_fields["id"].annotation == str | None
    assert Event.model_validate({"id": "42", "code": "30"}).code == 30


def test_dates_keep_their_offset() -> None:
    event = Event.model_validate({"time": "2024-05-01T10:00:00.000+02:00"})
    assert event.time is not None
    assert event.time.utcoffset() == timedelta(hours=2)
    assert event.time == datetime.fromisoformat("2024-05-01T08:00:00+00:00")


def test_write_only_secrets_are_marked() -> None:
    assert _write_only_fields() == EXPECTED_WRITE_ONLY


def test_every_password_field_is_write_only() -> None:
    secret_named = {
        (cls.__name__, name) for cls in ALL_TYPES for name in cls.model_fields if "password" in name
    }
    assert secret_named <= _write_only_fields()


def test_vm_statuses_match_ovirt() -> None:
    expected = {
        "down", "wait_for_launch", "powering_up", "up", "powering_down", "migrating", "paused",
        "suspended", "saving_state", "restoring_state", "not_responding", "unknown",
        "image_locked", "reboot_in_progress",
    }  # fmt: skip
    assert expected <= {s.value for s in VmStatus}


def test_host_statuses_match_ovirt() -> None:
    expected = {
        "install", "installing", "initializing", "up", "maintenance",
        "preparing_for_maintenance", "non_responsive", "non_operational", "connecting", "down",
        "error", "install_failed", "kdumping", "reboot", "unassigned",
    }  # fmt: skip
    assert expected <= {s.value for s in HostStatus}


def test_storage_domain_and_disk_statuses_match_ovirt() -> None:
    expected_sd = {
        "active", "inactive", "maintenance", "locked", "unattached", "activating",
        "preparing_for_maintenance",
    }  # fmt: skip
    assert expected_sd <= {s.value for s in StorageDomainStatus}
    assert {s.value for s in DiskStatus} == {"ok", "locked", "illegal"}


def test_enum_spot_values() -> None:
    assert InheritableBoolean("inherit") is InheritableBoolean.INHERIT
    assert NetworkUsage("default_route") is NetworkUsage.DEFAULT_ROUTE
    assert enums.StepStatus("finished") is enums.StepStatus.FINISHED
    assert {s.value for s in enums.StepStatus} == {s.value for s in enums.JobStatus}


def test_enum_values_are_lower_case() -> None:
    upper = [
        f"{cls.__name__}.{member.name}"
        for _, cls in inspect.getmembers(enums, inspect.isclass)
        if issubclass(cls, enum.Enum) and cls.__module__ == enums.__name__
        for member in cls
        if member.value != member.value.lower()
    ]
    assert upper == []
