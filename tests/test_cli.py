"""The command line: selftest, usage errors (one line, exit 2), outputs that fail, help and version."""
from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys

import pytest
import torch

import keystream as ks
from keystream._tools._cli import main


def test_selftest_in_process(capsys):
    assert main(["selftest"]) == 0
    out = capsys.readouterr().out
    assert "known answers" in out and "FAIL" not in out and " ok" in out


def test_python_dash_m():
    """``python -m keystream`` reaches the CLI (the selftest itself runs in process above, and
    in CI's own step: not a third time here)."""
    r = subprocess.run([sys.executable, "-m", "keystream", "stream", "--seed", "1", "--bytes", "16"],
                       capture_output=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout == ks.bits(4, generator=ks.Generator(1)).numpy().tobytes()


def test_no_command_prints_help():
    assert main([]) == 2


USAGE_ERRORS = [
    ["stream", "--seed", str(2**64)],
    ["stream", "--seed", str(-(2**63) - 1)],
    ["stream", "--seed", "x"],
    ["stream", "--children", "0"],
    ["stream", "--children", "-3"],
    ["stream", "--bytes", "-1"],
    ["stream", "nonsense"],
    ["mc", "pi", "--samples", "0"],
    ["mc", "pi", "--samples", "-5"],
    ["mc", "pi", "--chunk-size", "0"],
    ["mc", "pi", "--device", "foo"],
    ["mc", "pi", "--device", "mps"],
    ["mc", "nonsense"],
    ["--nonsense"],
]


@pytest.mark.parametrize("argv", USAGE_ERRORS, ids=[" ".join(a) for a in USAGE_ERRORS])
def test_usage_errors_are_one_line_and_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error:" in err and "Traceback" not in err, err


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["mc", "pi", "--device", "cuda"])
    assert exc.value.code == 2 and "no CUDA" in capsys.readouterr().err


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.strip() == f"keystream {ks.__version__}"


def test_every_option_and_stream_mode_has_help():
    from keystream._tools._cli import _STREAM_MODES, _parser

    parser = _parser()
    subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in subs.choices.items():
        for action in sub._actions:
            assert action.help, (name, action.dest)
    stream_help = subs.choices["stream"].format_help()
    for mode in _STREAM_MODES:
        assert f"{mode}:" in stream_help.replace("\n", " "), mode


def _stream_cmd(*extra: str) -> list[str]:
    return [sys.executable, "-m", "keystream", "stream", *extra]


def test_reader_that_stops_early_exits_0_quietly():
    r = subprocess.run(f"{shlex.join(_stream_cmd())} | head -c 10 > /dev/null; echo ${{PIPESTATUS[0]}}",
                       shell=True, executable="/bin/bash", capture_output=True, text=True, timeout=120)
    assert r.stdout.strip() == "0" and "Traceback" not in r.stderr, r.stderr


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full here")
def test_full_disk_is_one_line_and_exit_1():
    with open("/dev/full", "wb") as full:
        r = subprocess.run(_stream_cmd("--bytes", "100000"), stdout=full, stderr=subprocess.PIPE, text=True,
                           timeout=120)
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "No space left" in r.stderr, r.stderr


def test_closed_stdout_is_one_line_and_exit_1():
    r = subprocess.run(f"{shlex.join(_stream_cmd('--bytes', '100'))} >&-", shell=True, executable="/bin/bash",
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "closed" in r.stderr, r.stderr


@pytest.mark.parametrize("redirect", ["> /dev/full", ">&-", "| head -c 3 > /dev/null"])
def test_mc_output_that_fails_is_one_line(redirect):
    if "full" in redirect and not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    cmd = shlex.join([sys.executable, "-m", "keystream", "mc", "pi", "--samples", "1000"])
    r = subprocess.run(f"{cmd} {redirect}; echo \" ${{PIPESTATUS[0]}}\" >&2", shell=True, executable="/bin/bash",
                       capture_output=True, text=True, timeout=120)
    *lines, status = r.stderr.strip().rsplit(" ", 1)
    message = " ".join(lines).strip()
    assert "Traceback" not in r.stderr
    if "head" in redirect:
        assert status == "0" and message == "", r.stderr
    else:
        assert status == "1" and message.count("\n") == 0 and "standard output" in message, r.stderr


def test_plot_without_matplotlib_fails_before_the_run(monkeypatch, capsys):
    from keystream._tools import _cli
    from keystream.montecarlo import EXAMPLES

    monkeypatch.setattr(_cli, "_pyplot", lambda: None)
    ran = []
    monkeypatch.setattr(type(EXAMPLES["pi"]), "run", lambda *a, **k: ran.append(1))
    assert main(["mc", "pi", "--samples", "1000", "--plot", "x.png"]) == 1
    assert not ran and "matplotlib" in capsys.readouterr().err


def test_the_rate_keeps_three_digits_at_any_speed():
    from keystream.montecarlo._estimate import _rate

    assert _rate(12_345.0) == "0.0123 M samples/s" and _rate(8.36e8) == "836 M samples/s"
