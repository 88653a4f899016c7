#!/usr/bin/env python3
"""Probes of dlib's ResNet face network's *intermediate* features for perceived gender (the
issue's "or using its intermediate features"), beside its 128-d descriptor
(`tools/dlib_descriptor_probe.py` probed that alone).

    OMP_NUM_THREADS=2 /tmp/dlibvenv/bin/python tools/dlib_features_probe.py \
        --data ../shared/data/fairface96 --manifests runs/ff_manifests \
        --shipped runs/probe/shipped_sel.jsonl --cache runs/dres \
        --out models/face_report/experiments/backbone_probe_dlib_features.json

(`runs/ff_manifests` and `runs/probe/shipped_sel.jsonl` as in `tools/dlib_descriptor_probe.py`'s
docstring.) The network runs in numpy (`tools/dlib_resnet.py`, which matches dlib's own
descriptors to cosine 0.9999999) on every FairFace training-part picture (the CSV minus the
seeded selection and test parts: 25,500; shuffled with seed 1, so the first 12,000 are the
descriptor probe's) and on the 1,500 selection pictures, each resized to 150 px as its chip.
Features kept per picture (`--cache`/{train,selection}_feats/*.npz, half precision; about 10 s
per 500 pictures on 2 threads):

    desc  the 128-d descriptor
    l0    the last block's output, 256 x 2 x 2 (what the descriptor pools)
    l1    level 1's last block, 256 x 4 x 4, averaged to 256 x 2 x 2
    l1b   level 1's second block, averaged over space (256)
    l2    level 2's last block, 128 x 8 x 8, averaged to 128 x 2 x 2
    l3    level 3's last block, averaged over space (64)

Each feature set (and some concatenations) is standardised and read by logistic regression
(C 0.05) and an MLP (512 hidden, alpha 0.01, early stopping, seed 0), trained on all 25,500
training pictures, and scored on the selection faces the shipped analyser finds (1,490), alone
and averaged with the shipped model's perceived-gender probability. Needs numpy, Pillow,
scikit-learn (and dlib + face_recognition_models only to locate the weights file).
"""
import argparse
import csv
import glob
import json
import os
import random
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dlib_resnet  # noqa: E402
from dlib_descriptor_probe import held_out, shipped_probs  # noqa: E402

SETS = "desc,l0,l1,l1b,l2,l0+l1,desc+l0+l1+l2"


def rows(args, which):
    if which == "selection":
        path = os.path.join(args.manifests, "fairface_selection_by_race.csv")
        return [(r["face"].split("fairface96/")[1], r["gender"], r["group"], "")
                for r in csv.DictReader(open(path))]
    held = held_out(args.manifests)
    rs = [r for r in csv.DictReader(open(os.path.join(args.data, "fairface_label_train.csv")))
          if r["file"] not in held]
    random.Random(1).shuffle(rs)
    return [(r["file"], r["gender"].lower(), r["race"], r["age"]) for r in rs]


def pool2(x):
    b, c, h, w = x.shape
    h2, w2 = h // 2, w // 2
    return x[:, :, : 2 * h2, : 2 * w2].reshape(b, c, 2, h2, 2, w2).mean(axis=(3, 5)).reshape(b, -1)


def features(ops, imgs):
    desc, blocks = dlib_resnet.forward(ops, imgs)
    # blocks: 3 x 32@35, 4 x 64@17, 3 x 128@8, 3 x 256@4, 1 x 256@2
    return {"desc": desc, "l0": blocks[13].reshape(len(desc), -1), "l1": pool2(blocks[12]),
            "l1b": blocks[11].mean(axis=(2, 3)), "l2": pool2(blocks[9]),
            "l3": blocks[6].mean(axis=(2, 3))}


