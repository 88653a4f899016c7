#!/usr/bin/env bash
# Seeds each fuzz target's corpus from real files in the repository (run from fuzz/).
set -euo pipefail
cd "$(dirname "$0")"
root=..
mk() { mkdir -p "corpus/$1"; }
for t in mp4_demux video_decode audio_decode image_load manifest model_load face_detect; do mk "$t"; done
# Video: the small fixture clips (every H.264 profile, rotation, edit list, VFR, H.265, FLV).
for f in "$root"/tests/fixtures/vision/*.mp4 "$root"/tests/fixtures/vision/*.flv; do
  cp "$f" corpus/mp4_demux/
  cp "$f" corpus/video_decode/
done
# Audio: each container, prefixed with the byte that picks the matching hint
# (audio_decode.rs: wav flac mp3 m4a ogg mp4 aac).
i=0
for ext in wav flac mp3 m4a ogg mp4 aac; do
  for f in "$root"/tests/fixtures/audio/*."$ext"; do
    [ -e "$f" ] || continue
    { printf "\\x$(printf %02x $i)"; cat "$f"; } > "corpus/audio_decode/$(basename "$f")"
  done
  i=$((i + 1))
done
# A WAV (16-bit and float) and pictures in each format, cut from the example clip with ffmpeg
# (apt-get install ffmpeg).
clip="$root/examples/data/01-01-07-02-02-01-01.mp4"
ff() { ffmpeg -hide_banner -loglevel error -y "$@"; }
ff -i "$clip" -t 0.5 -ac 1 -ar 16000 -c:a pcm_s16le /tmp/seed16.wav
ff -i "$clip" -t 0.3 -ac 2 -ar 8000 -c:a pcm_f32le /tmp/seedf32.wav
for f in /tmp/seed16.wav /tmp/seedf32.wav; do
  { printf '\x00'; cat "$f"; } > "corpus/audio_decode/$(basename "$f")"
done
for ext in png jpg bmp tiff; do
  ff -ss 1 -i "$clip" -frames:v 1 -vf scale=64:48 "corpus/image_load/frame.$ext"
done
# Face detection: a 160x120 frame of the clip as raw RGB behind the four control bytes
# (width - 1, height - 1, upsample 1, threshold 0), and a 96x96 cut around the face.
ff -ss 1 -i "$clip" -frames:v 1 -vf scale=160:120 -f rawvideo -pix_fmt rgb24 /tmp/seedframe.rgb
{ printf '\x9f\x77\x01\x80'; cat /tmp/seedframe.rgb; } > corpus/face_detect/frame
ff -ss 1 -i "$clip" -frames:v 1 -vf crop=240:240:200:40,scale=96:96 -f rawvideo -pix_fmt rgb24 /tmp/seedface.rgb
{ printf '\x5f\x5f\x01\x80'; cat /tmp/seedface.rgb; } > corpus/face_detect/face
# The CNN detector's weights as the weights half of a model input (empty JSON half).
python3 -c 'import sys; sys.stdout.buffer.write(b"\0\0" + open("../models/mmod_face.safetensors", "rb").read())' > corpus/model_load/mmod
# Manifests.
printf 'face,voice,gender,emotion\nclip.mp4,clip.mp4,male,disgust\n,a.wav,female,happy\n' > corpus/manifest/basic.csv
printf 'face,voice,gender,emotion,group\nx.png,,female,,s1\n' > corpus/manifest/group.csv
# Models: the fusion file (JSON only, empty weights half).
python3 - <<'PY'
import struct
j = open("../models/fusion.json", "rb").read()
open("corpus/model_load/fusion", "wb").write(struct.pack("<H", len(j) & 0xffff) + j)
PY
# The shipped model descriptions with a one-tensor safetensors file as the weights half
# (the loader gets through the JSON checks and fails on the missing tensors, or not).
python3 - <<'PY'
import json, struct
header = json.dumps({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
tiny = struct.pack("<Q", len(header)) + header + b"\0\0\x80\x3f"
for name in ["voice", "face"]:
    j = open(f"../models/{name}.json", "rb").read()
    if len(j) < 65536:
        open(f"corpus/model_load/{name}", "wb").write(struct.pack("<H", len(j)) + j + tiny)
PY
