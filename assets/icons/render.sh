#!/bin/sh
# Renders the tray icon set (the SVG sources here) to the PNG sizes trays use; the PNGs are
# committed and embedded in the binary, so building never needs this script.
# Needs: rsvg-convert (apt-get install -y librsvg2-bin).
set -eu
cd "$(dirname "$0")"
mkdir -p png
for svg in *.svg; do
  name=${svg%.svg}
  for size in 16 22 24 32 48 64; do
    rsvg-convert -w "$size" -h "$size" "$svg" -o "png/$name-$size.png"
  done
done
