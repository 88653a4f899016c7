#!/usr/bin/env python3
"""The README's "Under degraded input" table from a robustness report:

    python3 tools/robustness_markdown.py models/robustness/report.json [3 5]

One row per corruption and task: the branch alone on its own test draw (clean -> severity a
-> severity b), the fused answer with that branch degraded and the other clean, and the clean
other branch alone on the same pairs. Means over the folds or parts, in %.
"""
import json
import sys


def pct(x):
    return f"{100 * x['mean']:.1f}"


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    report = json.load(open(sys.argv[1]))
    a, b = (int(v) for v in sys.argv[2:4]) if len(sys.argv) >= 4 else (3, 5)
    print(f"| corruption (severity {a} / {b}) | task | branch alone: clean → {a} → {b} "
          f"| fused, other branch clean: clean → {a} → {b} | the clean branch alone (same pairs) |")
    print("|---|---|---|---|---|")
    for branch, other in (("face", "voice"), ("voice", "face")):
        fused = report["fused"][f"{branch}_degraded"]
        for name, c in report[branch].items():
            conds = c["conditions"]
            for task in ("emotion", "gender"):
                alone = c["curves"][task]
                f = fused[name][f"{task}_fused"]
                o = fused[name][f"{task}_{other}"]
                print(f"| {branch}: {name} ({conds[a]} / {conds[b]}) | {task} "
                      f"| {pct(alone[0])} → {pct(alone[a])} → {pct(alone[b])} "
                      f"| {pct(f[0])} → {pct(f[a])} → {pct(f[b])} | {pct(o[0])} |")


if __name__ == "__main__":
    main()
