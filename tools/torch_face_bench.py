#!/usr/bin/env python3
"""PyTorch CPU peer of facevox's FaceNet, for benches/face_train.rs.

The same architecture (stages of conv3x3-BN-ReLU, max-pool, global average pooling, an
embedding (128-d by default; `--embedding`), gender and emotion heads), the same batch shapes
and optimiser (AdamW with gradient clipping), timed the same way: median of repeated runs
after a warm-up. Prints one JSON object.

Install: tools/install_torch.sh (CPU wheel). Threads default to all cores, like candle.
"""
import argparse
import json
import os

import torch
from torch import nn

from torch_bench_common import time_model


class FaceNet(nn.Module):
    def __init__(self, in_ch=1, stages=(32, 64, 128, 256), convs=2, emb=128, n_emotions=8,
                 dropout=0.4):
        super().__init__()
        layers = []
        c_in = in_ch
        for c in stages:
            for _ in range(convs):
                layers += [nn.Conv2d(c_in, c, 3, padding=1, bias=False), nn.BatchNorm2d(c),
                           nn.ReLU()]
                c_in = c
            layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.embed = nn.Linear(c_in, emb)
        self.dropout = nn.Dropout(dropout)
        self.gender = nn.Linear(emb, 2)
        self.emotion = nn.Linear(emb, n_emotions)

    def forward(self, x):
        h = self.features(x).mean((2, 3))
        e = torch.relu(self.embed(h))
        d = self.dropout(e)
        return e, self.gender(d), self.emotion(d)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--infer-batch", type=int, default=32)
    ap.add_argument("--size", type=int, default=48)
    ap.add_argument("--in-channels", type=int, default=1)
    ap.add_argument("--stages", type=str, default="32,64,128,256")
    ap.add_argument("--convs", type=int, default=2)
    ap.add_argument("--embedding", type=int, default=128)
    ap.add_argument("--dropout", type=float, default=0.4)
    ap.add_argument("--reps", type=int, default=10)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    stages = tuple(int(s) for s in args.stages.split(","))
    net = FaceNet(args.in_channels, stages, args.convs, emb=args.embedding, dropout=args.dropout)
    x = torch.randn(args.batch, args.in_channels, args.size, args.size)
    one = torch.randn(1, args.in_channels, args.size, args.size)
    many = torch.randn(args.infer_batch, args.in_channels, args.size, args.size)
    result = time_model(net, x, one, many, gender_weight=1.0, lr=2e-3, reps=args.reps)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
