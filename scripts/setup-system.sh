#!/usr/bin/env bash
# Installs the Debian packages edgecam and its tests use: ffmpeg (camera streams), mosquitto
# (broker and clients for tests), fswebcam (USB webcams via node-webcam), v4l-utils (camera list),
# chromium (browser tests of the web page). Skips packages already present; needs root or sudo.
set -euo pipefail
pkgs=(ffmpeg mosquitto mosquitto-clients fswebcam v4l-utils chromium)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ "${#missing[@]}" -eq 0 ]; then echo "system packages: all present"; exit 0; fi
echo "system packages: installing ${missing[*]}"
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
