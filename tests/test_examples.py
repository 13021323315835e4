"""examples/bring_your_own.py, run as a newcomer runs it: ALS by `implicit`, explained and steered."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.real_data
ROOT = Path(__file__).resolve().parents[1]


def test_bring_your_own_names_the_horror_neuron_and_steers_it_away(data_dir):
    pytest.importorskip("implicit")
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "bring_your_own.py")],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "MONOREC_DATA_DIR": str(data_dir)},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    purity = float(re.search(r"Horror neuron: \d+  purity@10 ([\d.]+)", done.stdout).group(1))
    before, after = (int(n) for n in re.findall(r"(\d+) of 10 are Horror", done.stdout))
    assert purity >= 0.9
    assert before >= 5 and after <= 1, done.stdout
    listed = [line for line in done.stdout.splitlines() if line.startswith("  ") and "(" in line]
    assert len(listed) >= 20  # the neuron's top movies and both top-10s, by title
