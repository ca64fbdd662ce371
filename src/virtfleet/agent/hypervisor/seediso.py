"""NoCloud seed images: cloud-init's ``meta-data``, ``user-data`` and ``network-config`` in an
ISO 9660 volume labelled ``cidata`` (Joliet and Rock Ridge names, as ``cloud-localds`` writes
it), made with ``genisoimage`` and kept per VM until its run ends."""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from pathlib import Path

from virtfleet.common.errors import AgentError
from virtfleet.common.protocol import CloudInitSeed

log = logging.getLogger(__name__)

GENISOIMAGE = "genisoimage"
SEED_LABEL = "cidata"
MAX_SEED_BYTES = 256 * 1024
"""More than the engine lets through (it refuses larger payloads first): a last guard."""
_TIMEOUT_S = 60.0


def seed_files(seed: CloudInitSeed) -> dict[str, str]:
    """The files of the volume, by name; ``network-config`` only when there is one."""
    files = {"meta-data": seed.meta_data, "user-data": seed.user_data}
    if seed.network_config is not None:
        files["network-config"] = seed.network_config
    return files


def write_seed_iso(seed: CloudInitSeed, dest: Path) -> Path:
    """Write the seed's ISO image at ``dest`` (replacing an older one) and return it."""
    files = seed_files(seed)
    size = sum(len(text.encode()) for text in files.values())
    if size > MAX_SEED_BYTES:
        raise AgentError(f"the cloud-init seed is {size} bytes, more than {MAX_SEED_BYTES}")
    if shutil.which(GENISOIMAGE) is None:
        raise AgentError("genisoimage is not installed on this host: install genisoimage")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="vf-seed-", dir=dest.parent) as scratch:
        content = Path(scratch, "content")
        content.mkdir()
        for name, text in files.items():
            (content / name).write_text(text)
        image = Path(scratch, "seed.iso")
        argv = [GENISOIMAGE, "-quiet", "-output", str(image), "-volid", SEED_LABEL]
        argv += ["-joliet", "-rock", str(content)]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=_TIMEOUT_S)
        if done.returncode != 0:
            raise AgentError(f"genisoimage failed: {done.stderr.strip()[-500:]}")
        image.chmod(0o644)
        image.replace(dest)
    log.info("cloud-init seed written path=%s bytes=%d", dest, size)
    return dest


class SeedStore:
    """Each VM's seed image in ``directory``, from its start until it stops."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, vm_id: str) -> Path:
        return self.directory / f"{vm_id}-cidata.iso"

    def write(self, vm_id: str, seed: CloudInitSeed) -> Path:
        return write_seed_iso(seed, self.path(vm_id))

    def remove(self, vm_id: str) -> None:
        """Drop the VM's seed if it has one; the lifecycle event of a stop and the destroy that
        caused it both remove it, in either order or at once."""
        try:
            self.path(vm_id).unlink()
        except FileNotFoundError:
            return
        log.info("cloud-init seed removed vm_id=%s", vm_id)
