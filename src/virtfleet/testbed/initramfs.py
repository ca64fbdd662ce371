"""The tiny guest's initramfs: static busybox, an /init script, the virtio/ext4 modules, an
ACPI power-button handler (so that the guest shuts down cleanly when asked), a DHCP client on
its first NIC, and Debian's qemu-guest-agent on its virtio-serial port."""

from __future__ import annotations

import gzip
import lzma
from pathlib import Path

from virtfleet.testbed import cpio
from virtfleet.testbed.proc import TestbedError, run

# The Debian kernel builds these as modules; this order (with each one's dependencies first)
# loads the virtio disk, ext4 and virtio network drivers, then the ACPI power button and the
# input event devices busybox acpid reads it from.
GUEST_MODULES: tuple[str, ...] = (
    "virtio_ring",
    "virtio",
    "virtio_pci_modern_dev",
    "virtio_pci_legacy_dev",
    "virtio_pci",
    "virtio_blk",
    "crc16",
    "mbcache",
    "jbd2",
    "crc32c_generic",
    "ext4",
    "failover",
    "net_failover",
    "virtio_net",
    "button",
    "evdev",
    # the CD-ROM drive and its ISO 9660 file system, for a run-once cloud-init seed
    "ata_piix",
    "ahci",
    "sr_mod",
    "isofs",
    "virtio_console",
)
UP_MARKER = "VIRTFLEET-GUEST-UP"
SYNCED_MARKER = "VIRTFLEET-DATA-SYNCED"
NO_DISK_MARKER = "VIRTFLEET-NO-DISK"
POWEROFF_MARKER = "VIRTFLEET-GUEST-POWEROFF"
BLOCK_PREFIX = "BLOCK: "
"""The guest prints a disk's name after this when it appears (hot-plugged too)..."""
BLOCK_GONE_PREFIX = "BLOCK-GONE: "
"""...and after this when it goes."""
DATA_FILE = "data.txt"
BOOT_COUNT_FILE = "boot-count"
SEED_MARKER = "VIRTFLEET-SEED-FOUND"
NO_SEED_MARKER = "VIRTFLEET-NO-SEED"
SEED_PREFIX = "CIDATA "
"""The guest prints each line of the seed's files after this and the file's name."""
SERIAL_PREFIX = "SERIAL: "
"""The guest prints its SMBIOS serial number after this, once per boot."""
CLEAN_SHUTDOWN_LINE = "DATA: clean shutdown after boot"
GUEST_AGENT_MARKER = "VIRTFLEET-GUEST-AGENT-UP"
ADDRESS_PREFIX = "ADDRESS: "
"""The guest prints the IPv4 address DHCP gave its first NIC after this."""
GUEST_HOSTNAME = "tiny-guest.virtfleet.test"
NO_ACPI_FLAG = "virtfleet.noacpi"
"""On the kernel command line: the guest ignores the ACPI power button (its agent still obeys)."""
HUNG_AGENT_FLAG = "virtfleet.hungagent"
"""On the kernel command line: the agent's port is held open by a reader that never answers."""
OS_RELEASE = """ID=virtfleet-tiny
NAME="virtfleet tiny guest"
VERSION_ID=1
VERSION="1 (busybox)"
PRETTY_NAME="virtfleet tiny guest 1"
"""
# busybox udhcpc runs this with the lease in its environment ($mask is the prefix length).
UDHCPC_SCRIPT = f"""#!/bin/sh
case "$1" in
  deconfig) ip addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    [ -n "$router" ] && ip route replace default via "${{router%% *}}" dev "$interface"
    echo "{ADDRESS_PREFIX}$ip" > /dev/console ;;
esac
"""
# qemu-ga powers the guest off by running /sbin/shutdown; answer it first, then power off.
SHUTDOWN_SCRIPT = """#!/bin/sh
(sleep 1; /etc/acpi/power-button) </dev/null >/dev/null 2>&1 &
"""

