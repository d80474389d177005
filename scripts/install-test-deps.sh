#!/usr/bin/env bash
# Installs the Debian packages the tests call, where they are missing (idempotent; it installs nothing on a
# machine that has them all). Runs apt-get as root, or through sudo.
#   ffmpeg       makes the video and audio files the readers' tests generate, and the system ffprobe the
#                video tests compare with the bundled one
#   webp         cwebp, img2webp, webpmux: the WebP files the image tests make
#   chromium     the dashboard's browser test (driven by playwright-core, no browser download)
#   dcmtk        img2dcm, dcmodify: the large multi-frame DICOM of the ranged-read test
#   imagemagick  convert: the frames of that DICOM (checked by package: another `convert` may be on PATH)
# Redis and PostgreSQL are not installed here: the tests expect them running (see the README).
set -euo pipefail

need=()
command -v ffprobe >/dev/null 2>&1 || need+=(ffmpeg)
command -v cwebp >/dev/null 2>&1 || need+=(webp)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v img2dcm >/dev/null 2>&1 || need+=(dcmtk)
dpkg -s imagemagick >/dev/null 2>&1 || need+=(imagemagick)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-test-deps: missing ${need[*]}, and this is not a Debian-like system: install them by hand" >&2
  exit 1
fi
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
echo "install-test-deps: installing ${need[*]}"
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
