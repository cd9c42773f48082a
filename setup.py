"""Build the optional C engine: a plain shared library loaded with ctypes (``_kscore``: the
kernels, which release the GIL), and a Python module of the same C code (``_native``: the calls
small draws and key derivation make, src/keystream/_engines/_csrc/pymod.c), which needs Python's
headers; each is optional on its own.

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

    def get_export_symbols(self, ext):
        # _kscore is a ctypes library, not a Python module: no PyInit_ symbol
        return [] if ext.name.endswith("_kscore") else super().get_export_symbols(ext)

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as err:  # noqa: BLE001
            print(f"keystream: the C engine was not built ({err}); using the portable engine", file=sys.stderr)


#: The C engine's files, one family each (src/keystream/_engines/_csrc/ks_internal.h says which).
ENGINE = [
    f"src/keystream/_engines/_csrc/{name}.c"
    for name in (
        "philox", "fill", "truncnorm", "permutation", "exact", "multinomial", "gamma", "counts",
        "sampling", "montecarlo", "dropout", "augment", "pool",
    )
]
HEADERS = [f"src/keystream/_engines/_csrc/{name}.h" for name in ("keystream", "ks_internal", "ks_constants", "pool")]

setup(
    ext_modules=[
        Extension(
            name,
            sources=[*ENGINE, *extra],
            depends=HEADERS,
            extra_compile_args=FLAGS + ([] if sys.platform == "win32" else ["-pthread"]),
            extra_link_args=[] if sys.platform == "win32" else ["-pthread"],
        )
        for name, extra in (
            ("keystream._engines._kscore", []),
            ("keystream._engines._native", ["src/keystream/_engines/_csrc/pymod.c"]),
        )
    ],
    cmdclass={"build_ext": OptionalBuildExt},
)
