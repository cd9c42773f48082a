"""What the installed distribution says of itself: one version, the license it ships."""
from __future__ import annotations

import importlib.metadata
import pathlib
import re
import sys

import keystream as ks

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_one_version():
    assert importlib.metadata.version("keystream") == ks.__version__
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^dynamic = \["version"\]', pyproject, re.M)  # read from _version.py
    assert not re.search(r'^version = "', pyproject, re.M)


def test_license_is_an_spdx_expression_and_ships_its_file():
    meta = importlib.metadata.metadata("keystream")
    assert meta["License-Expression"] == "MIT"
    assert "LICENSE" in (meta.get_all("License-File") or [])
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    # the installed distribution's record (an editable install also leaves a source-tree
    # keystream.egg-info, which comes first when src/ leads sys.path)
    installed = [d for d in importlib.metadata.distributions(name="keystream")
                 if any(str(f).endswith("RECORD") for f in d.files or [])]
    assert installed
    assert any(str(f).endswith("LICENSE") for f in installed[0].files or [])


def test_optional_front_ends_name_their_extra_when_missing():
    """keystream and keystream.numpy import without JAX and dask; keystream.jax and
    keystream.dask then raise an ImportError that names the extra to install."""
    import subprocess

    code = (
        "import sys\n"
        "sys.modules['jax'] = None; sys.modules['dask'] = None\n"
        "import keystream, keystream.numpy\n"
        "for name, extra in (('keystream.jax', 'keystream[jax]'), ('keystream.dask', 'keystream[dask]')):\n"
        "    try:\n"
        "        __import__(name)\n"
        "    except ImportError as err:\n"
        "        assert extra in str(err), err\n"
        "    else:\n"
        "        raise SystemExit(name + ' imported without its library')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
