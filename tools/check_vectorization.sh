#!/usr/bin/env bash
# Show which loops of the C engine gcc vectorises, per target clone (AVX-512 = 64-byte
# vectors, AVX2 = 32, baseline SSE2 = 16).  Same flags as setup.py.
set -euo pipefail
cd "$(dirname "$0")/.."
src=src/keystream/_csrc/keystream.c
gcc -O3 -std=c11 -ffp-contract=off -fno-math-errno -shared -fPIC -fopt-info-vec-optimized \
    -o /tmp/keystream_vec_check.so "$src" 2>&1 |
  sed -E 's/^[^:]+:([0-9]+):[0-9]+: optimized: (.*)$/\1 \2/' |
  while read -r line rest; do
    fn=$(awk -v l="$line" 'NR<=l && /^(static |KS_CLONES|int |void |int64_t )/ && /\(/ {f=$0} END {print f}' "$src" |
         sed -E 's/.* ([a-z0-9_]+)\(.*/\1/')
    echo "$fn (line $line): $rest"
  done | sort | uniq -c
