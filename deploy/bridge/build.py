"""Build the bridge image without a registry: ``make image`` (or ``python -m deploy.bridge.build``).

1. The base, unless ``--base`` names one (``python:3.11-slim`` where a registry
   is reachable): ``local/base:<codename>``, a minimal Debian with Python, git
   and Node made by ``mmdebstrap`` from the mirrors this machine's apt uses
   (read from /etc/apt/sources.list*, never a host written here) and loaded with
   ``docker import``.
2. The image ``trace-bridge:<version>`` from deploy/bridge/Dockerfile on that
   base, its context staged here: Trace's wheels (``pip wheel``, with the host's
   package-index settings) and the coding tools' ``node_modules`` (``npm ci`` of
   tests/tools/package-lock.json, shared with the tests' copy). The build runs
   with ``--network none``: it fetches nothing.

Each image carries a label with a digest of its inputs; a build whose inputs
have not changed is skipped, so CI calls this once per run at no cost after the
first (``--force`` builds anyway).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from deploy.images import LABEL, build_base, digest_of, image_id, label, run
from tests.support.npm import TOOLS, installed
from trace_sync import __version__

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "bridge" / "Dockerfile"
STAGE = ROOT / ".cache" / "image"
IMAGE = f"trace-bridge:{__version__}"
#: What the base holds beyond Debian's minimal set: the bridge's Python (with
#: venv, to install the wheels offline), git, and Node for the coding tools.
BASE_PACKAGES = ("python3", "python3-venv", "git", "ca-certificates", "nodejs", "procps")
#: What the image is made from, hashed into its label.
SOURCES = ("pyproject.toml", "README.md", "trace_sync", "trace_app", "adapters")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", help="base image (default: build local/base:<codename>)")
    parser.add_argument("--tag", default=IMAGE, help=f"the image's tag (default {IMAGE})")
    parser.add_argument("--force", action="store_true", help="build even if inputs are unchanged")
    args = parser.parse_args(argv)
    base = args.base or bridge_base(force=args.force)
    build_image(base, args.tag, force=args.force)


def bridge_base(*, force: bool = False) -> str:
    """``local/base:<codename>``: Debian with what the bridge needs."""
    return build_base("base", BASE_PACKAGES, force=force)


#: What dependencies ask for only on a Python older than the host's: the base's
#: (Debian 12: 3.11.2) must find them among the wheels too (redis on < 3.11.3).
OLDER_PYTHON_NEEDS = ["async-timeout>=4.0.3"]


def build_image(base: str, tag: str = IMAGE, *, force: bool = False) -> str:
    """The bridge image on ``base``, its context staged in .cache/image; its tag."""
    lock = (TOOLS / "package-lock.json").read_bytes()
    inputs = digest_of([DOCKERFILE.read_bytes(), image_id(base).encode(), lock, *_sources()])
    if not force and label(tag) == inputs:
        print(f"{tag} is up to date")
        return tag
    wheels, tools = STAGE / "wheels", STAGE / "tools"
    shutil.rmtree(STAGE, ignore_errors=True)
    wheels.mkdir(parents=True)
    print("pip wheel: Trace and its dependencies")
    argv = [sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", str(wheels)]
    run([*argv, str(ROOT), *OLDER_PYTHON_NEEDS])
    print("npm ci: the coding tools")
    modules = installed(
        TOOLS, ("package.json", "package-lock.json"), "tools", ".bin/claude-code-acp"
    )
    tools.mkdir()
    run(["cp", "-a", "--reflink=auto", str(modules / "node_modules"), str(tools)])
    print(f"docker build {tag} on {base}")
    former = image_id(tag, missing_ok=True)
    run(["docker", "build", "--network", "none", "--force-rm", "--file", str(DOCKERFILE),
          "--build-arg", f"BASE={base}", "--label", f"{LABEL}={inputs}",
          "--tag", tag, str(STAGE)])  # fmt: skip
    shutil.rmtree(STAGE, ignore_errors=True)
    if former:  # the build it replaces (1.5 GB) goes, unless a container still uses it
        subprocess.run(["docker", "image", "rm", former], capture_output=True)
    prune = ["docker", "image", "prune", "--force", "--filter", "label=trace.stage=venv"]
    subprocess.run(prune, capture_output=True)  # the venv stage's (its copy is in the image)
    return tag


def _sources() -> Iterable[bytes]:
    for name in SOURCES:
        path = ROOT / name
        files = [path] if path.is_file() else sorted(path.rglob("*"))
        for file in files:
            if file.is_file() and "__pycache__" not in file.parts:
                yield str(file.relative_to(ROOT)).encode() + b"\0" + file.read_bytes()


if __name__ == "__main__":
    main()
