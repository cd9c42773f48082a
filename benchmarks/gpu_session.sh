#!/usr/bin/env bash
# The whole GPU measurement as one command, run from the repository root on a machine with
# an NVIDIA GPU, torch and Triton (JAX and CuPy are measured too where installed):
#
#   OUT=gpu-out bash benchmarks/gpu_session.sh      # writes env.txt, build.txt, gpu.txt, gpu.json, ncu.txt
#   bash benchmarks/gpu_session.sh --device cpu --engine triton-interpreter --n 4096 --n-perm 512 \
#       --reps 2 --big 600 --mc-samples 20000 --mc-chunk 4096      # smoke test without a GPU
#
# Records the GPU and versions, builds the C engine in place (the CPU oracle of the
# conformance check's large draw; without it the portable engine is), runs
# benchmarks/gpu.py with the launch-shape sweep, then profiles randn / rand with ncu
# where the machine allows hardware counters.  gpu.txt (and what ncu.txt says of issue
# slots, occupancy and registers) belongs in docs/benchmarks.md with the GPU model.
set -uo pipefail
cd "$(dirname "$0")/.."
# PYTHON: the interpreter that has torch (python3 by default; `python` may be another one).
py="${PYTHON:-python3}"
out="${OUT:-gpu-out}"
mkdir -p "$out"
{
  nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,driver_version --format=csv
  "$py" -c "import sys, torch, triton; print(sys.version.split()[0], torch.__version__, triton.__version__)"
} 2>&1 | tee "$out/env.txt"
"$py" setup.py -q build_ext --inplace > "$out/build.txt" 2>&1 ||
  echo "C engine not built (see build.txt): the portable engine is the oracle of the large draw"
PYTHONPATH=src timeout "${GPU_BENCH_TIMEOUT:-500}" "$py" -u benchmarks/gpu.py --json "$out/gpu.json" --sweep \
  --deadline 430 "$@" 2>&1 | tee "$out/gpu.txt"
status="${PIPESTATUS[0]}"
# Why the draws run at their speed: hardware counters where the machine allows them
# (a minute at most, so that the whole command stays within about ten minutes).
ncu_bin="$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)"
if [ -n "$ncu_bin" ] && [ "${1:-}" != "--device" ]; then
  PYTHONPATH=src timeout 60 "$ncu_bin" --clock-control none --kernel-name regex:draw_contiguous \
    --section SpeedOfLight --section ComputeWorkloadAnalysis --section Occupancy --section LaunchStats \
    --section SchedulerStats "$py" benchmarks/gpu_profile.py > "$out/ncu.txt" 2>&1 ||
    echo "ncu: no profile (see ncu.txt)"
fi
exit "$status"
