"""Build the optional C engine: one shared library that is both a Python module (the calls
small draws and key derivation make, src/keystream/_csrc/pymod.c) and a library loaded with
ctypes (the large kernels, which release the GIL).

If the compiler is missing or fails, the package still installs and keystream
runs on the portable torch engine (it warns once, and ``keystream selftest``
shows which engine runs).
"""
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

# -ffp-contract=off: no fused multiply-add, ever (docs/spec.md section 6); never -ffast-math.
# -fno-math-errno only lets sqrt compile to the IEEE instruction; it changes no result.
# (Do not add -fno-fast-math after it: that turns math-errno back on.)
FLAGS = ["-O3", "-std=c11", "-ffp-contract=off", "-fno-math-errno"]


class OptionalBuildExt(build_ext):
    def run(self):
        try:
            super().run()
        except Exception as err:  # noqa: BLE001
            print(f"keystream: the C engine was not built ({err}); using the portable engine", file=sys.stderr)

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as err:  # noqa: BLE001
            print(f"keystream: the C engine was not built ({err}); using the portable engine", file=sys.stderr)


setup(
    ext_modules=[
        Extension(
            "keystream._kscore",
            sources=["src/keystream/_csrc/keystream.c", "src/keystream/_csrc/pool.c", "src/keystream/_csrc/pymod.c"],
            depends=["src/keystream/_csrc/ks_constants.h", "src/keystream/_csrc/pool.h"],
            extra_compile_args=FLAGS + ([] if sys.platform == "win32" else ["-pthread"]),
            extra_link_args=[] if sys.platform == "win32" else ["-pthread"],
        )
    ],
    cmdclass={"build_ext": OptionalBuildExt},
)
