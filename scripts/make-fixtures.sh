#!/usr/bin/env bash
# Makes every fixture: runs each scripts/fixtures/<type>.sh in name order. Each script writes its own
# fixtures/<type>/ files (the expected.json files beside them are written by hand and never touched).
#
# FIXTURES_DIR=<dir> writes into <dir>/<type>/ instead, by running the scripts from a copy of the repo's
# scripts/ in a scratch tree: the way to check that the committed fixtures are reproducible without
# touching them (compare with `cmp` afterwards).
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
scripts=("$repo"/scripts/fixtures/*.sh)
[ -e "${scripts[0]}" ] || { echo "no scripts/fixtures/*.sh" >&2; exit 1; }

for tool in ffmpeg ffprobe convert exiftool img2dcm dcmodify dcmconv qpdf heif-enc cwebp img2webp python3; do
  command -v "$tool" >/dev/null || { echo "missing tool: $tool (Debian: ffmpeg imagemagick libimage-exiftool-perl dcmtk qpdf libheif-examples webp python3)" >&2; exit 1; }
done

root="$repo"
if [ -n "${FIXTURES_DIR:-}" ]; then
  # The scripts find fixtures/ relative to themselves: give them a scratch tree whose fixtures/ is the target.
  mkdir -p "$FIXTURES_DIR"
  root="$(mktemp -d)"
  trap 'rm -rf "$root"' EXIT
  mkdir -p "$root/scripts"
  cp -r "$repo/scripts/fixtures" "$root/scripts/"
  ln -s "$(cd "$FIXTURES_DIR" && pwd)" "$root/fixtures"
fi

for script in "$root"/scripts/fixtures/*.sh; do
  echo "== $(basename "$script")"
  # Some scripts cd into their folder without creating it: make it, so a clean fixtures/ works.
  mkdir -p "$root/fixtures/$(basename "$script" .sh)"
  bash "$script"
done
