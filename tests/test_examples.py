"""The worked examples in examples/ run as written (offline), each in a fresh working directory."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.py"))


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(script, tmp_path):
    env = {**os.environ, "MPLBACKEND": "Agg"}
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-3000:]
    written = [line.split("wrote ", 1)[1] for line in done.stdout.splitlines() if line.startswith("wrote ")]
    assert written, "an example says what it wrote"
    for name in written:
        assert (tmp_path / name).stat().st_size > 0, name


def test_there_are_examples():
    assert len(EXAMPLES) >= 1
