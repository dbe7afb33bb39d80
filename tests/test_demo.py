"""`ecto-optimizer demo` is the README's main command: it must work from nothing, offline."""

import os
import re
import subprocess
import sys

import pytest


@pytest.mark.db
def test_demo_measures_a_real_speedup(pg_server):  # pg_server: only to skip or fail with the others
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC")}
    out = subprocess.run([sys.executable, "-m", "agent", "demo"], capture_output=True, text=True, env=env,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "offline reference policy" in out.stderr
    text = out.stdout
    assert "Changed priv/repo/migrations/" in text
    speedups = [float(x) for x in re.findall(r"([0-9.]+)x", text)]
    # The comments preload drops from a seq scan over 900,000 rows to an index scan.
    assert max(speedups) >= 10, text
    assert "Eval checks for this case:" in text
