#!/usr/bin/env python3
"""Offline: a second emotion network averaged with the shipped face model's main network, the
logit adjustment (`emotion_prior_correction`) swept on the FER+ selection slice and the chosen
strength scored on FER+ Valid (model card, "A second emotion network, measured offline").

    target/release/examples/train_face --ferplus ../shared/data/ferplus --evaluate models \
        --save-predictions --out runs/eval_ship_fer
    target/release/examples/train_face --ferplus ../shared/data/ferplus \
        --evaluate runs/face_aligned_full --save-predictions --out runs/eval_align_fer
    python3 tools/face_emotion_combo.py models/face.json runs/eval_ship_fer/predictions.jsonl \
        runs/eval_align_fer/predictions.jsonl \
        --out models/face_report/experiments/emotion_member_aligned_offline.json

The shipped file's emotion output is undone to the network's own probabilities (its
temperature, then its correction), averaged with the other network's (which has neither),
and the correction `p / prior^tau` applied again for tau 0 to 1.5 by 0.05. `tau` is chosen on
the selection slice (the best UAR there, as the shipped tau was); Valid is scored at that
tau, and the whole Valid sweep is written as a diagnostic that chooses nothing. Needs numpy.
"""
import argparse
import json

import numpy as np

EMOTIONS = ["neutral", "happy", "surprised", "sad", "angry", "disgust", "fearful", "contempt"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("face_json")
    ap.add_argument("shipped")
    ap.add_argument("other")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    spec = json.load(open(a.face_json))
    temp = spec["calibration"]["emotion"]
    prior = np.array(spec["emotion_prior_correction"]["prior"])
    tau0 = spec["emotion_prior_correction"]["tau"]
    ship = [json.loads(l) for l in open(a.shipped)]
    other = [json.loads(l) for l in open(a.other)]
    if len(ship) != len(other) or any(s["label_emotion"] != o["label_emotion"] or
                                      s["split"] != o["split"] for s, o in zip(ship, other)):
        raise SystemExit("the two prediction files do not list the same faces in the same order")

    def undo(p):
        p = np.array(p, float) ** temp
        p /= p.sum()
        p = p * prior ** tau0
        return p / p.sum()

    ps = np.array([undo(r["emotion"]) for r in ship])
    po = np.array([r["emotion"] for r in other], float)
    y = np.array([EMOTIONS.index(r["label_emotion"]) if r["label_emotion"] else -1 for r in ship])
    split = np.array([r["split"] for r in ship])
    sel, val = (split == "selection") & (y >= 0), (split == "ferplus_valid") & (y >= 0)

    def corr(p, tau):
        q = p / prior ** tau
        return q / q.sum(1, keepdims=True)

    def metrics(p, m):
        pred, yy = p[m].argmax(1), y[m]
        recall = {EMOTIONS[k]: float((pred[yy == k] == k).mean()) for k in range(8) if (yy == k).any()}
        return {"n": int(m.sum()), "accuracy": float((pred == yy).mean()),
                "uar": float(np.mean(list(recall.values()))), "recall": recall}

    taus = [round(0.05 * k, 2) for k in range(31)]
    out = {"protocol": "FER+ selection slice chooses tau (best UAR); FER+ Valid scored at it; "
           "valid_sweep is a diagnostic", "models": {}}
    for name, p in [("shipped main network", ps), ("other network", po),
                    ("mean of the two", (ps + po) / 2)]:
        best = max(taus, key=lambda t: metrics(corr(p, t), sel)["uar"])
        out["models"][name] = {
            "chosen_tau": best, "selection": metrics(corr(p, best), sel),
            "valid": metrics(corr(p, best), val), "valid_uncorrected": metrics(p, val),
            "selection_sweep": {t: {k: v for k, v in metrics(corr(p, t), sel).items() if k != "recall"} for t in taus},
            "valid_sweep": {t: {k: v for k, v in metrics(corr(p, t), val).items() if k != "recall"} for t in taus}}
        r = out["models"][name]
        print(f"{name:22s} tau {best:.2f}: selection {100 * r['selection']['accuracy']:.2f} / "
              f"{100 * r['selection']['uar']:.2f}; Valid {100 * r['valid']['accuracy']:.2f} / "
              f"{100 * r['valid']['uar']:.2f}")
    json.dump(out, open(a.out, "w"), indent=1)


if __name__ == "__main__":
    main()
