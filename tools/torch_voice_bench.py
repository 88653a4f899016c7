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
import statistics
import time

import torch
from torch import nn


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


def median_time(fn, warmup, reps):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


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
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=0.05)
    x = torch.randn(args.batch, args.n_mels, args.train_frames)
    g = torch.randint(0, 2, (args.batch,))
    e = torch.randint(0, 8, (args.batch,))
    ce = nn.CrossEntropyLoss()

    def step():
        net.train()
        opt.zero_grad(set_to_none=True)
        _, lg, le = net(x)
        loss = 0.5 * ce(lg, g) + ce(le, e)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        opt.step()

    train_s = median_time(step, 3, args.reps)
    net.eval()
    one = torch.randn(1, args.n_mels, args.infer_frames)
    many = torch.randn(args.batch, args.n_mels, args.infer_frames)
    with torch.no_grad():
        one_s = median_time(lambda: net(one), 5, args.reps * 5)
        many_s = median_time(lambda: net(many), 2, args.reps)
    print(json.dumps({
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "train_step_ms": train_s * 1e3,
        "train_clips_per_s": args.batch / train_s,
        "infer_1_ms": one_s * 1e3,
        "infer_batch_ms": many_s * 1e3,
    }))


if __name__ == "__main__":
    main()
