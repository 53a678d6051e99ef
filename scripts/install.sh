#!/usr/bin/env bash
# Install edgecam as a systemd service on a Raspberry Pi / Jetson (Debian, Ubuntu, Raspberry Pi OS).
#
#   sudo scripts/install.sh             # install from this checkout (run `npm ci` first), enable and start
#   scripts/install.sh --dry-run        # print every step, change nothing (no root needed)
#
# Options: --prefix DIR (app folder, default /opt/edgecam), --no-start (install and enable, do not start),
#          --dry-run. Re-running upgrades the app and the unit; an existing /etc/edgecam/edgecam.yaml is kept.
set -euo pipefail

PREFIX=/opt/edgecam
DATA_DIR=/var/lib/edgecam
CONFIG_DIR=/etc/edgecam
UNIT_DIR=/etc/systemd/system
SERVICE_USER=edgecam
DRY_RUN=0
START=1
SOURCE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

die() { echo "install.sh: $*" >&2; exit 1; }
run() {
  if [ "$DRY_RUN" = 1 ]; then echo "+ $*"; else "$@"; fi
}

while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY_RUN=1 ;;
    --no-start) START=0 ;;
    --prefix) [ $# -ge 2 ] || die "--prefix needs a folder"; PREFIX="$2"; shift ;;
    --prefix=*) PREFIX="${1#--prefix=}" ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (try --help)" ;;
  esac
  shift
done

# 1. Checks that hold in dry-run too: Node >= 20, a built checkout, systemd.
NODE_BIN="$(command -v node || true)"
[ -n "$NODE_BIN" ] || die "Node.js is not installed; install Node 20 or newer (https://nodejs.org or your distribution's nodejs package)."
NODE_VERSION="$("$NODE_BIN" -p 'process.versions.node')"
NODE_MAJOR="${NODE_VERSION%%.*}"
[ "$NODE_MAJOR" -ge 20 ] || die "Node $NODE_VERSION is too old; edgecam needs Node 20 or newer."
echo "Node $NODE_VERSION at $NODE_BIN"
[ -f "$SOURCE_DIR/dist/src/cli/main.js" ] || die "$SOURCE_DIR is not built; run \`npm ci\` (it builds dist/) first."
[ -d "$SOURCE_DIR/node_modules" ] || die "$SOURCE_DIR has no node_modules; run \`npm ci\` first."
command -v systemctl >/dev/null || die "systemctl not found: this script installs a systemd service."
if [ "$DRY_RUN" = 0 ] && [ "$(id -u)" -ne 0 ]; then die "run as root (sudo $0), or with --dry-run to see the steps."; fi

# 2. A dedicated user without a login shell or home, allowed to use cameras.
if id "$SERVICE_USER" >/dev/null 2>&1; then
  echo "user $SERVICE_USER exists"
else
  run useradd --system --no-create-home --home-dir "$DATA_DIR" --shell /usr/sbin/nologin --user-group "$SERVICE_USER"
fi
if getent group video >/dev/null 2>&1; then run usermod -a -G video "$SERVICE_USER"; fi

# 3. The app, read-only for the service.
run mkdir -p "$PREFIX"
for item in package.json dist node_modules models samples; do
  if [ -e "$SOURCE_DIR/$item" ]; then run cp -a "$SOURCE_DIR/$item" "$PREFIX/"; fi
done
run chown -R root:root "$PREFIX"

# 4. Folders: data and models writable by the service, config readable by it.
run install -d -o "$SERVICE_USER" -g "$SERVICE_USER" -m 0750 "$DATA_DIR" "$DATA_DIR/models" "$DATA_DIR/data" "$DATA_DIR/data/collect"
run install -d -o root -g "$SERVICE_USER" -m 0750 "$CONFIG_DIR"
if [ -e "$CONFIG_DIR/edgecam.yaml" ]; then
  echo "keeping existing $CONFIG_DIR/edgecam.yaml"
elif [ "$DRY_RUN" = 1 ]; then
  echo "+ write $CONFIG_DIR/edgecam.yaml (camera ffmpeg:/dev/video0, mqtt://127.0.0.1:1883)"
else
  cat > "$CONFIG_DIR/edgecam.yaml" <<'YAML'
# edgecam configuration: `edgecam config keys` lists every key, `edgecam config check --config <this file>` validates.
camera:
  source: ffmpeg:/dev/video0
  fps: 2
model:
  # unset: /var/lib/edgecam/models/active, else the bundled pets model
  providers: [cuda, cpu]
mqtt:
  url: mqtt://127.0.0.1:1883
  baseTopic: edgecam
  cameraId: door
http:
  host: 127.0.0.1
  port: 8765
collect:
  dir: /var/lib/edgecam/data/collect
YAML
  chown root:"$SERVICE_USER" "$CONFIG_DIR/edgecam.yaml"
  chmod 0640 "$CONFIG_DIR/edgecam.yaml"
fi

# 5. The unit, pointed at this node and prefix.
UNIT_SRC="$SOURCE_DIR/systemd/edgecam.service"
[ -f "$UNIT_SRC" ] || die "missing $UNIT_SRC"
if [ "$DRY_RUN" = 1 ]; then
  echo "+ install $UNIT_SRC -> $UNIT_DIR/edgecam.service (ExecStart=$NODE_BIN $PREFIX/dist/src/cli/main.js run --config $CONFIG_DIR/edgecam.yaml)"
else
  sed -e "s#^ExecStart=.*#ExecStart=$NODE_BIN $PREFIX/dist/src/cli/main.js run --config $CONFIG_DIR/edgecam.yaml#" "$UNIT_SRC" > "$UNIT_DIR/edgecam.service"
  chmod 0644 "$UNIT_DIR/edgecam.service"
fi
run systemctl daemon-reload
if [ "$START" = 1 ]; then
  run systemctl enable --now edgecam.service
else
  run systemctl enable edgecam.service
fi

echo "Done. Logs: journalctl -u edgecam -f    Health: curl http://127.0.0.1:8765/healthz"
echo "Edit $CONFIG_DIR/edgecam.yaml, then: sudo systemctl restart edgecam (model only: sudo systemctl reload edgecam)"
