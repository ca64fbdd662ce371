"""The example scripts of the installed oVirt SDK, run unchanged but for their connection details.

The examples ship only in the SDK's source distribution, so the first use downloads the sdist of
the installed version from the package index (``pip download``) and keeps its ``examples/`` in the
user's cache; nothing of it enters this repository.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

DISTRIBUTION = "ovirt-engine-sdk-python"
DOWNLOAD_TIMEOUT_S = 300.0
# The connection details every example hard-codes: ``url='https://engine40.example.com/...'``.
_CONNECTION_VALUES = {
    "url": re.compile(r"url='https://[^']*/ovirt-engine/api'"),
    "username": re.compile(r"username='[^']*'"),
    "password": re.compile(r"password='[^']*'"),
    "ca_file": re.compile(r"ca_file='[^']*'"),
}


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "virtfleet" / "sdk-examples"


def sdk_examples() -> Path:
    """The ``examples/`` directory of the installed SDK version, downloaded once."""
    version = importlib.metadata.version(DISTRIBUTION)
    target = _cache_root() / version
    examples = target / "examples"
    if examples.is_dir():
        return examples
    with tempfile.TemporaryDirectory(prefix="sdk-sdist-") as scratch:
        argv = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:"]
        argv += ["--dest", scratch, f"{DISTRIBUTION}=={version}"]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=DOWNLOAD_TIMEOUT_S)
        if done.returncode != 0:
            raise RuntimeError(f"pip could not download the SDK's sdist:\n{done.stderr[-2000:]}")
        [sdist] = Path(scratch).glob("*.tar.gz")
        unpacked = Path(scratch) / "unpacked"
        with tarfile.open(sdist) as archive:
            archive.extractall(unpacked, filter="data")
        [source] = unpacked.glob("*/examples")
        target.mkdir(parents=True, exist_ok=True)
        partial = target / "examples.partial"
        shutil.rmtree(partial, ignore_errors=True)
        shutil.copytree(source, partial)
        partial.rename(examples)
    return examples


@dataclass(frozen=True)
class Connection:
    """What a user changes in an example to point it at their engine."""

    url: str
    username: str
    password: str
    ca_file: Path


def with_connection(source: str, connection: Connection) -> str:
    """The example's text with its connection details replaced, and nothing else."""
    values = {
        "url": connection.url,
        "username": connection.username,
        "password": connection.password,
        "ca_file": str(connection.ca_file),
    }
    for name, pattern in _CONNECTION_VALUES.items():
        source, count = pattern.subn(f"{name}={values[name]!r}", source)
        if count == 0 and name in ("url", "password"):
            raise ValueError(f"the example sets no {name} in its connection")
    return source


def run_example(
    examples: Path, name: str, connection: Connection, workdir: Path, *, timeout: float
) -> subprocess.CompletedProcess[str]:
    """Run ``examples/<name>.py`` with ``connection`` in ``workdir`` (where it writes its log)."""
    script = workdir / f"{name}.py"
    script.write_text(with_connection((examples / f"{name}.py").read_text(), connection))
    return subprocess.run(
        [sys.executable, script.name],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
