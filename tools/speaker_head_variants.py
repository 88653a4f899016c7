#!/usr/bin/env python3
"""Alternatives to the shipped perceived-gender head on speaker embeddings, compared by
5-fold cross-validation by speaker on the head's own training data (never the held-out
speakers): sample weights per corpus or per speaker, and other classifiers.

    python3 tools/speaker_head_variants.py runs/speaker_cache \
        runs/accent_train.csv runs/accent_train_phone/manifest.csv runs/ravdess_all.csv

The embeddings come from the `speaker_gender` example's cache (`--cache DIR`: one JSON file
per manifest, path -> 256-d embedding), so run that example on the same manifests first.
Speakers are the manifests' `group` column (an archive speaker's telephone copy shares its
group, so both copies fall in one fold). Needs numpy and scikit-learn (tools/install_torch.sh's
venv has them). Prints accuracy and per-gender recall per corpus, out of fold.
"""
import csv
import json
import os
import sys

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.svm import SVC


def load(cache_dir, manifest):
    name = manifest.replace("/", "_").replace("\\", "_") + ".json"
    emb = json.load(open(os.path.join(cache_dir, name)))
    base = os.path.dirname(manifest)
    x, y, g = [], [], []
    for r in csv.DictReader(open(manifest)):
        if not r["voice"] or r["gender"] not in ("male", "female"):
            continue
        p = r["voice"] if os.path.isabs(r["voice"]) else os.path.join(base, r["voice"])
        key = p if p in emb else os.path.normpath(p)
        if key not in emb:
            raise SystemExit(f"{manifest}: {r['voice']} is not in the cache; run speaker_gender")
        x.append(emb[key])
        y.append(r["gender"] == "female")
        g.append(r["group"])
    return np.array(x), np.array(y), g


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    cache, manifests = sys.argv[1], sys.argv[2:]
    xs, ys, gs, ss = [], [], [], []
    for m in manifests:
        x, y, g = load(cache, m)
        xs.append(x)
        ys.append(y)
        gs += g
        ss += [os.path.basename(os.path.dirname(m)) if m.endswith("manifest.csv") else os.path.basename(m)] * len(y)
    X, Y, G, S = np.vstack(xs), np.concatenate(ys), np.array(gs), np.array(ss)
    speakers = np.unique(G)
    order = np.random.RandomState(0).permutation(len(speakers))
    fold_of = {speakers[i]: k % 5 for k, i in enumerate(order)}
    F = np.array([fold_of[g] for g in G])

    def weights(scheme):
        w = np.ones(len(Y))
        if scheme == "one weight per speaker":
            for g in speakers:
                m = G == g
                w[m] = 1.0 / m.sum()
            w *= len(Y) / w.sum()
        elif scheme.startswith("RAVDESS clips x"):
            w[np.char.startswith(S.astype(str), "ravdess")] = float(scheme.split("x")[1])
        return w

    variants = [(f"logistic C={c}, {s}", lambda c=c: LogisticRegression(C=c, max_iter=5000), s)
                for s in ("uniform", "one weight per speaker", "RAVDESS clips x0.5", "RAVDESS clips x0.25")
                for c in (10, 30, 100)]
    variants += [
        ("RBF SVM C=1", lambda: SVC(C=1, probability=True, random_state=0), "uniform"),
        ("RBF SVM C=10", lambda: SVC(C=10, probability=True, random_state=0), "uniform"),
        ("MLP 64, alpha 0.01", lambda: MLPClassifier((64,), alpha=1e-2, max_iter=2000, random_state=0), "uniform"),
    ]
    corpora = list(dict.fromkeys(S))
    print("| variant | " + " | ".join(f"{c}: accuracy (male / female recall)" for c in corpora) + " |")
    print("|---" * (len(corpora) + 1) + "|")
    for name, make, scheme in variants:
        w = weights(scheme)
        p = np.zeros(len(Y))
        for k in range(5):
            tr, te = F != k, F == k
            model = make()
            try:
                model.fit(X[tr], Y[tr], sample_weight=w[tr])
            except TypeError:
                model.fit(X[tr], Y[tr])
            p[te] = model.predict_proba(X[te])[:, 1]
        cells = []
        for c in corpora:
            m = S == c
            pred, y = p[m] > 0.5, Y[m]
            cells.append(f"{100 * (pred == y).mean():.2f} ({100 * (~pred[~y]).mean():.1f} / {100 * pred[y].mean():.1f})")
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
