#!/usr/bin/env bash
# Install the system libraries checkin needs, where they are missing: the zbar library (the
# gate's fallback QR decoder) and the DejaVu fonts (Vietnamese text on badges, Sans and Sans Mono).
# As root it uses apt-get; otherwise it says what to install and stops.
set -euo pipefail

missing=()
ldconfig -p 2>/dev/null | grep -q 'libzbar\.so\.0' || missing+=(libzbar0)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)
if [ "${WITH_BROWSER:-0}" = 1 ]; then  # what the test suite drives: a browser, a virtual screen, keys, a print RIP
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v gs >/dev/null 2>&1 || missing+=(ghostscript)  # tests/documents render every PDF as a print shop does
  command -v Xvfb >/dev/null 2>&1 || missing+=(xvfb)
  command -v xdotool >/dev/null 2>&1 || missing+=(xdotool)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "checkin needs these system packages: ${missing[*]}" >&2
  echo "install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "installing system packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq "${missing[@]}" >/dev/null
