#!/usr/bin/env bash
# Checks on real data that cannot live in the test suite (it must pass without ../shared).
# Run by .ci/run when ../shared exists. Each check is a function named check_<something> that prints what it saw
# and returns non-zero on failure; add yours to CHECKS at the bottom. All checks run; the script fails if any did.
set -euo pipefail
cd "$(dirname "$0")/.."

SHARED="${EDGECAM_SHARED:-../shared}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/edgecam-real-data.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

# ---------- helpers ----------

edgecam() { node dist/src/cli/main.js "$@"; }

# Installs Debian packages that are missing (via sudo when not root).
ensure_packages() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ "${#missing[@]}" -eq 0 ] && return 0
  echo "installing ${missing[*]}"
  local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# Path of a photo shipped by the darknet Debian package (dog.jpg, eagle.jpg, giraffe.jpg, horses.jpg…).
darknet_photo() {
  dpkg -L darknet | grep -E "/$1\$" | head -n 1
}

# Prepares the shared MobileNetV2 as a backbone folder with ImageNet class names (once per run).
imagenet_backbone() {
  local dir="$WORK/mobilenetv2"
  if [ ! -f "$dir/manifest.json" ]; then
    edgecam backbone prepare "$SHARED/models/mobilenetv2-12-int8.onnx" --labels "$SHARED/models/imagenet_synset.txt" --out "$dir" >&2
  fi
  echo "$dir"
}

# ---------- checks ----------

# issue 2 item 8: backbone prepare + predict name darknet's photos: dog.jpg → a dog breed (ImageNet classes
# 151-268), eagle.jpg → "bald eagle".
check_imagenet_darknet_photos() {
  ensure_packages darknet
  local model dog eagle
  model="$(imagenet_backbone)"
  dog="$(darknet_photo dog.jpg)"
  eagle="$(darknet_photo eagle.jpg)"
  [ -n "$dog" ] && [ -n "$eagle" ] || { echo "darknet ships no dog.jpg/eagle.jpg (dpkg -L darknet)"; return 1; }
  edgecam predict "$model" "$dog" "$eagle" --json --top 3 --providers cpu > "$WORK/imagenet.json"
  node --input-type=module - "$WORK/imagenet.json" "$model/manifest.json" <<'EOF'
import { readFileSync } from 'node:fs';
const [results, manifest] = process.argv.slice(2).map((f) => JSON.parse(readFileSync(f, 'utf8')));
const byName = Object.fromEntries(results.map((r) => [r.file.split('/').pop(), r]));
const failures = [];
for (const [name, want, ok] of [
  ['dog.jpg', 'a dog breed (ImageNet 151-268)', (i) => i >= 151 && i <= 268],
  ['eagle.jpg', 'bald eagle', (i) => manifest.labels[i] === 'bald eagle'],
]) {
  const r = byName[name];
  if (!r || r.error) { failures.push(`${name}: ${r ? r.error : 'missing from the output'}`); continue; }
  const index = manifest.labels.indexOf(r.label);
  const top = r.top.map((t) => `${t.label} ${(t.score * 100).toFixed(1)}%`).join(', ');
  console.log(`  ${name}: top-1 class ${index} "${r.label}" (${(r.confidence * 100).toFixed(1)}%); top-3: ${top}; expected ${want}`);
  if (!ok(index)) failures.push(`${name}: got "${r.label}" (class ${index}), expected ${want}`);
}
if (failures.length) { console.log(`  FAILED: ${failures.join('; ')}`); process.exit(1); }
EOF
}

# issue 4 item 8: the shipped models measured on pets/val with `edgecam evaluate` (targets: transfer ≥ 97 %, small
# CNN ≥ 85 %). The figures are printed, and the check fails below either target: both shipped models meet theirs
# (97.50 % and 85.42 %; ONNX Runtime on the CPU gives the same figures run after run), so any drop is a regression.
check_shipped_models_on_pets_val() {
  local val="$SHARED/datasets/pets/val" composed="$WORK/pets-mobilenetv2"
  edgecam model pull mobilenetv2 --file "$SHARED/models/mobilenetv2-12-int8.onnx" --head models/pets-mobilenetv2-head --out "$composed" >&2
  edgecam evaluate "$composed" "$val" --json > "$WORK/eval-transfer.json"
  edgecam evaluate models/pets-cnn "$val" --json > "$WORK/eval-cnn.json"
  node --input-type=module - "$WORK/eval-transfer.json" "$WORK/eval-cnn.json" <<'EOF'
import { readFileSync } from 'node:fs';
const [transfer, cnn] = process.argv.slice(2).map((f) => JSON.parse(readFileSync(f, 'utf8')));
let failed = false;
for (const [name, r, target] of [['pets-mobilenetv2 (transfer)', transfer, 0.97], ['pets-cnn (small CNN)', cnn, 0.85]]) {
  const verdict = r.accuracy >= target ? 'meets target' : 'BELOW TARGET';
  console.log(`  ${name}: accuracy ${(r.accuracy * 100).toFixed(2)} % on ${r.n} val images (target ${target * 100} %: ${verdict})`);
  if (r.accuracy < target) failed = true;
}
process.exit(failed ? 1 : 0);
EOF
}

# ---------- runner ----------

CHECKS=(
  check_imagenet_darknet_photos
  check_shipped_models_on_pets_val
)

if [ ! -f "$SHARED/models/mobilenetv2-12-int8.onnx" ]; then
  echo "no $SHARED/models: real-data checks skipped"
  exit 0
fi
[ -f dist/src/cli/main.js ] || npx tsc -p tsconfig.json

failed=()
for check in "${CHECKS[@]}"; do
  echo "== $check"
  # Not inside `if`: there bash ignores errexit in the subshell, and a check would run on past its first failure.
  set +e
  ( set -euo pipefail; "$check" )
  rc=$?
  set -e
  if [ "$rc" -eq 0 ]; then echo "   ok"; else echo "   FAILED ($rc)"; failed+=("$check"); fi
done
if [ "${#failed[@]}" -gt 0 ]; then
  echo "real-data checks failed: ${failed[*]}"
  exit 1
fi
echo "real-data checks: all ${#CHECKS[@]} passed"
