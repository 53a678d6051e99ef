#!/usr/bin/env bash
# Training speed, edgecam (tfjs) vs PyTorch, on this machine. Options: see bench/train-speed.ts.
set -euo pipefail
cd "$(dirname "$0")/.."
# Rebuild when the compiled bench is missing or older than its sources (tsc emits even if other files have type errors).
if [ ! -f dist/bench/train-speed.js ] || [ -n "$(find bench/train-speed.ts src/learn/backend -newer dist/bench/train-speed.js -name '*.ts' 2>/dev/null | head -1)" ]; then
  npx tsc -p . >/dev/null || true
fi
exec node dist/bench/train-speed.js "$@"
