#!/usr/bin/env python3
"""A Markdown table of `speaker_gender` reports side by side: one row per test set (and per
corruption, with `--corrupt-test`), one column per report, accuracy with male / female
recall in %.

    python3 tools/speaker_gender_table.py "no augmentation=runs/spk_loco_noaug/report.json" \
        "noise augmentation=runs/spk_loco_aug/report.json"
"""
import json
import sys


def cell(s):
    if s is None:
        return "-"
    return f"{s['accuracy']:.2f} ({s['male_recall']:.1f} / {s['female_recall']:.1f})"


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    cols = []
    for arg in sys.argv[1:]:
        label, path = arg.split("=", 1) if "=" in arg else (arg, arg)
        cols.append((label, json.load(open(path))))
    keys = []
    for _, r in cols:
        for k, v in r.items():
            if isinstance(v, dict) and "accuracy" in v and k not in keys:
                keys.append(k)
    print("| test set (n) | " + " | ".join(label for label, _ in cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    for k in keys:
        n = next(r[k]["n"] for _, r in cols if k in r)
        print(f"| {k} ({n}) | " + " | ".join(cell(r.get(k)) for _, r in cols) + " |")


if __name__ == "__main__":
    main()
