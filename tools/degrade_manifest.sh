#!/usr/bin/env bash
# Re-records every voice file of a facevox manifest through a real telephone-like channel:
# band-limited to 300-3400 Hz, resampled to 8 kHz, and encoded as 16 kbit/s MP3 with LAME.
# Writes the clips and a manifest with the same labels beside them.
#   tools/degrade_manifest.sh runs/voice_mc/accent_heldout.csv runs/accent_phone
# Needs sox (with libsox-fmt-mp3) and lame: apt-get install sox libsox-fmt-mp3 lame
set -euo pipefail
manifest="$1"; out="$2"
mkdir -p "$out/clips"
base="$(cd "$(dirname "$manifest")" && pwd)"
{
  IFS= read -r header; echo "$header"
  while IFS=, read -r face voice gender emotion group; do
    case "$voice" in /*) src="$voice" ;; *) src="$base/$voice" ;; esac
    name="$(basename "${voice%.*}")"
    sox -q "$src" -r 8000 -c 1 "$out/clips/$name.wav" sinc 300-3400
    lame --quiet -b 16 "$out/clips/$name.wav" "$out/clips/$name.mp3"
    rm "$out/clips/$name.wav"
    echo "$face,clips/$name.mp3,$gender,$emotion,$group"
  done
} < "$manifest" > "$out/manifest.csv"
echo "wrote $out/manifest.csv"
