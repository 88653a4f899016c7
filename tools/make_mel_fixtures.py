#!/usr/bin/env python3
"""Reference log-mel spectrograms from librosa, for tests/mel_librosa.rs.

Input: the audio of the shipped example clip (RAVDESS 01-01-07-02-02-01-01, the same recording
as ravdess/speech/Actor_01/03-01-07-02-02-01-01.flac, 16 kHz 16-bit), read from the FLAC in
$FACEVOX_DATA (default ../shared/data). A 22.05 kHz version of its voiced middle part is made with
scipy.signal.resample_poly so one case runs at another rate.

Output in tests/fixtures/mel/:
  clip16k.i16        raw little-endian int16 samples (sample / 32768 is the signal)
  clip22k.f32        raw little-endian float32 samples
  <case>.f32         raw little-endian float32 mel power, row-major [n_mels][n_frames]
  cases.json         each case's input, MelConfig fields, shape and librosa version

Run: pip install librosa==0.11.0 soundfile scipy && python3 tools/make_mel_fixtures.py
"""
import json
import os
import sys
from pathlib import Path

import librosa
import numpy as np
import scipy.signal
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "mel"
DATA = Path(os.environ.get("FACEVOX_DATA", ROOT.parent / "shared" / "data"))
FLAC = DATA / "ravdess" / "speech" / "Actor_01" / "03-01-07-02-02-01-01.flac"

# Each case lists MelConfig fields (names as in src/audio/mel.rs).
CASES = {
    "voice_default": dict(
        input="clip16k.i16", sample_rate=16000, n_fft=512, win_length=400, hop_length=160,
        window="hann", n_mels=64, fmin=20.0, fmax=8000.0, mel_scale="slaney", norm="slaney",
        power=2.0, center=True, pad_mode="constant", db=True),
    "htk_magnitude_reflect": dict(
        input="clip16k.i16", sample_rate=16000, n_fft=1024, win_length=1024, hop_length=256,
        window="hamming", n_mels=40, fmin=0.0, fmax=7600.0, mel_scale="htk", norm="none",
        power=1.0, center=True, pad_mode="reflect"),
    "uncentred_odd_fft": dict(
        input="clip16k.i16", sample_rate=16000, n_fft=400, win_length=320, hop_length=100,
        window="hann", n_mels=80, fmin=50.0, fmax=7000.0, mel_scale="slaney", norm="slaney",
        power=2.0, center=False, pad_mode="constant"),
    "librosa_defaults_22k": dict(
        input="clip22k.f32", sample_rate=22050, n_fft=2048, win_length=2048, hop_length=512,
        window="hann", n_mels=128, fmin=0.0, fmax=11025.0, mel_scale="slaney", norm="slaney",
        power=2.0, center=True, pad_mode="constant"),
}


def main():
    if not FLAC.exists():
        sys.exit(f"missing {FLAC}: set FACEVOX_DATA to the shared data folder")
    OUT.mkdir(parents=True, exist_ok=True)
    pcm, sr = sf.read(FLAC, dtype="int16")
    assert sr == 16000 and pcm.ndim == 1, (sr, pcm.shape)
    pcm.astype("<i2").tofile(OUT / "clip16k.i16")
    inputs = {"clip16k.i16": pcm.astype(np.float64) / 32768.0}

    # 1.5 s from the voiced middle, at 22.05 kHz, stored as float32.
    mid = inputs["clip16k.i16"][24000:48000]
    y22 = scipy.signal.resample_poly(mid, 441, 320).astype("<f4")
    y22.tofile(OUT / "clip22k.f32")
    inputs["clip22k.f32"] = y22.astype(np.float64)

    meta = {"librosa": librosa.__version__, "numpy": np.__version__, "cases": {}}
    for name, c in CASES.items():
        y = inputs[c["input"]]
        S = librosa.feature.melspectrogram(
            y=y, sr=c["sample_rate"], n_fft=c["n_fft"], hop_length=c["hop_length"],
            win_length=c["win_length"], window=c["window"], center=c["center"],
            pad_mode=c["pad_mode"], power=c["power"], n_mels=c["n_mels"], fmin=c["fmin"],
            fmax=c["fmax"], htk=c["mel_scale"] == "htk",
            norm="slaney" if c["norm"] == "slaney" else None)
        S.astype("<f4").tofile(OUT / f"{name}.f32")
        entry = dict(c, shape=list(S.shape))
        if c.get("db"):
            D = librosa.power_to_db(S, ref=1.0, amin=1e-10, top_db=None)
            D.astype("<f4").tofile(OUT / f"{name}.db.f32")
        meta["cases"][name] = entry
        print(f"{name}: {S.shape}, max {S.max():.4g}, min {S.min():.4g}")
    (OUT / "cases.json").write_text(json.dumps(meta, indent=2) + "\n")


if __name__ == "__main__":
    main()
