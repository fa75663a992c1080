"""Every Python example of the README runs exactly as written (from the repository root)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)


@pytest.mark.parametrize("code", BLOCKS, ids=lambda c: c.strip().splitlines()[-1][:40])
def test_readme_python_example_runs(code, tmp_path):
    script = tmp_path / "readme_example.py"
    script.write_text(code, encoding="utf-8")
    env = {**os.environ, "MPLBACKEND": "Agg"}
    done = subprocess.run([sys.executable, str(script)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    if "gini" in code:
        assert re.search(r"Gini of the rate served per subscriber across countries: 0\.\d{3}", done.stdout), done.stdout
    if "orbitshare.allocate(" in code:
        assert done.stdout.strip() == "[6. 4. 4.]"


def test_the_readme_has_the_python_quick_start():
    assert any("orbitshare.service(" in b and "country_accounts" in b for b in BLOCKS)
