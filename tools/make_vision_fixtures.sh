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
# Phone-style rotation: rot0 is 0.5 s of the example clip at 240x180; rotN stores the same
# frames turned N degrees counter-clockwise and sets the track header's display matrix to turn
# them N degrees clockwise on display (a = cos N, b = sin N, c = -sin N, d = cos N, 16.16 fixed
# point), as phones do for portrait clips. The matrix is written directly: ffmpeg 5's rotate
# tag is not written when encoding.
ff -ss 1.0 -i ../../../examples/data/01-01-07-02-02-01-01.mp4 -t 0.5 -an -vf scale=240:180 -c:v libx264 -profile:v main -pix_fmt yuv420p -crf 30 -g 15 rot0.mp4
ff -i rot0.mp4 -vf transpose=2 -c:v libx264 -profile:v main -pix_fmt yuv420p -crf 30 rot90.mp4
ff -i rot0.mp4 -vf hflip,vflip -c:v libx264 -profile:v main -pix_fmt yuv420p -crf 30 rot180.mp4
ff -i rot0.mp4 -vf transpose=1 -c:v libx264 -profile:v main -pix_fmt yuv420p -crf 30 rot270.mp4
python3 - <<'PY'
import struct
for angle, (a, b) in {90: (0, 1), 180: (-1, 0), 270: (0, -1)}.items():
    name = f"rot{angle}.mp4"
    data = bytearray(open(name, "rb").read())
    i = data.find(b"tkhd")
    assert i > 0 and data[i + 4] == 0, "a version-0 tkhd"
    m = i + 4 + 4 + 20 + 16  # version/flags, times/id/duration, reserved/layer/group/volume
    fx = lambda v: struct.pack(">i", int(v * 65536))
    data[m:m + 16] = fx(a) + fx(b) + b"\0\0\0\0" + fx(-b)
    data[m + 16:m + 20] = fx(a)
    open(name, "wb").write(bytes(data))
PY
# An edit list that skips the first frames: a 1 s, 160x120 clip with a key frame every 15
# frames, cut at 0.3 s by a stream copy (ffmpeg keeps the frames from the key frame before the
# cut and writes an edit list that starts at the cut). And variable frame rate: the same clip's
# frames 8 onwards delayed by 0.5 s.
ff -ss 1.0 -i ../../../examples/data/01-01-07-02-02-01-01.mp4 -t 1.0 -an -vf scale=160:120 -c:v libx264 -profile:v main -pix_fmt yuv420p -crf 32 -g 15 -bf 0 small.mp4
ff -ss 0.3 -i small.mp4 -c copy editlist.mp4
ff -i small.mp4 -vf "setpts='if(lt(N,8),N,N+15)/30/TB'" -fps_mode passthrough -c:v libx264 -profile:v main -pix_fmt yuv420p -crf 32 -g 15 -bf 0 vfr.mp4
rm small.mp4
