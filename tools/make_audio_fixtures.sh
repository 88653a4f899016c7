#!/usr/bin/env bash
# Small codec fixtures for tests/audio_decode.rs: 0.5 s of a 440 Hz + 1 kHz stereo tone in every
# container the decoder supports, plus inputs it must refuse. Needs ffmpeg (apt-get install ffmpeg).
set -euo pipefail
cd "$(dirname "$0")/../tests/fixtures/audio"
src=(-f lavfi -i "sine=frequency=440:sample_rate=44100:duration=0.5" -f lavfi -i "sine=frequency=1000:sample_rate=44100:duration=0.5"
     -filter_complex "[0:a][1:a]join=inputs=2:channel_layout=stereo[a]" -map "[a]")
ff() { ffmpeg -hide_banner -loglevel error -y "$@"; }
ff "${src[@]}" -c:a flac tone.flac
ff "${src[@]}" -c:a libmp3lame -b:a 64k tone.mp3
ff "${src[@]}" -c:a libvorbis -q:a 2 tone.ogg
ff "${src[@]}" -c:a aac -b:a 64k tone.m4a
# Refused: Opus audio (no pure-Rust decoder in symphonia 0.5) and a video with no audio track.
ff "${src[@]}" -c:a libopus -b:a 32k tone.opus
ff -f lavfi -i "testsrc=size=64x48:rate=10:duration=0.3" -c:v libx264 -pix_fmt yuv420p -an video_only.mp4
ls -la
