"""The start action's options (oVirt's run once): boot devices for this run, ``pause``,
``volatile`` and cloud-init with an ``initialization``, and the VM's own initialization on its
first run. Every other option is refused, naming it, so nothing a client asks for is silently
dropped."""

from __future__ import annotations

from virtfleet.common import apimodel as m
from virtfleet.common.errors import InvalidInput
from virtfleet.engine.commands.runonce import RunOnce
from virtfleet.engine.services import oscatalog
from virtfleet.engine.services.cloudinit import render_seed

# The action's own fields a start takes; ``vm`` is checked field by field.
_ACTION_FIELDS = frozenset(
    {"vm", "pause", "volatile", "use_cloud_init", "use_initialization", "use_sysprep"}
    | {"use_ignition", "async_", "filter", "correlation_id"}
)
_VM_FIELDS = frozenset({"id", "href", "os", "initialization", "host"})
"""``vm.host`` (start there) is placement's: the scheduler reads it, not this module."""


def _refuse(what: str, names: list[str]) -> None:
    if names:
        raise InvalidInput(f"These {what} are not supported: {', '.join(sorted(names))}")


def _vm_options(vm: m.Vm | None) -> tuple[list[str] | None, m.Initialization | None]:
    if vm is None:
        return None, None
    _refuse("start options", [f"vm.{f}" for f in _set_fields(vm) - _VM_FIELDS])
    devices = None
    if vm.os is not None:
        _refuse("start options", [f"vm.os.{f}" for f in _set_fields(vm.os) - {"boot"}])
        if vm.os.boot is not None and vm.os.boot.devices:
            devices = [device.value for device in vm.os.boot.devices]
    return devices, vm.initialization


def _set_fields(obj: m.ApiStruct) -> set[str]:
    return {f for f in obj.model_fields_set if getattr(obj, f) is not None}


def _wants_cloud_init(vm: m.Vm, action: m.Action) -> bool:
    """``use_initialization`` means cloud-init for every guest but Windows (sysprep)."""
    if action.use_sysprep or action.use_ignition:
        _refuse("start options", ["use_sysprep" if action.use_sysprep else "use_ignition"])
    if action.use_initialization:
        os_type = vm.os.type if vm.os is not None else None
        if os_type is not None and oscatalog.is_windows(os_type):
            _refuse("start options", ["use_initialization (sysprep, for Windows)"])
        return True
    return bool(action.use_cloud_init)


def _first_run_init(vm: m.Vm) -> m.Initialization | None:
    """The VM's stored initialization, which oVirt applies on a VM's first run: by cloud-init,
    or by sysprep for Windows, which virtfleet cannot do (refused, naming the field)."""
    if vm.initialization is None:
        return None
    os_type = vm.os.type if vm.os is not None else None
    if os_type is not None and oscatalog.is_windows(os_type):
        raise InvalidInput(
            f"VM {vm.name} has an initialization for its first run, which a Windows guest "
            "takes by sysprep: sysprep is not supported, so remove the VM's initialization "
            "to start it"
        )
    return vm.initialization


def start_options(vm: m.Vm, action: m.Action, *, first_run: bool = False) -> RunOnce | None:
    """The run-once options of a start of ``vm``; None for a plain start. On the VM's
    ``first_run`` its stored initialization is applied even when the start does not ask."""
    _refuse("start options", list(_set_fields(action) - _ACTION_FIELDS))
    devices, given_init = _vm_options(action.vm)
    cloud_init = _wants_cloud_init(vm, action)
    if given_init is not None and not cloud_init:
        raise InvalidInput("vm.initialization is applied only with use_cloud_init=true")
    seed = None
    if cloud_init:
        init = given_init or vm.initialization
        if init is None:
            raise InvalidInput("use_cloud_init needs an initialization (in vm or on the VM)")
        seed = render_seed(init, vm.name or "")
    elif first_run and (stored := _first_run_init(vm)) is not None:
        seed = render_seed(stored, vm.name or "")
    pause, volatile = bool(action.pause), bool(action.volatile)
    run = RunOnce(boot_devices=devices, pause=pause, volatile=volatile, cloud_init=seed)
    return None if run == RunOnce() else run
