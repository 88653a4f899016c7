#!/usr/bin/env python3
"""Markdown tables for the model card from a cross-validation report (`cv_report.json`).

    python3 tools/cv_markdown.py runs/voice/cv_report.json

Prints the per-fold table (emotion accuracy / UAR / macro-F1, gender accuracy / balanced
accuracy / AUC, emotion accuracy for female and male speakers) with mean ± std, and the pooled
emotion confusion matrix with per-class recall.
"""
import json
import statistics
import sys


def ms(values):
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}"


def main():
    d = json.load(open(sys.argv[1]))
    folds = d["folds"]
    print("| fold | test actors | n | emotion acc | emotion UAR | macro-F1 | gender acc | "
          "gender bal. acc | gender AUC | emotion acc, female / male |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    cols = {k: [] for k in ["acc", "uar", "f1", "gacc", "gbal", "auc", "fem", "male"]}
    n_all = 0
    for f in folds:
        e, g = f["emotion"], f["gender"]
        actors = ", ".join(a.replace("actor_", "") for a in f["test_groups"])
        fem = f["emotion_by_gender"].get("female", {}).get("accuracy", float("nan"))
        male = f["emotion_by_gender"].get("male", {}).get("accuracy", float("nan"))
        row = [e["accuracy"], e["uar"], e["macro_f1"], g["classification"]["accuracy"],
               g["classification"]["balanced_accuracy"], g["auc"], fem, male]
        for k, v in zip(cols, row):
            cols[k].append(v)
        n_all += e["n"]
        print(f"| {f['fold']} | {actors} | {e['n']} | {row[0]:.4f} | {row[1]:.4f} | {row[2]:.4f} "
              f"| {row[3]:.4f} | {row[4]:.4f} | {row[5]:.4f} | {fem:.3f} / {male:.3f} |")
    print(f"| **mean ± std** | | {n_all} | **{ms(cols['acc'])}** | {ms(cols['uar'])} | "
          f"{ms(cols['f1'])} | **{ms(cols['gacc'])}** | {ms(cols['gbal'])} | {ms(cols['auc'])} | "
          f"{statistics.mean(cols['fem']):.3f} / {statistics.mean(cols['male']):.3f} |")
    labels = folds[0]["emotion"]["labels"]
    k = len(labels)
    pooled = [[0] * k for _ in range(k)]
    for f in folds:
        for i, row in enumerate(f["emotion"]["confusion"]):
            for j, v in enumerate(row):
                pooled[i][j] += v
    print()
    print("| true \\ pred | " + " | ".join(labels) + " | recall |")
    print("|---" * (k + 2) + "|")
    for i, row in enumerate(pooled):
        rec = row[i] / max(1, sum(row))
        print(f"| {labels[i]} | " + " | ".join(str(v) for v in row) + f" | {rec:.3f} |")


if __name__ == "__main__":
    main()
