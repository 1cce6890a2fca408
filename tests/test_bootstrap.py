"""tools/bootstrap.sh, the README's set-up, on Debian's own Python (PEP 668: pip refuses plain
user installs there) with an empty home: uv, just and copier land in ~/.local/bin."""

from __future__ import annotations

import glob
import os
import subprocess
from pathlib import Path

import pytest
from conftest import REPO

DEBIAN_PYTHON = Path("/usr/bin/python3")
MANAGED = glob.glob("/usr/lib/python3*/EXTERNALLY-MANAGED")


@pytest.mark.skipif(
    not (DEBIAN_PYTHON.exists() and MANAGED), reason="no externally-managed /usr/bin/python3"
)
def test_bootstrap_on_an_externally_managed_python(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    keep = ("SSL_CERT_FILE", "SSL_CERT_DIR", "PIP_CERT", "PIP_FIND_LINKS", "PIP_INDEX_URL")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env.update(HOME=str(home), PATH="/usr/bin:/bin")
    refused = subprocess.run(
        [str(DEBIAN_PYTHON), "-m", "pip", "install", "--user", "--dry-run", "uv"],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert "externally-managed-environment" in refused.stderr  # the case bootstrap handles
    result = subprocess.run(
        ["sh", str(REPO / "tools" / "bootstrap.sh")], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    bin_dir = home / ".local" / "bin"
    for tool in ("uv", "just", "copier"):
        assert (bin_dir / tool).is_file(), f"{tool} not installed: {result.stdout}{result.stderr}"
    version = subprocess.run([bin_dir / "just", "--version"], capture_output=True, text=True)
    assert version.stdout.startswith("just 1.")
    assert 'export PATH="$HOME/.local/bin:$PATH"' in result.stdout
