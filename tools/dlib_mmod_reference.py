#!/usr/bin/env python3
"""dlib's own CNN face detector (MMOD) on real pictures: the reference the Rust port
(`facevox::vision::MmodDetector`) is tested against, and dlib's speed on FairFace pictures.

    FACEVOX_DATA=/path/to/data FACEVOX_MMOD_DUMP=/tmp/mmod/dump \\
        cargo test --test mmod -- --ignored dump_reference_inputs
    python3 tools/dlib_mmod_reference.py /tmp/mmod/dump \\
        --model mmod_human_face_detector.dat \\
        --fixture tests/fixtures/vision/mmod_reference.json
    python3 tools/dlib_mmod_reference.py --model mmod_human_face_detector.dat \\
        --time-manifest runs/fairface_manifests/fairface_test_by_race.csv --time-count 50

Needs the dlib Python package (any build; this was run with the `dlib_bin` 20.0.1 wheel),
numpy and Pillow. facevox itself never depends on dlib: the tests read the committed fixture.

Reads the pictures facevox decoded or built (RGB PNG) and `<dump>/inputs.json`, runs
`dlib.cnn_face_detection_model_v1(model)(picture, upsample)` on each (the RGB array, exactly as
facevox holds it) and writes every detection (left, top, right, bottom inclusive, confidence)
to the fixture.

With `--time-manifest`, times the detector on the first `--time-count` pictures of a facevox
manifest (its `face` column: FairFace 96 px JPEGs, decoded by Pillow here), at upsample 1 and
2, one picture at a time, and prints the mean milliseconds per picture.
"""
import argparse
import csv
import hashlib
import json
import os
import time

import dlib
import numpy as np
from PIL import Image


def load_rgb(path):
    return np.ascontiguousarray(np.asarray(Image.open(path).convert("RGB"), dtype=np.uint8))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dump", nargs="?", help="folder written by dump_reference_inputs")
    ap.add_argument("--model", required=True, help="mmod_human_face_detector.dat")
    ap.add_argument("--fixture", help="write the reference JSON here")
    ap.add_argument("--time-manifest", help="facevox manifest whose pictures to time dlib on")
    ap.add_argument("--time-count", type=int, default=50)
    args = ap.parse_args()

    detector = dlib.cnn_face_detection_model_v1(args.model)
    with open(args.model, "rb") as f:
        model_sha = hashlib.sha256(f.read()).hexdigest()

    if args.dump:
        with open(os.path.join(args.dump, "inputs.json")) as f:
            inputs = json.load(f)
        pictures = []
        for it in inputs:
            img = load_rgb(os.path.join(args.dump, it["file"]))
            t0 = time.perf_counter()
            dets = detector(img, it["upsample"])
            ms = (time.perf_counter() - t0) * 1e3
            found = [[d.rect.left(), d.rect.top(), d.rect.right(), d.rect.bottom(),
                      d.confidence] for d in dets]
            print(f"{it['source']} {it['item']} {img.shape[1]}x{img.shape[0]} "
                  f"up {it['upsample']}: {len(found)} ({ms:.0f} ms) "
                  + " ".join(f"[{l} {t} {r} {b} {c:.4f}]" for l, t, r, b, c in found))
            entry = {k: v for k, v in it.items() if k != "file"}
            entry["detections"] = found
            pictures.append(entry)
        if args.fixture:
            out = {
                "generator": "tools/dlib_mmod_reference.py",
                "dlib_version": dlib.__version__,
                "model": os.path.basename(args.model),
                "model_sha256": model_sha,
                "detector": "dlib.cnn_face_detection_model_v1(model)(rgb, upsample)",
                "clip": "examples/data/01-01-07-02-02-01-01.mp4, frames as decoded by facevox",
                "pictures": pictures,
            }
            with open(args.fixture, "w") as f:
                json.dump(out, f, indent=1)
                f.write("\n")
            print(f"wrote {args.fixture}: {len(pictures)} pictures, "
                  f"{sum(len(p['detections']) for p in pictures)} detections")

    if args.time_manifest:
        with open(args.time_manifest) as f:
            files = [row["face"] for row in csv.DictReader(f)][:args.time_count]
        imgs = [load_rgb(p) for p in files]
        for up in (1, 2):
            detector(imgs[0], up)  # warm-up
            t0 = time.perf_counter()
            found = sum(len(detector(img, up)) > 0 for img in imgs)
            per = (time.perf_counter() - t0) / len(imgs)
            print(f"dlib {dlib.__version__} MMOD, upsample {up}: {per * 1e3:.1f} ms per picture "
                  f"({len(imgs)} pictures of {imgs[0].shape[1]}x{imgs[0].shape[0]}, "
                  f"a face in {found}; USE_AVX_INSTRUCTIONS="
                  f"{getattr(dlib, 'USE_AVX_INSTRUCTIONS', '?')})")


if __name__ == "__main__":
    main()
