"""The command line: ``keystream selftest`` prints an all-ok table and exits 0."""
from __future__ import annotations

import subprocess
import sys

from keystream._cli import main


def test_selftest_in_process(capsys):
    assert main(["selftest"]) == 0
    out = capsys.readouterr().out
    assert "known answers" in out and "FAIL" not in out and " ok" in out


def test_python_dash_m():
    r = subprocess.run([sys.executable, "-m", "keystream", "selftest"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr


def test_no_command_prints_help():
    assert main([]) == 2
