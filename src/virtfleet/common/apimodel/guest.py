"""What a VM's guest agent reports from inside it: its network devices."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from virtfleet.common.apimodel.base import ApiObject
from virtfleet.common.apimodel.common import Mac
from virtfleet.common.apimodel.enums import ReportedDeviceType

if TYPE_CHECKING:
    from virtfleet.common.apimodel.compute import Vm
    from virtfleet.common.apimodel.infra import Ip


class ReportedDevice(ApiObject):
    """A guest network interface with the addresses the guest has on it."""

    xml_tag: ClassVar[str] = "reported_device"
    xml_collection: ClassVar[str] = "reported_devices"

    type: ReportedDeviceType | None = None
    mac: Mac | None = None
    ips: list[Ip] | None = None
    vm: Vm | None = None
