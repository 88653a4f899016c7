"""Selection-slice perceived-gender accuracy of face-model ensembles, from the per-face
outputs `train_face --save-predictions` writes (see models/README.md, "The RGB 56 px member
with the 10,000 extra FairFace rows"). An ensemble's gender probability is the mean of its
networks', as `face_members` combines them; the shipped member's own output is recovered
from the shipped pair's and the main network's (pair = (main + member) / 2).

    python3 tools/face_gender_combos.py runs/g_rgb56_extra/predictions.jsonl \
        [--shipped runs/selpred_models/predictions.jsonl] \
        [--main runs/selpred_run2only/predictions.jsonl]
"""
import argparse
import json


def selection_rows(path):
    """The selection slice's rows with a gender label, in file order."""
    with open(path) as f:
        rows = [json.loads(line) for line in f]
    return [r for r in rows if r["split"] == "selection" and r["label_gender"] is not None]


def scores(p_female, rows):
    """Accuracy, balanced accuracy and the best-minus-worst race group accuracy."""
    right = [(p > 0.5) == (r["label_gender"] == "female") for p, r in zip(p_female, rows)]

    def mean_where(keep):
        hits = [ok for ok, r in zip(right, rows) if keep(r)]
        return sum(hits) / len(hits)

    balanced = sum(mean_where(lambda r, g=g: r["label_gender"] == g) for g in ("male", "female")) / 2
    groups = {r["group"] for r in rows}
    by_group = [mean_where(lambda r, g=g: r["group"] == g) for g in groups]
    return sum(right) / len(right), balanced, max(by_group) - min(by_group)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("new", help="predictions.jsonl of the new gender member's run")
    ap.add_argument("--shipped", default="runs/selpred_models/predictions.jsonl")
    ap.add_argument("--main", default="runs/selpred_run2only/predictions.jsonl")
    args = ap.parse_args()
    ship, main_rows, new = (selection_rows(p) for p in (args.shipped, args.main, args.new))
    if not len(ship) == len(main_rows) == len(new):
        raise SystemExit(f"different slices: {len(ship)}, {len(main_rows)}, {len(new)} rows")
    for a, b, c in zip(ship, main_rows, new):
        if not (a["label_gender"] == b["label_gender"] == c["label_gender"]
                and a["group"] == c["group"] and a["age"] == c["age"]):
            raise SystemExit("the files' rows are not the same faces in the same order")
    pm, ps, pn = ([r["gender"][1] for r in rows] for rows in (main_rows, ship, new))
    pg = [2 * s - m for s, m in zip(ps, pm)]
    mean = lambda *ps: [sum(v) / len(v) for v in zip(*ps)]
    for name, p in [
        ("main", pm),
        ("shipped main+g56", ps),
        ("old g56 alone", pg),
        ("new alone", pn),
        ("A main+new", mean(pm, pn)),
        ("B main+g56+new", mean(pm, pg, pn)),
        ("g56+new", mean(pg, pn)),
    ]:
        acc, bal, gap = scores(p, ship)
        print(f"{name:20s} n={len(p)} acc {acc * 100:.2f} bal {bal * 100:.2f} race gap {gap * 100:.1f}")


if __name__ == "__main__":
    main()