def extract(args, ops, which):
    from PIL import Image
    rs = rows(args, which)
    out = os.path.join(args.cache, f"{which}_feats")
    os.makedirs(out, exist_ok=True)
    for c in range(0, len(rs), 500):
        path = f"{out}/{c:06d}.npz"
        if os.path.exists(path):
            continue
        part = rs[c:c + 500]
        imgs = np.stack([np.asarray(Image.open(os.path.join(args.data, r[0])).convert("RGB")
                                    .resize((150, 150), Image.BICUBIC)) for r in part])
        feats = {}
        for i in range(0, len(imgs), 50):
            for k, v in features(ops, imgs[i:i + 50]).items():
                feats.setdefault(k, []).append(v.astype(np.float16))
        feats = {k: np.concatenate(v) for k, v in feats.items()}
        np.savez(path + ".tmp.npz", files=[r[0] for r in part], gender=[r[1] for r in part],
                 race=[r[2] for r in part], age=[r[3] for r in part], **feats)
        os.rename(path + ".tmp.npz", path)
        print(which, c + len(part), "/", len(rs), flush=True)


def load(args, which):
    parts = {}
    for p in sorted(glob.glob(os.path.join(args.cache, f"{which}_feats", "*.npz"))):
        z = np.load(p)
        for k in z.files:
            parts.setdefault(k, []).append(z[k])
    return {k: np.concatenate(v) for k, v in parts.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--manifests", required=True)
    ap.add_argument("--shipped", required=True)
    ap.add_argument("--cache", required=True)
    ap.add_argument("--sets", default=SETS)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    import face_recognition_models as frm
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler

    ops = dlib_resnet.load(frm.face_recognition_model_location())
    for which in ("selection", "train"):
        extract(args, ops, which)
    tr, se = load(args, "train"), load(args, "selection")
    ages = {r["file"]: r["age"] for r in
            csv.DictReader(open(os.path.join(args.data, "fairface_label_train.csv")))}
    found, ps = shipped_probs(args.shipped, se["files"])
    yse, ytr = (se["gender"] == "female").astype(int), (tr["gender"] == "female").astype(int)
    race = se["race"]
    kid = np.array([ages[f] in ("0-2", "3-9") for f in se["files"]])

    def score(p):
        ok, y = ((p > 0.5) == (yse == 1))[found], yse[found]
        groups = {k: float(ok[race[found] == k].mean()) for k in sorted(set(race[found]))}
        return {"n": int(found.sum()), "accuracy": float(ok.mean()),
                "balanced_accuracy": float((ok[y == 0].mean() + ok[y == 1].mean()) / 2),
                "recall_male": float(ok[y == 0].mean()), "recall_female": float(ok[y == 1].mean()),
                "race_gap": max(groups.values()) - min(groups.values()), "by_race": groups,
                "under_10": float(ok[kid[found]].mean()), "n_under_10": int(kid[found].sum())}

    result = {"protocol": f"probes trained on {len(ytr)} FairFace training-part pictures, scored "
              "on the FairFace selection faces the shipped analyser finds; the mean with the "
              "shipped model averages the two perceived-gender probabilities",
              "shipped": score(ps), "probes": {}}
    print("shipped", json.dumps(result["shipped"]["accuracy"]))
    for fs in [s.split("+") for s in args.sets.split(",")]:
        xtr = np.concatenate([tr[f].astype(np.float32) for f in fs], 1)
        xse = np.concatenate([se[f].astype(np.float32) for f in fs], 1)
        sc = StandardScaler().fit(xtr)
        a, b = sc.transform(xtr), sc.transform(xse)
        for name, clf in [("logistic_regression_C0.05", LogisticRegression(C=0.05, max_iter=3000)),
                          ("mlp_512", MLPClassifier((512,), alpha=1e-2, max_iter=200,
                                                    early_stopping=True, random_state=0))]:
            t = time.time()
            clf.fit(a, ytr)
            p = clf.predict_proba(b)[:, 1]
            key = "+".join(fs) + " " + name
            result["probes"][key] = {"dim": int(a.shape[1]), "alone": score(p),
                                     "mean_with_shipped": score((p + ps) / 2)}
            r = result["probes"][key]
            print(f"{key:36s} dim {a.shape[1]:5d} {time.time() - t:5.1f}s alone "
                  f"{100 * r['alone']['accuracy']:.2f} (gap {100 * r['alone']['race_gap']:.1f}, "
                  f"<10 {100 * r['alone']['under_10']:.1f}) with shipped "
                  f"{100 * r['mean_with_shipped']['accuracy']:.2f} "
                  f"(gap {100 * r['mean_with_shipped']['race_gap']:.1f})", flush=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
