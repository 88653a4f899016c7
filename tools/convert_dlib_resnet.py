#!/usr/bin/env python3
"""dlib's ResNet face descriptor (`dlib_face_recognition_resnet_model_v1.dat`) as the safetensors
file `facevox::model::DlibResNet` reads, and the fixtures its tests compare against.

    # the weights (f32, 22 MB; public domain: dlib's model file, Davis King)
    python3 tools/convert_dlib_resnet.py convert DAT OUT.safetensors
    # dlib's own descriptors of 20 FairFace pictures (needs dlib): tests/dlib_resnet.rs
    python3 tools/convert_dlib_resnet.py reference --data ../shared/data/fairface96 \
        --out tests/fixtures/dlib_resnet/reference.json
    # a narrow twin with seeded random weights and its numpy outputs (no dlib needed)
    python3 tools/convert_dlib_resnet.py tiny --out tests/fixtures/dlib_resnet

DAT defaults to face_recognition_models' copy when that package is installed. The network is
parsed and run by `tools/dlib_resnet.py` (pure numpy; it matches dlib's descriptors to cosine
0.9999999). Tensor names: `conv{i}.weight` (out, in, k, k), `conv{i}.bias`, `affine{i}.gamma`,
`affine{i}.beta` for the 29 convolutions input side first (each followed by its affine),
`fc.weight` (256, 128), `input.mean` (3). The reference pictures are the first 20 FairFace
training pictures by file name, enlarged from 96 to 150 px by nearest neighbour (source row
`floor(y * 96 / 150)`, the same for columns), which the Rust test repeats exactly.
"""
import argparse
import glob
import hashlib
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dlib_resnet  # noqa: E402
from safetensors_io import write_safetensors  # noqa: E402

DOWN = [False] * 3 + [True] + [False] * 3 + [True] + [False] * 2 + [True] + [False] * 2 + [True]


def tensors_of(ops):
    out = {k: v for k, v in dlib_resnet.named_tensors(ops).items() if not k.endswith(".geometry")}
    assert sum(k.endswith(".bias") and k.startswith("conv") for k in out) == 29
    return out


def default_dat():
    import face_recognition_models as frm
    return frm.face_recognition_model_location()


def nearest_150(picture):
    h, w = picture.shape[:2]
    rows = (np.arange(150) * h) // 150
    cols = (np.arange(150) * w) // 150
    return np.ascontiguousarray(picture[rows][:, cols])


def build_ops(widths, rng, out_dim, mean):
    """The op list of a network of this topology with `widths` (stem, then the 14 blocks)."""
    def con(c_in, c_out, k, stride, pad):
        w = rng.normal(0, np.sqrt(2.0 / (c_in * k * k)), (c_out, c_in, k, k)).astype(np.float32)
        return ("con", w, rng.normal(0, 0.05, c_out).astype(np.float32), stride, pad)

    def affine(c):
        return ("affine", rng.uniform(0.5, 1.2, c).astype(np.float32),
                rng.normal(0, 0.1, c).astype(np.float32))

    ops = [("input", mean), con(3, widths[0], 7, 2, 0), affine(widths[0]), ("relu_",),
           ("maxpool", 3, 3, 2, 2, 0, 0)]
    c = widths[0]
    for n, down in zip(widths[1:], DOWN):
        ops += [("tag_or_skip",), con(c, n, 3, 2 if down else 1, 0 if down else 1), affine(n),
                ("relu_",), con(n, n, 3, 1, 1), affine(n)]
        if down:
            ops += [("tag_or_skip",), ("tag_or_skip",), ("avgpool", 2, 2, 2, 2, 0, 0)]
        ops += [("add_prev_",), ("relu_",)]
        c = n
    ops += [("avgpool", 0, 0, 1, 1, 0, 0),
            ("fc", rng.normal(0, 1 / np.sqrt(c), (c, out_dim)).astype(np.float32))]
    return ops


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", choices=["convert", "reference", "tiny"])
    ap.add_argument("paths", nargs="*")
    ap.add_argument("--data", default="../shared/data/fairface96")
    ap.add_argument("--count", type=int, default=20)
    ap.add_argument("--out")
    a = ap.parse_args()
    if a.what == "convert":
        dat, out = (a.paths + [None, None])[:2] if len(a.paths) == 2 else (default_dat(), a.paths[0])
        ops = dlib_resnet.load(dat)
        sha = hashlib.sha256(open(dat, "rb").read()).hexdigest()
        write_safetensors(out, tensors_of(ops), {"source": os.path.basename(dat), "sha256": sha,
                                                 "converter": "tools/convert_dlib_resnet.py"})
        print(f"wrote {out} from {dat} (SHA-256 {sha[:16]}...)")
    elif a.what == "reference":
        import dlib
        from PIL import Image
        dat = a.paths[0] if a.paths else default_dat()
        files = sorted(glob.glob(os.path.join(a.data, "train", "*.jpg")))
        files = sorted(files, key=os.path.basename)[: a.count]
        chips = np.stack([nearest_150(np.asarray(Image.open(f).convert("RGB"))) for f in files])
        net = dlib.face_recognition_model_v1(dat)
        ref = [list(map(float, net.compute_face_descriptor(c))) for c in chips]
        ours, _ = dlib_resnet.forward(dlib_resnet.load(dat), chips)
        cos = (ours * np.array(ref)).sum(1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(ref, axis=1)
        os.makedirs(os.path.dirname(a.out), exist_ok=True)
        json.dump({"source": "dlib " + dlib.__version__ + " face_recognition_model_v1, "
                   "compute_face_descriptor(chip) with no jitter",
                   "pictures": "FairFace (CC BY 4.0, Karkkainen and Joo) training pictures, "
                   "relative to FACEVOX_DATA/fairface96, enlarged to 150 px by nearest neighbour",
                   "files": ["train/" + os.path.basename(f) for f in files],
                   "descriptors": ref}, open(a.out, "w"), indent=0)
        print(f"wrote {a.out}: {len(files)} pictures; numpy reference cosine min {cos.min():.9f}")
    else:
        rng = np.random.default_rng(7)
        widths = [4, 4, 4, 4, 6, 6, 6, 6, 8, 8, 8, 10, 10, 10, 10]
        ops = build_ops(widths, rng, 6, np.array([120.0, 110.0, 100.0], np.float32))
        image = rng.integers(0, 256, (150, 150, 3), dtype=np.uint8)
        # smooth it a little so the network sees structure, not only noise
        image = ((image.astype(np.int32) + np.roll(image, 1, 0) + np.roll(image, 1, 1)) // 3).astype(np.uint8)
        desc, blocks = dlib_resnet.forward(ops, image[None])
        os.makedirs(a.out, exist_ok=True)
        write_safetensors(os.path.join(a.out, "tiny.safetensors"), tensors_of(ops),
                          {"converter": "tools/convert_dlib_resnet.py tiny", "seed": "7"})
        from PIL import Image
        Image.fromarray(image).save(os.path.join(a.out, "tiny_input.png"))
        json.dump({"descriptor": desc[0].tolist(),
                   "pooled": blocks[-1][0].mean(axis=(1, 2)).tolist(),
                   "block_shapes": [list(b.shape[1:]) for b in blocks],
                   "block_sums": [float(b.sum()) for b in blocks]},
                  open(os.path.join(a.out, "tiny_expected.json"), "w"), indent=0)
        print("wrote the tiny twin to", a.out, [list(b.shape[1:]) for b in blocks])


if __name__ == "__main__":
    main()
