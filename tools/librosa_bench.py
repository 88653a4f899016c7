#!/usr/bin/env python3
"""librosa's side of benches/mel_vs_librosa.rs: the same work, timed the same way.

Prints one JSON object:
  mel:      log-mel (librosa.feature.melspectrogram + log) of every clip given, single-threaded,
            with the voice-branch settings (16 kHz, n_fft 512, 25 ms Hann window, 10 ms hop,
            64 Slaney mels 20-8000 Hz, power 2, centre padding), on float32 samples as
            librosa.load returns them
  pipeline: librosa.load(path, sr=16000) (decode + soxr resample) + the same log-mel, of one file

Usage: python3 tools/librosa_bench.py --clips LIST.txt --pipeline FILE.wav --repeats N
Run by the bench with OMP/OpenBLAS/MKL threads set to 1.
"""
import argparse
import json
import time

import librosa
import numpy as np
import soundfile as sf

MEL = dict(sr=16000, n_fft=512, win_length=400, hop_length=160, window="hann", center=True,
           pad_mode="constant", power=2.0, n_mels=64, fmin=20.0, fmax=8000.0, htk=False,
           norm="slaney")


def log_mel(y):
    return np.log(np.maximum(librosa.feature.melspectrogram(y=y, **MEL), 1e-10))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", required=True)
    ap.add_argument("--pipeline", required=True)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    paths = [p for p in open(a.clips).read().splitlines() if p]
    clips = [sf.read(p, dtype="float32")[0] for p in paths]
    audio_s = sum(len(c) for c in clips) / 16000.0
    log_mel(clips[0])  # warm-up (filterbank cache, FFT plans)
    best = float("inf")
    for _ in range(a.repeats):
        t = time.perf_counter()
        for c in clips:
            log_mel(c)
        best = min(best, time.perf_counter() - t)

    librosa.load(a.pipeline, sr=16000)
    times = []
    for _ in range(max(10, a.repeats * 5)):
        t = time.perf_counter()
        y, _ = librosa.load(a.pipeline, sr=16000)
        log_mel(y)
        times.append(time.perf_counter() - t)
    print(json.dumps({
        "librosa": librosa.__version__, "numpy": np.__version__,
        "clips": len(clips), "audio_seconds": audio_s, "mel_seconds": best,
        "pipeline_seconds_median": float(np.median(times)),
    }))


if __name__ == "__main__":
    main()
