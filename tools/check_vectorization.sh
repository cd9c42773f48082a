#!/usr/bin/env bash
# Show which loops of the C engine gcc vectorises, per file and target clone (AVX-512 = 64-byte
# vectors, AVX2 = 32, baseline SSE2 = 16).  Same flags as setup.py.
set -euo pipefail
cd "$(dirname "$0")/.."
for src in src/keystream/_engines/_csrc/*.c; do
  case "$src" in */pymod.c|*/pool.c) continue ;; esac
  gcc -O3 -std=c11 -ffp-contract=off -fno-math-errno -fPIC -fopt-info-vec-optimized \
      -c -o /tmp/keystream_vec_check.o "$src" 2>&1 |
    sed -E 's/^[^:]+:([0-9]+):[0-9]+: optimized: (.*)$/\1 \2/' |
    while read -r line rest; do
      fn=$(awk -v l="$line" 'NR<=l && /^(static |KS_CLONES|int |void |int64_t )/ && /\(/ {f=$0} END {print f}' "$src" |
           sed -E 's/.* ([a-z0-9_]+)\(.*/\1/')
      echo "$(basename "$src") $fn (line $line): $rest"
    done | sort | uniq -c
done
