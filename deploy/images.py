"""Docker images built from the Debian archive, without a registry: the shared steps of
``make image`` (deploy/bridge/build.py, deploy/cluster/build.py).

A base is a minimal Debian made by ``mmdebstrap`` from the mirrors this machine's
apt uses (read from /etc/apt/sources.list*, never a host written here) and
loaded with ``docker import``. Each image carries a label with a digest of its
inputs; a build whose inputs have not changed is skipped.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from deploy.bridge.sources import debian_sources

LABEL = "trace.inputs"


def build_base(
    name: str, packages: Sequence[str], codename: str | None = None, *, force: bool = False
) -> str:
    """``local/<name>:<codename>``, Debian's minimal set and ``packages`` from the
    Debian archive; its tag."""
    codename = codename or codename_of()
    sources = debian_sources(Path("/etc/apt"), codename)
    if not sources:
        sys.exit(f"no Debian {codename} mirror in /etc/apt/sources.list*: cannot build a base")
    tag = f"local/{name}:{codename}"
    inputs = digest_of([codename.encode(), *map(str.encode, [*sources, *packages])])
    if not force and label(tag) == inputs:
        print(f"{tag} is up to date")
        return tag
    need("mmdebstrap", "apt install mmdebstrap")
    with tempfile.TemporaryDirectory(prefix="trace-base-") as tmp:
        rootfs = Path(tmp) / "rootfs.tar"
        print(f"mmdebstrap {codename} from {', '.join(sources)} (about a minute and a half)")
        run(["mmdebstrap", "--mode=root", "--variant=minbase", "--quiet",
              f"--include={','.join(packages)}", codename, str(rootfs), *sources])  # fmt: skip
        run(["docker", "import", "--change", f"LABEL {LABEL}={inputs}",
              "--change", 'CMD ["/bin/bash"]', str(rootfs), tag])  # fmt: skip
    return tag


def digest_of(parts: Iterable[bytes]) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()[:32]


def label(image: str) -> str | None:
    found = subprocess.run(
        [
            "docker",
            "image",
            "inspect",
            "--format",
            f'{{{{ index .Config.Labels "{LABEL}" }}}}',
            image,
        ],
        capture_output=True,
        text=True,
    )
    return found.stdout.strip() if found.returncode == 0 else None


def image_id(image: str, *, missing_ok: bool = False) -> str:
    found = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Id}}", image], capture_output=True, text=True
    )
    if found.returncode != 0 and not missing_ok:
        sys.exit(f"no base image {image}: {found.stderr.strip()}")
    return found.stdout.strip() if found.returncode == 0 else ""


def codename_of() -> str:
    for line in Path("/etc/os-release").read_text().splitlines():
        if line.startswith("VERSION_CODENAME="):
            return line.split("=", 1)[1].strip('"')
    sys.exit("cannot tell this machine's Debian release: pass --base")


def need(program: str, how: str) -> None:
    if shutil.which(program) is None:
        sys.exit(f"the image build needs {program}: {how}")


def run(argv: Sequence[str]) -> None:
    need(argv[0], "apt install docker.io" if argv[0] == "docker" else f"install {argv[0]}")
    done = subprocess.run(argv, env={**os.environ, "DOCKER_BUILDKIT": "0"})
    if done.returncode != 0:
        sys.exit(f"{argv[0]} {argv[1]} failed ({done.returncode})")
