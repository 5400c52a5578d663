"""Build the cluster's services image without a registry: ``make image`` (or
``python -m deploy.cluster.build``).

``trace-services:<version>``: PostgreSQL, Redis and HAProxy from the Debian
archive on a base of their own (``local/services:<codename>``), for
docker-compose.yml where the official postgres, redis and haproxy images
cannot be pulled (``POSTGRES_IMAGE``, ``REDIS_IMAGE``, ``HAPROXY_IMAGE``).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from deploy.images import LABEL, build_base, digest_of, image_id, label, run
from trace_sync import __version__

CONTEXT = Path(__file__).resolve().parent / "services"
IMAGE = f"trace-services:{__version__}"
PACKAGES = ("postgresql", "redis-server", "haproxy")


def build_services(*, force: bool = False) -> str:
    """The services image (skipped when its inputs are unchanged); its tag."""
    base = build_base("services", PACKAGES, force=force)
    files = sorted(CONTEXT.iterdir())
    inputs = digest_of(
        [image_id(base).encode(), *(f.name.encode() + f.read_bytes() for f in files)]
    )
    if not force and label(IMAGE) == inputs:
        print(f"{IMAGE} is up to date")
        return IMAGE
    run(["docker", "build", "--network", "none", "--force-rm", "--build-arg", f"BASE={base}",
         "--label", f"{LABEL}={inputs}", "--tag", IMAGE, str(CONTEXT)])  # fmt: skip
    return IMAGE


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="build even if inputs are unchanged")
    build_services(force=parser.parse_args(argv).force)


if __name__ == "__main__":
    main()
