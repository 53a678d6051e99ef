#!/bin/sh
# Install a model update on an edgecam device, safely:
#   scripts/update-model.sh <url|file> [--sha256 H] [--signature sig --pubkey key] [other `edgecam model install` flags]
# Downloads with resume and a stall timeout, verifies sha256 / ed25519 signature, checks the manifest against the
# graph, test-runs the model on a stored frame, activates it, watches the daemon's /healthz (update.watchSeconds)
# and rolls back if the daemon does not serve it healthily. Exit status 0 only when the new model is serving.
set -eu
if [ $# -lt 1 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
  sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
if command -v edgecam >/dev/null 2>&1; then
  exec edgecam model install "$@"
fi
exec node "$here/../dist/src/cli/main.js" model install "$@"
