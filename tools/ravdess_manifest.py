#!/usr/bin/env python3
"""Writes a facevox manifest (face,voice,gender,emotion,group) of every RAVDESS speech clip.

RAVDESS names its files modality-channel-emotion-intensity-statement-repetition-actor; odd
actors are male, even ones female. The group column is the actor, so `evaluate` reports each.

    tools/ravdess_manifest.py ../shared/data/ravdess/speech runs/ravdess_all.csv

Absolute paths, so the manifest can live anywhere.
"""
import os
import sys

EMOTIONS = {1: "neutral", 2: "calm", 3: "happy", 4: "sad", 5: "angry", 6: "fearful",
            7: "disgust", 8: "surprised"}


def main(root, out):
    root = os.path.abspath(root)
    rows = []
    for actor_dir in sorted(os.listdir(root)):
        folder = os.path.join(root, actor_dir)
        if not os.path.isdir(folder):
            continue
        for name in sorted(os.listdir(folder)):
            parts = os.path.splitext(name)[0].split("-")
            if len(parts) != 7 or not all(p.isdigit() for p in parts):
                continue
            actor = int(parts[6])
            gender = "male" if actor % 2 else "female"
            rows.append(f",{folder}/{name},{gender},{EMOTIONS[int(parts[2])]},actor_{actor:02d}")
    if not rows:
        sys.exit(f"no RAVDESS clips under {root}")
    with open(out, "w") as f:
        f.write("face,voice,gender,emotion,group\n" + "\n".join(rows) + "\n")
    print(f"wrote {out}: {len(rows)} clips")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
