"""Read the GPU engine's machine code without a GPU: instructions per element per kernel.

    python tools/gpu_sass.py                 # every variant, sm_90 (H100 / H200)
    python tools/gpu_sass.py normal --dump   # matching variants, and print their SASS

Compiles every kernel variant the engine launches (``_engines/_triton_aot.py``) for
sm_90 with Triton's bundled ptxas and reads it with nvdisasm / cuobjdump: the
instructions one thread executes on its fast path (up to the first EXIT: the vector stores
of a full program; the edge-block code after it runs in at most two programs), per output
element; the share on the integer ALU pipe; registers per thread; the store width.

The fast path is the code in order, except that a conditional forward branch over a
CALL is taken: the kernels call a routine only for the special operands of IEEE division
and square root (zero, infinity, subnormal or huge: ptxas's ``slowpath`` and
``div_rn_f64_full``), which the draws never divide or take roots of.  So both arms of an
if / else count, and a loop's body counts once.

"issue bound" is a static upper bound, not a measurement: one warp instruction per
cycle per scheduler (4 per SM) at the boost clock, for an H200 / H100 SXM (132 SMs,
1.98 GHz), and one integer-ALU instruction per two cycles (sm_90 does 64 32-bit integer,
logic, compare and shift operations per SM per cycle, against 128 float32 ones: CUDA C
Programming Guide, "Arithmetic Instructions"), whichever is slower; it ignores memory,
latency and the other pipes.  A kernel whose bound is
below the device's write bandwidth cannot reach it; one above may still fall short.
Use it to compare versions of a kernel before a GPU is at hand, then measure there
(benchmarks/gpu.py).
"""
from __future__ import annotations

import argparse
import collections
import re
import subprocess
import tempfile
from pathlib import Path

from keystream._engines import _triton_aot

ALU = {"LOP3", "ISETP", "SHF", "IADD3", "LEA", "SEL", "PLOP3", "P2R", "R2P", "VIADD", "FLO", "POPC", "SGXT",
       "IABS", "IMNMX", "BMSK", "PRMT", "MOV", "FSEL", "FSETP", "DSETP"}
SMS, CLOCK_GHZ, SCHEDULERS = 132, 1.98, 4
_OP = re.compile(r"\s*/\*[0-9a-f]+\*/\s+(@!?U?P\w+\s+)?([A-Z0-9_.]+)")
_LABEL = re.compile(r"^(\.L_x_\d+):")
_TARGET = re.compile(r"`\((\.L_x_\d+)\)")


def fast_path(code: str) -> list[str]:
    """Opcodes of the instructions one thread of a full program executes, up to its first
    EXIT (see the module docstring for how branches are followed)."""
    lines: list[tuple[str | None, str]] = []  # (opcode or None for a label, the line)
    where: dict[str, int] = {}
    for line in code.splitlines():
        if (lab := _LABEL.match(line.strip())) is not None:
            where[lab.group(1)] = len(lines)
            lines.append((None, line))
        elif (m := _OP.match(line)) is not None:
            lines.append((m.group(2), line))
    path: list[str] = []
    i = 0
    while i < len(lines):
        op, line = lines[i]
        i += 1
        if op is None:
            continue
        path.append(op)
        if op == "EXIT":
            break
        target = _TARGET.search(line)
        conditional = _OP.match(line).group(1) is not None  # type: ignore[union-attr]
        if op.startswith("BRA") and conditional and target is not None and where.get(target.group(1), -1) > i:
            if any(op == "CALL" or (op or "").startswith("CALL.") for op, _ in lines[i:where[target.group(1)]]):
                i = where[target.group(1)]
    return path


def elements_per_program(v: _triton_aot.Variant) -> int:
    """Output elements (in_ball: samples) of one program; a thread has 1 / (32 * warps)."""
    c = v.constexprs
    if v.kernel in ("draw_contiguous", "draw_scattered"):  # scattered: for runs much longer than K
        return c["BLOCK"] * c["K"]
    if v.kernel == "in_ball_blocks_kernel":  # samples: 4 / DIMS per Philox block
        return c["BLOCK"] * 4 // c["DIMS"]
    return c["BLOCK"]


def registers(compiled) -> str:  # type: ignore[no-untyped-def]
    import triton

    tool = Path(triton.__file__).parent / "backends" / "nvidia" / "bin" / "cuobjdump"
    with tempfile.NamedTemporaryFile(suffix=".cubin") as f:
        f.write(compiled.asm["cubin"])
        f.flush()
        out = subprocess.run([str(tool), "-res-usage", f.name], capture_output=True, text=True, check=False).stdout
    m = re.search(r"REG:(\d+)", out)
    return m.group(1) if m else "?"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("match", nargs="?", default="", help="only variants whose label contains this")
    ap.add_argument("--dump", action="store_true", help="print the SASS of the matching variants")
    ap.add_argument("--block", type=int, default=1024)
    ap.add_argument("--num-warps", type=int, default=4)
    args = ap.parse_args()
    print(f"sm_90, BLOCK {args.block}, {args.num_warps} warps; issue bound for {SMS} SMs at {CLOCK_GHZ} GHz\n")
    print("| variant | instr / element | ALU share | registers | stores | issue bound G elem/s |")
    print("|---|---|---|---|---|---|")
    for v in _triton_aot.variants(block=args.block):
        if args.match not in v.label:
            continue
        compiled = _triton_aot.compile_variant(v, num_warps=args.num_warps)
        code = _triton_aot.sass(compiled)
        main_path = fast_path(code)
        ops = collections.Counter(op.split(".")[0] for op in main_path)
        per = len(main_path) / (elements_per_program(v) / (32 * args.num_warps))  # SASS is per thread
        alu = sum(n for op, n in ops.items() if op in ALU) / max(1, len(main_path))
        stores = sorted({op for op in main_path if op.startswith("STG")}) or ["-"]
        bound = SMS * SCHEDULERS * CLOCK_GHZ * 32 / (per * max(1.0, 2 * alu))  # the ALU pipe is half rate
        print(f"| {v.label} | {per:.1f} | {100 * alu:.0f}% | {registers(compiled)} | {' '.join(stores)} | "
              f"{bound:.0f} |")
        if args.dump:
            print(code)


if __name__ == "__main__":
    main()
