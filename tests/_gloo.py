"""Multi-process tests: start gloo worker scripts on 127.0.0.1, and let them leave cleanly.

Imported by the tests (``pythonpath = tests`` in pyproject.toml) and by the worker
scripts (run from this folder).
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_workers(worker: str, world: int, out: Path, *args: str) -> dict:
    """Run ``python tests/WORKER RANK WORLD PORT OUT [ARGS]`` for every rank; return OUT's JSON."""
    port = free_port()
    procs = [subprocess.Popen([sys.executable, os.path.join(HERE, worker), str(r), str(world), str(port), str(out),
                               *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for r in range(world)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-3000:]
    return json.loads(Path(out).read_text())


def leave() -> None:
    """End a worker without running C++ static destructors: gloo's threads can abort the
    process at interpreter shutdown ("terminate called without an active exception")
    after the work is done and written."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
