"""The web terminal's committed script is what its source and pinned packages build."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support.npm import installed, require_node

SOURCE = Path(__file__).resolve().parents[2] / "trace_app" / "web_terminal"
BUILT = SOURCE.parent / "assets" / "terminal.js"

pytestmark = pytest.mark.process  # npm and esbuild run as subprocesses


def test_the_committed_terminal_script_is_built_from_its_source(tmp_path: Path) -> None:
    require_node("the web terminal's build check")
    files = ("package.json", "package-lock.json", "terminal.js")
    home = installed(SOURCE, files, "web-terminal", ".bin/esbuild")
    out = tmp_path / "terminal.js"
    subprocess.run(
        ["npm", "run", "--silent", "build"],
        cwd=home,
        env={"PATH": os.environ["PATH"], "OUT": str(out)},
        check=True,
        timeout=120,
    )
    assert out.read_bytes() == BUILT.read_bytes(), "run `make web-terminal` and commit the result"
