#!/usr/bin/env python3
"""PyTorch CPU peer of facevox's VoiceNet, for benches/voice_train.rs.

The same architecture (4 conv-BN-ReLU blocks over the mel channels (--n-mels), statistics pooling,
128-d embedding, gender and emotion heads), the same batch shapes and optimiser (AdamW), timed
the same way: median of repeated runs after a warm-up. Prints one JSON object.

Install: tools/install_torch.sh (CPU wheel). Threads default to all cores, like candle.
"""
import argparse
import json
import os

import torch
from torch import nn

from torch_bench_common import time_model


class VoiceNet(nn.Module):
    def __init__(self, n_mels=64, channels=(128, 128, 192, 256), kernels=(5, 3, 3, 3),
                 dilations=(1, 2, 1, 1), pools=(1, 2, 2, 1), emb=128, n_emotions=8):
        super().__init__()
        layers = []
        c_in = n_mels
        for c, k, d, p in zip(channels, kernels, dilations, pools):
            layers += [nn.Conv1d(c_in, c, k, padding=d * (k // 2), dilation=d, bias=False),
                       nn.BatchNorm1d(c), nn.ReLU()]
            if p > 1:
                layers.append(nn.MaxPool1d(p))
            c_in = c
        self.blocks = nn.Sequential(*layers)
        self.embed = nn.Linear(2 * c_in, emb)
        self.dropout = nn.Dropout(0.3)
        self.gender = nn.Linear(emb, 2)
        self.emotion = nn.Linear(emb, n_emotions)

    def forward(self, x):
        h = self.blocks(x)
        mean = h.mean(-1)
        std = (h.var(-1, unbiased=False) + 1e-2).sqrt()
        e = torch.relu(self.embed(torch.cat([mean, std], 1)))
        d = self.dropout(e)
        return e, self.gender(d), self.emotion(d)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--train-frames", type=int, default=200)
    ap.add_argument("--infer-frames", type=int, default=300)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--n-mels", type=int, default=64)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    net = VoiceNet(n_mels=args.n_mels)
    x = torch.randn(args.batch, args.n_mels, args.train_frames)
    one = torch.randn(1, args.n_mels, args.infer_frames)
    many = torch.randn(args.batch, args.n_mels, args.infer_frames)
    result = time_model(net, x, one, many, gender_weight=0.5, lr=1e-3, reps=args.reps)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
