"""Timing shared by the PyTorch peers of facevox's model benches (torch_voice_bench.py,
torch_face_bench.py): the same training step (AdamW, gradient clipping at 5, weighted
cross-entropy of two heads) and inference timing, median of repeated runs after a warm-up."""
import statistics
import time

import torch
from torch import nn


def median_time(fn, warmup, reps):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def time_model(net, x, one, many, gender_weight, lr, reps):
    """Times a training step on batch `x` and inference on `one` and `many`; `net(x)` returns
    (embedding, gender logits, emotion logits). Returns the JSON-ready dict the benches read."""
    batch = x.shape[0]
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=0.05)
    g = torch.randint(0, 2, (batch,))
    e = torch.randint(0, 8, (batch,))
    ce = nn.CrossEntropyLoss()

    def step():
        net.train()
        opt.zero_grad(set_to_none=True)
        _, lg, le = net(x)
        loss = gender_weight * ce(lg, g) + ce(le, e)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        opt.step()

    train_s = median_time(step, 3, reps)
    net.eval()
    with torch.no_grad():
        one_s = median_time(lambda: net(one), 5, reps * 5)
        many_s = median_time(lambda: net(many), 2, reps)
    return {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "train_step_ms": train_s * 1e3,
        "train_examples_per_s": batch / train_s,
        "infer_1_ms": one_s * 1e3,
        "infer_batch_ms": many_s * 1e3,
    }
