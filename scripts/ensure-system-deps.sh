#!/usr/bin/env bash
# Makes sure the system programs metasync needs are present; installs them with apt-get when we are root.
set -euo pipefail

need_exiftool() {
  command -v exiftool >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "metasync: installing ExifTool (libimage-exiftool-perl)..." >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q libimage-exiftool-perl >/dev/null \
      || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q libimage-exiftool-perl >/dev/null; }
    command -v exiftool >/dev/null 2>&1 && return 0
  fi
  echo "metasync needs ExifTool: Debian/Ubuntu 'sudo apt-get install libimage-exiftool-perl'; macOS 'brew install exiftool'; Windows: install from https://exiftool.org and put exiftool.exe on PATH." >&2
  exit 1
}

# Chromium drives the dashboard's end-to-end test; without it that one test skips, so failing here is a warning.
want_chromium() {
  command -v chromium >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "metasync: installing Chromium for the browser test..." >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 \
      || { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1; }
  fi
  command -v chromium >/dev/null 2>&1 || echo "metasync: Chromium not available; the browser test will be skipped" >&2
}

# darktable (run headless under xvfb-run) drives the real-darktable plugin test; without it that test skips.
want_darktable() {
  command -v darktable >/dev/null 2>&1 && command -v xvfb-run >/dev/null 2>&1 && command -v xauth >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "metasync: installing darktable and xvfb for the darktable plugin test..." >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q darktable xvfb xauth >/dev/null 2>&1 \
      || { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q darktable xvfb xauth >/dev/null 2>&1; }
  fi
  command -v darktable >/dev/null 2>&1 && command -v xvfb-run >/dev/null 2>&1 \
    || echo "metasync: darktable or xvfb-run not available; the real darktable test will be skipped" >&2
}

for dep in "$@"; do
  case "$dep" in
    exiftool) need_exiftool ;;
    chromium) want_chromium ;;
    darktable) want_darktable ;;
    *) echo "unknown dependency: $dep" >&2; exit 2 ;;
  esac
done
