#!/usr/bin/env python3
"""Markdown tables from `calibrate`'s report.json and `modality_benchmark`'s JSON.

    python3 tools/fusion_markdown.py models/calibration/report.json \
        [models/calibration/modality_benchmark.json]
"""
import json
import sys


def pct(v):
    return "-" if v is None else f"{100 * v:.2f}%"


def calibration(path):
    r = json.load(open(path))
    print("| branch / task | fitted on | T | measured on | n | accuracy | ECE before | ECE after | NLL before | NLL after |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for key in ["voice_emotion", "voice_gender", "fused_gender", "fused_emotion"]:
        s = r[key]
        for corpus, c in s["by_corpus"].items():
            b, a = c["before"], c["after_cross_fitted"]
            applied = "" if s.get("applied", True) else " (not applied)"
            print(f"| {key} | all rows (cross-fitted by fold for 'after') | {s['temperature']:.3f}{applied} | {corpus} | {b['n']} | {pct(b['accuracy'])} | {b['ece']:.4f} | {a['ece']:.4f} | {b['nll']:.4f} | {a['nll']:.4f} |")
    for key, where in [("face_emotion", "FER+ Valid"), ("face_gender", "FairFace held-out")]:
        s = r[key]
        b, a = s["test_before"], s["test_after"]
        print(f"| {key} | selection slice ({s['fitted_on_rows']} faces) | {s['temperature']:.3f} | {where} | {b['n']} | {pct(b['accuracy'])} | {b['ece']:.4f} | {a['ece']:.4f} | {b['nll']:.4f} | {a['nll']:.4f} |")
    print()
    # Written into the model files only when calibrate ran with --write.
    print("Temperatures of this run:", json.dumps(r["temperatures"]))
    print("Fused decision:", json.dumps(r.get("fused_decision")))
    print()
    print("Abstention (after calibration): threshold -> coverage / accuracy on the rows answered")
    print()
    print("| branch / task | data | " + " | ".join(f"{t:.1f}" for t in [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]) + " |")
    print("|---|---|" + "---|" * 7)
    rows = []
    for key in ["voice_emotion", "voice_gender"]:
        # A temperature the report fitted but did not apply (the speaker head's gender):
        # the outputs as shipped are the "before" ones.
        which = "abstention_before" if r[key].get("applied") is False else "abstention_after"
        for corpus, c in r[key]["by_corpus"].items():
            rows.append((key, corpus, c[which]))
    for key, where in [("face_emotion", "FER+ Valid"), ("face_gender", "FairFace held-out")]:
        rows.append((key, where, r[key]["abstention_after"]))
    for key, where, tab in rows:
        cells = [f"{100 * x['coverage']:.0f}% / {pct(x['accuracy'])}" for x in tab]
        print(f"| {key} | {where} | " + " | ".join(cells) + " |")


def benchmark(path):
    r = json.load(open(path))
    print("| pairs | task | n | voice | face | fused, product of experts | fused, learned head |")
    print("|---|---|---|---|---|---|---|")
    for row in r["table"]:
        s = row["scores"]
        cell = lambda k: f"{100 * s[k]['mean']:.2f}% ± {100 * s[k]['std']:.2f}"
        print(f"| {row['pairs']} | {row['task']} | {s['n']} | {cell('voice')} | {cell('face')} | {cell('product')} | {cell('learned')} |")
    print()
    print("Learned head:", json.dumps(r["learned_head"]))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    calibration(sys.argv[1])
    if len(sys.argv) > 2:
        print()
        benchmark(sys.argv[2])