# busybox acpid runs the action named for an event key, relative to its config directory.
ACPID_CONF = "PWRF power-button\nPWRB power-button\n"
# The power button: note the clean shutdown on the data disk, unmount it, then power off.
POWER_BUTTON_SCRIPT = f"""#!/bin/sh
exec >/dev/console 2>&1
echo {POWEROFF_MARKER}
if grep -q ' /mnt ' /proc/mounts; then
  echo "{CLEAN_SHUTDOWN_LINE} $(cat /mnt/{BOOT_COUNT_FILE})" >> /mnt/{DATA_FILE}
  sync
  umount /mnt || mount -o remount,ro /mnt
fi
sync
poweroff -f
"""

INIT_SCRIPT = f"""#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /lib/modules/load-order); do insmod /lib/modules/$m 2>/dev/null; done
if ! grep -q {NO_ACPI_FLAG} /proc/cmdline; then
  acpid -c /etc/acpi -a /etc/acpid.conf -l /dev/null -p /acpid.pid
fi
hostname {GUEST_HOSTNAME}
ip link set lo up
if [ -e /sys/class/net/eth0 ]; then
  udhcpc -i eth0 -s /etc/udhcpc.script -t 3 -T 1 -b -q >/dev/null 2>&1
fi
qga=""
i=0
while [ -z "$qga" ] && [ $i -lt 30 ]; do
  for port in /sys/class/virtio-ports/*; do
    [ "$(cat $port/name 2>/dev/null)" = org.qemu.guest_agent.0 ] && qga=/dev/${{port##*/}}
  done
  [ -z "$qga" ] && sleep 0.1
  i=$((i+1))
done
if [ -n "$qga" ]; then
  mkdir -p /run/qga
  if grep -q {HUNG_AGENT_FLAG} /proc/cmdline; then
    cat $qga >/dev/null &
  else
    /usr/sbin/qemu-ga -m virtio-serial -p $qga -t /run/qga </dev/null >/dev/null 2>&1 &
  fi
  echo {GUEST_AGENT_MARKER}
fi
echo {UP_MARKER}
echo "{SERIAL_PREFIX}$(cat /sys/class/dmi/id/product_serial 2>/dev/null)"
i=0
while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
if [ -b /dev/vda ] && mount -t ext4 /dev/vda /mnt; then
  grep '^DATA:' /mnt/{DATA_FILE}
  n=$(cat /mnt/{BOOT_COUNT_FILE} 2>/dev/null || echo 0)
  n=$((n+1))
  echo $n > /mnt/{BOOT_COUNT_FILE}
  echo "DATA: boot $n" >> /mnt/{DATA_FILE}
  sync
  echo "BOOT $n"
  echo {SYNCED_MARKER}
else
  echo {NO_DISK_MARKER}
fi
# The cloud-init seed of a run-once start (a CD-ROM labelled cidata): print its files.
i=0
seed=""
while [ -z "$seed" ] && [ $i -lt 20 ]; do
  seed=$(findfs LABEL=cidata 2>/dev/null); [ -n "$seed" ] || sleep 0.1; i=$((i+1))
done
mkdir -p /seed
if [ -n "$seed" ] && mount -t iso9660 -o ro "$seed" /seed; then
  for f in meta-data user-data network-config; do
    if [ -f /seed/$f ]; then sed "s|^|{SEED_PREFIX}$f: |" /seed/$f; fi
  done
  umount /seed
  echo {SEED_MARKER}
else
  echo {NO_SEED_MARKER}
fi
# Disks as they come and go (a hot-plug shows here), checked every second.
(seen=""; while true; do
  now=""
  for d in /sys/block/vd* /sys/block/sd*; do
    [ -e "$d" ] || continue
    b=${{d##*/}}; now="$now $b"
    case " $seen " in *" $b "*) ;; *) echo "{BLOCK_PREFIX}$b";; esac
  done
  for b in $seen; do case " $now " in *" $b "*) ;; *) echo "{BLOCK_GONE_PREFIX}$b";; esac; done
  seen="$now"; sleep 1
done) &
# A TICK line every second shows the guest alive; a shell on the console answers what is typed
# into the serial console (a new one whenever it exits: init must never end).
(n=0; while true; do echo "TICK $n"; n=$((n+1)); sleep 1; done) &
while true; do sh; sleep 1; done
"""


