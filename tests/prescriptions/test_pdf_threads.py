"""Printing from several server threads at once must not crash or hang the process.

Before the fix two renders ran at once (PDF_MAX_CONCURRENT=2) and the waitress process died
with SIGSEGV in libpangoft2 after ~7 minutes of the 50-user OPD load; 4 threads × 25 renders
crashed (SIGSEGV/SIGABRT) or hung in 4 runs of 5. The renders run in a child process so that a
crash fails this test instead of killing the test run.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_prescriptions_printed_from_four_threads_at_once_all_come_out():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    try:
        run = subprocess.run([sys.executable, str(Path(__file__).with_name("render_threads.py")), "4", "40"],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=150)
    except subprocess.TimeoutExpired:
        raise AssertionError("the renders hung (no result in 150 s)") from None
    assert run.returncode == 0, f"exit {run.returncode} (negative = killed by that signal): {run.stderr[-600:]}"
    assert run.stdout.strip() == "renders 160 failed 0"
