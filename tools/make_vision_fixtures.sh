#!/usr/bin/env bash
# Small video fixtures for tests/vision_video.rs. Needs ffmpeg with libx264 and libx265
# (apt-get install ffmpeg).
#
# The count_* clips are 24 frames at 24 fps whose luma is a flat level of 16 + 8 * frame number,
# so a test can check that every frame comes out, in display order, at the right time, for each
# H.264 profile: Baseline (no B-frames), Main with B-frames, and High with a B-pyramid and 8x8
# transforms. The others are inputs the decoder must refuse with a typed error.
set -euo pipefail
cd "$(dirname "$0")/../tests/fixtures/vision"
ff() { ffmpeg -hide_banner -loglevel error -y "$@"; }
count() { # width height
  echo "-f lavfi -i color=c=gray:size=$1x$2:rate=24:duration=1,geq=lum='16+8*N':cb=128:cr=128"
}
# Baseline, 100x60 (a width that is not a multiple of 8 exercises the scalar colour converter).
ff $(count 100 60) -c:v libx264 -profile:v baseline -pix_fmt yuv420p -g 12 count_baseline.mp4
# Main with 2 B-frames between references.
ff $(count 96 64) -c:v libx264 -profile:v main -pix_fmt yuv420p -bf 2 -b_strategy 0 -x264-params b-pyramid=none -g 12 count_main_bframes.mp4
# High with a 3-frame B-pyramid (B-frames used as references) and 8x8 transforms.
ff $(count 96 64) -c:v libx264 -profile:v high -pix_fmt yuv420p -bf 3 -b_strategy 0 -x264-params b-pyramid=normal:8x8dct=1 -g 24 count_high_bpyramid.mp4
# Refused: H.265 in MP4, and Sorenson H.263 in FLV.
ff -f lavfi -i testsrc=size=64x48:rate=10:duration=0.3 -c:v libx265 -pix_fmt yuv420p -tag:v hvc1 -x265-params log-level=error hevc.mp4
ff -f lavfi -i testsrc=size=64x48:rate=10:duration=0.3 -c:v flv sorenson.flv
ls -la
