"""Where guest firmware lives: SeaBIOS is QEMU's default; UEFI is OVMF from Debian's ``ovmf``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from virtfleet.common.errors import AgentError

OVMF_DIR = Path("/usr/share/OVMF")


@dataclass(frozen=True)
class UefiFiles:
    """The read-only code image and the template each VM's own NVRAM copy starts from."""

    code: str
    vars_template: str
    secure: bool


def uefi_files(*, secure_boot: bool, directory: Path = OVMF_DIR) -> UefiFiles:
    """OVMF's 4 MiB images; Secure Boot needs the SMM build and the Microsoft-enrolled keys."""
    if secure_boot:
        return UefiFiles(
            str(directory / "OVMF_CODE_4M.secboot.fd"),
            str(directory / "OVMF_VARS_4M.ms.fd"),
            secure=True,
        )
    return UefiFiles(
        str(directory / "OVMF_CODE_4M.fd"), str(directory / "OVMF_VARS_4M.fd"), secure=False
    )


def check_installed(files: UefiFiles) -> None:
    """Refuse a UEFI VM on a host without OVMF before libvirt gives a vaguer error."""
    missing = [p for p in (files.code, files.vars_template) if not Path(p).is_file()]
    if missing:
        raise AgentError(f"UEFI firmware missing on this host: {', '.join(missing)}")
