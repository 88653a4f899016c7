#!/usr/bin/env python3
"""Summarise inner-validation scores of cross-validation runs made with `--inner-val N`.

For each run folder given (holding fold_N.jsonl epoch logs), prints per fold the validation
emotion accuracy and UAR and the gender accuracy averaged over the last K epochs (default 10),
the best validation score, and their means over folds. Configs are compared on these numbers,
which come from training speakers held out from each fold, never from the fold's test speakers.

    python3 tools/inner_val_summary.py runs/sel_a runs/sel_b [--last 10] [--folds N]

`--folds N` reads only folds 1..N (to compare runs stopped early on the same folds).
"""
import glob
import json
import os
import statistics
import sys


def main():
    args = sys.argv[1:]
    last = 10
    if "--last" in args:
        i = args.index("--last")
        last = int(args[i + 1])
        del args[i : i + 2]
    folds = None
    if "--folds" in args:
        i = args.index("--folds")
        folds = int(args[i + 1])
        del args[i : i + 2]
    for run in args:
        tails, bests, uars, genders = [], [], [], []
        paths = sorted(glob.glob(os.path.join(run, "fold_[0-9].jsonl")))
        for path in paths[:folds]:
            rows = [json.loads(l) for l in open(path) if l.strip()]
            vals = [r["validation"] for r in rows if r.get("validation")]
            if not vals:
                continue
            tail = vals[-last:]
            tails.append(statistics.mean(v["emotion_accuracy"] for v in tail))
            uars.append(statistics.mean(v["emotion_uar"] for v in tail))
            genders.append(statistics.mean(v["gender_accuracy"] for v in tail))
            bests.append(max(v["score"] for v in vals))
        if not tails:
            print(f"{run}: no validation logs")
            continue
        sd = statistics.stdev(tails) if len(tails) > 1 else 0.0
        print(
            f"{run}: {len(tails)} folds; val emotion acc (last {last} epochs) "
            f"{statistics.mean(tails):.4f} +- {sd:.4f} "
            f"[{' '.join(f'{t:.3f}' for t in tails)}]; UAR {statistics.mean(uars):.4f}; "
            f"best val score {statistics.mean(bests):.4f}; val gender acc (last {last}) "
            f"{statistics.mean(genders):.4f} [{' '.join(f'{g:.3f}' for g in genders)}]"
        )


if __name__ == "__main__":
    main()
