#!/usr/bin/env python3
"""A quick probe of a pretrained face backbone for perceived gender (issue: "a pretrained
backbone, measured before it is trusted"): dlib's ResNet face descriptor (128-d, public domain,
`dlib_face_recognition_resnet_model_v1.dat` from the PyPI package `face_recognition_models`),
read by linear, RBF-SVM and MLP probes, alone and averaged with the shipped face model's
perceived-gender probability, on the FairFace selection slice (never trained on, never used
to choose anything else).

    python3 -m venv /tmp/dlibvenv
    /tmp/dlibvenv/bin/pip install dlib-bin face_recognition_models numpy scikit-learn pillow
    cargo run --release --example train_face -- \
        --fairface ../shared/data/fairface96/fairface_label_train.csv --write-manifests --out runs/ff_manifests
    cargo run --release --example evaluate -- --mode face \
        --manifest runs/ff_manifests/fairface_selection_by_race.csv \
        --json runs/probe/shipped_sel.json --predictions runs/probe/shipped_sel.jsonl
    OMP_NUM_THREADS=1 /tmp/dlibvenv/bin/python tools/dlib_descriptor_probe.py \
        --data ../shared/data/fairface96 --manifests runs/ff_manifests \
        --shipped runs/probe/shipped_sel.jsonl --cache runs/probe --train-count 12000 \
        --out models/face_report/experiments/backbone_probe_dlib_descriptor.json

Each FairFace picture is a dlib face chip already (FairFace's own crops: dlib's 5-point
alignment, padding 0.25), so it is resized to 150 px and given to the network as its aligned
chip. The probes train on `--train-count` pictures drawn (seed 1) from the FairFace training
part (the CSV minus the seeded selection and test parts that `train_face` holds out), with
standardised features. The descriptors are cached in `--cache` (`train.npz`,
`selection.npz`); about 60 ms a picture on one thread.
"""
import argparse
import csv
import json
import os
import random

import numpy as np


def descriptors(data, rows, log):
    import dlib
    import face_recognition_models as frm
    from PIL import Image
    net = dlib.face_recognition_model_v1(frm.face_recognition_model_location())
    out = []
    for i, f in enumerate(rows):
        im = Image.open(os.path.join(data, f)).convert("RGB").resize((150, 150), Image.BICUBIC)
        out.append(np.array(net.compute_face_descriptor(np.asarray(im)), dtype=np.float32))
        if i % 1000 == 0:
            print(log, i, flush=True)
    return np.stack(out)


def held_out(manifests):
    """The FairFace pictures (relative to the data folder) of the selection and test parts."""
    held = set()
    for m in ("fairface_selection_by_race.csv", "fairface_test_by_race.csv"):
        for r in csv.DictReader(open(os.path.join(manifests, m))):
            held.add(r["face"].split("fairface96/")[1])
    return held


def shipped_probs(path, files):
    """Which of `files` the shipped analyser found a face in (`evaluate --predictions` rows at
    `path`), and its perceived-gender probability for each (0.5 where it found none)."""
    shipped = {}
    for line in open(path):
        r = json.loads(line)
        shipped[r["input"].split("fairface96/")[1]] = r["gender"]["p_female"]
    return (np.array([f in shipped for f in files]),
            np.array([shipped.get(f, 0.5) for f in files]))


def rows_of(args, which):
    """(file relative to the data folder, gender, race) of the probe's training or selection rows."""
    if which == "selection":
        path = os.path.join(args.manifests, "fairface_selection_by_race.csv")
        return [(r["face"].split("fairface96/")[1], r["gender"], r["group"])
                for r in csv.DictReader(open(path))]
    held = held_out(args.manifests)
    rows = [r for r in csv.DictReader(open(os.path.join(args.data, "fairface_label_train.csv")))
            if r["file"] not in held]
    random.Random(1).shuffle(rows)
    return [(r["file"], r["gender"].lower(), r["race"]) for r in rows[:args.train_count]]


def features(args, which):
    path = os.path.join(args.cache, f"{which}.npz")
    if not os.path.exists(path):
        rows = rows_of(args, which)
        os.makedirs(args.cache, exist_ok=True)
        np.savez(path, files=[r[0] for r in rows], gender=[r[1] for r in rows],
                 race=[r[2] for r in rows], feats=descriptors(args.data, [r[0] for r in rows], which))
    return np.load(path)


def scores(p, y, race):
    right = (p > 0.5) == (y == 1)
    groups = {k: float(right[race == k].mean()) for k in sorted(set(race))}
    return {"n": int(len(p)), "accuracy": float(right.mean()),
            "balanced_accuracy": float(np.mean([right[y == c].mean() for c in (0, 1)])),
            "race_gap": max(groups.values()) - min(groups.values()), "by_race": groups}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True, help="the fairface96 folder")
    ap.add_argument("--manifests", required=True, help="train_face --write-manifests output")
    ap.add_argument("--shipped", required=True, help="evaluate --predictions on the selection")
    ap.add_argument("--cache", required=True)
    ap.add_argument("--train-count", type=int, default=12000)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    tr, se = features(args, "train"), features(args, "selection")
    xtr, ytr = tr["feats"], (tr["gender"] == "female").astype(int)
    xse, yse, race = se["feats"], (se["gender"] == "female").astype(int), se["race"]
    found, ps = shipped_probs(args.shipped, se["files"])
    sub = lambda p: scores(p[found], yse[found], race[found])
    result = {"protocol": "FairFace selection slice (seeded split 42); probes trained on "
              f"{len(ytr)} FairFace training-part pictures (seed 1); faces the shipped "
              "analyser finds (its no-face rows left out of every row marked found)",
              "shipped_ensemble_found": sub(ps), "probes": {}}
    scaler = StandardScaler().fit(xtr)
    probes = {
        "logistic_regression_C1": LogisticRegression(C=1.0, max_iter=2000),
        "rbf_svm_C3": SVC(C=3.0, probability=True, random_state=0),
        "mlp_256": MLPClassifier((256,), alpha=1e-3, max_iter=300, early_stopping=True,
                                 random_state=0),
    }
    for name, clf in probes.items():
        clf.fit(scaler.transform(xtr), ytr)
        pp = clf.predict_proba(scaler.transform(xse))[:, 1]
        result["probes"][name] = {"alone_all": scores(pp, yse, race), "alone_found": sub(pp),
                                  "mean_with_shipped_found": sub((pp + ps) / 2)}
    print(json.dumps({k: v for k, v in result.items() if k != "probes"}, indent=1))
    for name, r in result["probes"].items():
        for k, v in r.items():
            print(f"{name:24s} {k:24s} n={v['n']} acc {v['accuracy'] * 100:.2f} "
                  f"bal {v['balanced_accuracy'] * 100:.2f} race gap {v['race_gap'] * 100:.1f}")
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
