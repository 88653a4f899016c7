#!/usr/bin/env python3
"""Would a familiarity score on the speaker embedding flag the perceived-gender head's errors?

    python3 tools/speaker_familiarity.py runs/speaker_cache runs/spk_loco/head.json \
        --train runs/accent_train.csv --train runs/accent_train_phone/manifest.csv \
        --test runs/accent_heldout.csv --test runs/accent_phone/manifest.csv \
        --test runs/ravdess_all.csv --test runs/ravdess_phone/manifest.csv

Two scores, each thresholded at the 95th and 99th percentile of the training embeddings'
own scores: the root-mean-square z-score the voice networks' familiarity uses, and the
cosine distance to the 5 nearest training embeddings (a training row's own match left out).
For each test manifest: the share flagged, and the head's error rate among the flagged and
the other rows. The head is a `speaker_gender` head.json (here the archive-only one, which
never heard RAVDESS); embeddings come from that example's cache.
"""
import argparse
import json
import sys

import numpy as np

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from speaker_head_variants import load  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cache")
    ap.add_argument("head")
    ap.add_argument("--train", action="append", required=True)
    ap.add_argument("--test", action="append", required=True)
    a = ap.parse_args()
    head = json.load(open(a.head))
    w, b, t = np.array(head["weights"]), head["bias"], head["temperature"]
    xtr = np.vstack([load(a.cache, m)[0] for m in a.train])
    mu, sd = xtr.mean(0), np.maximum(xtr.std(0, ddof=1), 1e-3)
    unit = lambda x: x / np.linalg.norm(x, axis=1, keepdims=True)  # noqa: E731
    ntr = unit(xtr)

    def zscore(x, _train=False):
        return np.sqrt((((x - mu) / sd) ** 2).mean(1))

    def knn(x, train=False):
        s = -np.sort(-(unit(x) @ ntr.T), axis=1)
        return 1 - (s[:, 1:6] if train else s[:, :5]).mean(1)

    for name, score in (("rms z-score", zscore), ("5-nearest cosine distance", knn)):
        own = np.sort(score(xtr, True))
        for q in (0.95, 0.99):
            thr = own[int(round(q * (len(own) - 1)))]
            print(f"{name}, threshold at the training rows' {q:.0%} quantile ({thr:.3f})")
            for m in a.test:
                x, y, _ = load(a.cache, m)
                p = 1 / (1 + np.exp(-(x @ w + b) / t))
                err = (p > 0.5) != y
                f = score(x) > thr
                conf = np.maximum(p, 1 - p)
                rate = lambda e: f"{100 * e.mean():.1f}%" if len(e) else "-"  # noqa: E731
                print(f"  {m}: n {len(y)}, flagged {100 * f.mean():.1f}%, error rate flagged "
                      f"{rate(err[f])} ({err[f].sum()}/{f.sum()}), not flagged {rate(err[~f])} "
                      f"({err[~f].sum()}/{(~f).sum()}); mean confidence of the errors "
                      f"{conf[err].mean() if err.any() else float('nan'):.2f}")


if __name__ == "__main__":
    main()