def resolve_modules(kernel_version: str, names: tuple[str, ...] = GUEST_MODULES) -> list[Path]:
    """Module files to load, dependencies first, each once (built-in ones need no file)."""
    out = run(["modprobe", "--show-depends", "-S", kernel_version, "-a", *names])
    return module_load_order(out)


def module_load_order(show_depends: str) -> list[Path]:
    """Parse `modprobe --show-depends` output into a duplicate-free load order."""
    seen: list[Path] = []
    for line in show_depends.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == "insmod":
            path = Path(words[1])
            if path not in seen:
                seen.append(path)
    return seen


def module_bytes(path: Path) -> bytes:
    """The uncompressed module, since busybox insmod may not read compressed ones."""
    raw = path.read_bytes()
    if path.suffix == ".xz":
        return lzma.decompress(raw)
    if path.suffix == ".gz":
        return gzip.decompress(raw)
    if path.suffix == ".zst":
        raise TestbedError(f"zstd-compressed module {path} is not supported")
    return raw


def _module_name(path: Path) -> str:
    name = path.name
    for suffix in (".xz", ".gz", ".zst"):
        name = name.removesuffix(suffix)
    return name


def _parents(paths: list[str]) -> list[str]:
    """Every directory above ``paths`` (relative, shallowest first), each once."""
    found: list[str] = []
    for path in paths:
        parts = path.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            parent = "/".join(parts[:depth])
            if parent not in found:
                found.append(parent)
    return found


def build_initramfs(busybox: Path, modules: list[Path], agent_files: list[Path]) -> bytes:
    """The gzip-compressed newc archive the kernel boots with /init from; ``agent_files`` (the
    guest agent and its libraries) go at their own paths, symlinks resolved."""
    names = [_module_name(m) for m in modules]
    base = ["bin", "sbin", "dev", "proc", "sys", "mnt", "run", "tmp", "lib", "lib/modules"]
    base += ["etc", "etc/acpi"]
    agent_paths = [str(path).lstrip("/") for path in agent_files]
    entries = [cpio.directory(d) for d in base]
    entries += [cpio.directory(d) for d in _parents(agent_paths) if d not in base]
    entries += [
        cpio.char_device("dev/console", 5, 1),
        cpio.char_device("dev/null", 1, 3, 0o666),
        cpio.regular("bin/busybox", busybox.read_bytes(), 0o755),
        cpio.symlink("bin/sh", "busybox"),
        cpio.regular("init", INIT_SCRIPT.encode(), 0o755),
        cpio.regular("lib/modules/load-order", ("\n".join(names) + "\n").encode()),
        cpio.regular("etc/acpid.conf", ACPID_CONF.encode()),
        cpio.regular("etc/acpi/power-button", POWER_BUTTON_SCRIPT.encode(), 0o755),
        cpio.regular("etc/udhcpc.script", UDHCPC_SCRIPT.encode(), 0o755),
        cpio.regular("etc/os-release", OS_RELEASE.encode()),
        cpio.regular("sbin/shutdown", SHUTDOWN_SCRIPT.encode(), 0o755),
    ]
    entries += [
        cpio.regular(path, source.resolve().read_bytes(), 0o755)
        for path, source in zip(agent_paths, agent_files, strict=True)
    ]
    entries += [
        cpio.regular(f"lib/modules/{name}", module_bytes(path))
        for name, path in zip(names, modules, strict=True)
    ]
    return gzip.compress(cpio.pack(entries), compresslevel=6, mtime=0)
