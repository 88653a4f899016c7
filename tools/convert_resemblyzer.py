#!/usr/bin/env python3
"""Converts Resemblyzer's pretrained GE2E speaker encoder to safetensors for facevox, and writes
the reference embeddings that tests/speaker_encoder.rs compares the candle port against.

The encoder (Corentin Jemine / Resemble AI, Apache License 2.0) ships inside the PyPI wheel
`Resemblyzer==0.1.4` as `resemblyzer/pretrained.pt`: a 3-layer LSTM (40 mel bands in, 256
hidden) and a 256x256 linear layer, trained with the GE2E loss on LibriSpeech, VoxCeleb 1 and
VoxCeleb 2. Only the network's weights are kept (not the GE2E similarity scale, nor the optimiser
state); the tensors keep PyTorch's names and layouts (`lstm.weight_ih_l{k}` (1024, in),
`lstm.weight_hh_l{k}` (1024, 256), `lstm.bias_ih_l{k}`, `lstm.bias_hh_l{k}` (1024), gates in the
order input, forget, cell, output; `linear.weight` (256, 256) out by in, `linear.bias`).

    pip download --no-deps Resemblyzer==0.1.4 && unzip Resemblyzer-0.1.4-py3-none-any.whl
    python3 tools/convert_resemblyzer.py resemblyzer/pretrained.pt models/speaker_ge2e.safetensors
    # references (needs torch, librosa; the data):
    python3 tools/convert_resemblyzer.py resemblyzer/pretrained.pt models/speaker_ge2e.safetensors \
        --reference ../shared/data/speech_accent tests/fixtures/speaker_ge2e/reference.json

The reference file also holds the embedding (and each partial's) of a synthetic 3 s signal,
`0.1 sin(2 pi 150 t) + 0.05 sin(2 pi 450 t) (1 + 0.5 sin(2 pi 3 t)) + 0.02 sin(2 pi 2500 t)`,
which the test rebuilds without any data. The recordings' reference embeddings are the original code's (`VoiceEncoder.embed_utterance`, partials at
1.3 per second, 75% minimum coverage) on 20 accent-archive recordings (the first 10 women and
10 men of speakers.csv), each loaded by librosa at its own 16 kHz and volume-normalised to
-30 dBFS (increase only) as Resemblyzer's `preprocess_wav` does, but without its webrtcvad
silence trimming, which facevox does not port (it trims with its own energy detector), so that
both sides see the same samples.
"""
import argparse, csv, json, os, sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import write_safetensors  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint")
    ap.add_argument("out")
    ap.add_argument("--reference", nargs=2, metavar=("SPEECH_ACCENT_DIR", "OUT_JSON"))
    a = ap.parse_args()
    import torch

    state = torch.load(a.checkpoint, map_location="cpu")["model_state"]
    keep = {k: v.numpy() for k, v in state.items() if k.startswith(("lstm.", "linear."))}
    assert len(keep) == 14, sorted(keep)
    write_safetensors(a.out, keep, {"source": "Resemblyzer 0.1.4 pretrained.pt (GE2E voice encoder)",
                                    "licence": "Apache-2.0"})
    print(f"wrote {a.out}: {len(keep)} tensors, {sum(v.size for v in keep.values())} parameters")
    if not a.reference:
        return
    import librosa

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(a.checkpoint))))
    from resemblyzer import VoiceEncoder
    from resemblyzer.audio import normalize_volume

    torch.set_num_threads(1)
    enc = VoiceEncoder("cpu", verbose=False, weights_fpath=a.checkpoint)
    root, out = a.reference
    # A synthetic voice-like signal both sides can build exactly: the test needs no data.
    n = np.arange(3 * 16000, dtype=np.float64)
    syn = (0.1 * np.sin(2 * np.pi * 150 * n / 16000) + 0.05 * np.sin(2 * np.pi * 450 * n / 16000)
           * (1 + 0.5 * np.sin(2 * np.pi * 3 * n / 16000)) + 0.02 * np.sin(2 * np.pi * 2500 * n / 16000)).astype(np.float32)
    syn_embed, syn_partials, _ = enc.embed_utterance(normalize_volume(syn, -30, increase_only=True), return_partials=True)
    rows = list(csv.DictReader(open(os.path.join(root, "speakers.csv"))))
    pick = [r for r in rows if r["gender"] == "female"][:10] + [r for r in rows if r["gender"] == "male"][:10]
    refs = []
    for r in pick:
        wav, sr = librosa.load(os.path.join(root, r["file"]), sr=None)
        assert sr == 16000, (r["file"], sr)
        wav = normalize_volume(wav, -30, increase_only=True)
        refs.append({"file": r["file"], "gender": r["gender"], "embedding": [round(float(x), 7) for x in enc.embed_utterance(wav)]})
    json.dump({
        "source": "Resemblyzer 0.1.4 VoiceEncoder.embed_utterance, torch " + torch.__version__,
        "synthetic": {"embedding": [round(float(x), 7) for x in syn_embed],
                      "partials": [[round(float(x), 7) for x in p] for p in syn_partials]},
        "clips": refs}, open(out, "w"))
    print(f"wrote {out}: {len(refs)} reference embeddings")


if __name__ == "__main__":
    main()
