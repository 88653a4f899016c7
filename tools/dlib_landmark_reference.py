#!/usr/bin/env python3
"""dlib's own 5-point landmarks on real faces: the reference the Rust port is tested against,
and the fit of the SeetaFace-to-dlib box adapter and of the canonical eye layout.

    FACEVOX_DATA=/path/to/data FACEVOX_LANDMARK_DUMP=/tmp/lm \\
        cargo test --test landmarks -- --ignored dump_reference_inputs
    python3 tools/dlib_landmark_reference.py /tmp/lm \\
        --model shape_predictor_5_face_landmarks.dat \\
        --fixture tests/fixtures/vision/landmarks5_reference.json

Needs the dlib Python package (any build; this was run with the `dlib_bin` 20.0.1 wheel),
numpy and Pillow. facevox itself never depends on dlib: the tests read the committed fixture.

Reads the pictures facevox decoded (RGB PNG) and the SeetaFace boxes from `<dump>/inputs.json`,
converts each picture to grey exactly as facevox does (BT.601 in 8.8 fixed point:
(77 R + 150 G + 29 B + 128) >> 8), then on the grey picture:

- runs dlib's HOG detector (`dlib.get_frontal_face_detector()`), upsampling 0, 1, then 2
  times until it finds a face, and dlib's shape predictor on the largest box;
- pairs that box with the Seeta box it overlaps most (IoU > 0.3) and reports the median box
  adapter (scale, centre shift as fractions of the Seeta box) and the median eye layout in the
  Seeta box (eye midpoint, inter-ocular distance), per source and over the fitting set;
- with `--adapter SCALE DX DY`, also runs dlib on the adapted Seeta boxes and reports the
  landmark error against dlib on its own boxes (in pixels and inter-ocular distances);
- times `predictor(gray, box)` on the fixture faces;
- writes the fixture: for every picture of the sources `clip`, `ravdess_still` and `fairface`
  (FairFace rows held out from the fit) where dlib finds a face, dlib's box and points.
"""
import argparse
import hashlib
import json
import os
import statistics
import time

import sys

import dlib
import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from convert_dlib_shape_predictor import check_shapes, parse  # noqa: E402

FIXTURE_SOURCES = ("clip", "ravdess_still", "fairface")
FIT_SOURCES = ("clip", "ravdess_still", "fairface_fit")


def gray_of(path):
    rgb = np.asarray(Image.open(path).convert("RGB"), dtype=np.uint32)
    g = (77 * rgb[..., 0] + 150 * rgb[..., 1] + 29 * rgb[..., 2] + 128) >> 8
    return np.ascontiguousarray(g.astype(np.uint8))


def face_box(l, t, r, b):
    """dlib rectangle -> facevox FaceBox (x, y, w, h); right and bottom are inclusive."""
    return (l, t, r - l + 1, b - t + 1)


def iou(a, b):
    ix = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    iy = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if ix <= 0 or iy <= 0:
        return 0.0
    inter = ix * iy
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def adapt(seeta, scale, dx, dy):
    x, y, w, h = seeta[:4]
    cx, cy = x + w / 2 + dx * w, y + h / 2 + dy * h
    return (cx - w * scale / 2, cy - h * scale / 2, w * scale, h * scale)


def dlib_rect(box):
    """A facevox box as the nearest dlib rectangle (dlib boxes are whole pixels)."""
    x, y, w, h = box
    l, t = round(x), round(y)
    return dlib.rectangle(l, t, round(x + w) - 1, round(y + h) - 1)


def points_of(shape):
    return [[shape.part(i).x, shape.part(i).y] for i in range(shape.num_parts)]


def eyes(points):
    left = [(points[2][0] + points[3][0]) / 2, (points[2][1] + points[3][1]) / 2]
    right = [(points[0][0] + points[1][0]) / 2, (points[0][1] + points[1][1]) / 2]
    return left, right


def iod(points):
    l, r = eyes(points)
    return ((r[0] - l[0]) ** 2 + (r[1] - l[1]) ** 2) ** 0.5


def med(v):
    return statistics.median(v) if v else float("nan")


class Port:
    """The shape predictor re-implemented in numpy from the parsed file, as the Rust port does
    it (float32 where dlib uses float), but without dlib's final rounding to whole pixels."""

    def __init__(self, path):
        with open(path, "rb") as f:
            _, init, forests, anchor, deltas = parse(f.read())
        self.points, levels, trees, splits, feats = check_shapes(init, forests, anchor, deltas)
        self.init = np.array(init, np.float32)
        self.anchor = np.array(anchor, np.int64)
        self.deltas = np.array(deltas, np.float32)
        self.idx1 = np.array([[[s[0] for s in t[0]] for t in f] for f in forests], np.int64)
        self.idx2 = np.array([[[s[1] for s in t[0]] for t in f] for f in forests], np.int64)
        self.thresh = np.array([[[s[2] for s in t[0]] for t in f] for f in forests], np.float32)
        self.leaves = np.array([[t[1] for t in f] for f in forests], np.float32)
        self.splits = splits

    @staticmethod
    def similarity(a, b):
        a = a.reshape(-1, 2).astype(np.float64)
        b = b.reshape(-1, 2).astype(np.float64)
        a = a - a.mean(0)
        b = b - b.mean(0)
        norm = (a * a).sum()
        dot = (a * b).sum()
        cross = (a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]).sum()
        ca, cb = np.float32(dot / norm), np.float32(cross / norm)
        return ca, cb

    def __call__(self, gray, box):
        x, y, w, h = (float(v) for v in box[:4])
        hgt, wid = gray.shape
        shape = self.init.copy()
        trees = np.arange(self.idx1.shape[1])
        for c in range(len(self.anchor)):
            a, b = self.similarity(self.init, shape)
            d = self.deltas[c]
            anc = self.anchor[c]
            u = (a * d[:, 0] + (-b) * d[:, 1]) + shape[2 * anc]
            v = (b * d[:, 0] + a * d[:, 1]) + shape[2 * anc + 1]
            px = np.floor(x + u.astype(np.float64) * (w - 1) + 0.5).astype(np.int64)
            py = np.floor(y + v.astype(np.float64) * (h - 1) + 0.5).astype(np.int64)
            inside = (px >= 0) & (px < wid) & (py >= 0) & (py < hgt)
            feat = np.zeros(len(px), np.float32)
            feat[inside] = gray[py[inside], px[inside]]
            i = np.zeros(len(trees), np.int64)
            for _ in range(int(np.log2(self.splits + 1))):
                go = (feat[self.idx1[c, trees, i]] - feat[self.idx2[c, trees, i]]
                      > self.thresh[c, trees, i])
                i = np.where(go, 2 * i + 1, 2 * i + 2)
            steps = np.concatenate([shape[None], self.leaves[c, trees, i - self.splits]])
            shape = np.cumsum(steps, axis=0, dtype=np.float32)[-1]
        p = shape.reshape(-1, 2).astype(np.float64)
        return np.stack([x + p[:, 0] * (w - 1), y + p[:, 1] * (h - 1)], 1)


def face_error(got, want):
    """Mean point distance over the inter-ocular distance of `want`."""
    want = np.asarray(want, np.float64)
    return float(np.linalg.norm(np.asarray(got) - want, axis=1).mean() / iod(want.tolist()))


def kind(source):
    """Pictures where Seeta's first pass finds the face (`large`), or small face crops where
    its padded second pass does (`crop`)."""
    return "crop" if source.startswith("fairface") else "large"


def summary(v):
    v = np.asarray(v)
    return (f"mean {v.mean():.4f} median {np.median(v):.4f} p90 {np.percentile(v, 90):.4f} "
            f"max {v.max():.4f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dump", help="folder written by the dump_reference_inputs test")
    ap.add_argument("--model", required=True, help="shape_predictor_5_face_landmarks.dat")
    ap.add_argument("--fixture", help="write the reference fixture here")
    ap.add_argument("--adapter", nargs=3, type=float, metavar=("SCALE", "DX", "DY"),
                    help="evaluate this Seeta->dlib box adapter")
    args = ap.parse_args()

    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(args.model)
    port = Port(args.model)
    with open(args.model, "rb") as f:
        model_sha = hashlib.sha256(f.read()).hexdigest()
    inputs = json.load(open(os.path.join(args.dump, "inputs.json")))

    rows = []
    for inp in inputs:
        gray = gray_of(os.path.join(args.dump, inp["name"] + ".png"))
        dets, up = [], 0
        for up in range(3):
            dets = list(detector(gray, up))
            if dets:
                break
        if not dets:
            rows.append({**inp, "dlib": None})
            continue
        det = max(dets, key=lambda d: d.area())
        points = points_of(predictor(gray, det))
        box = face_box(det.left(), det.top(), det.right(), det.bottom())
        seeta = max(inp["seeta"], key=lambda s: iou(s, box), default=None)
        if seeta is not None and iou(seeta, box) <= 0.3:
            seeta = None
        rows.append({**inp, "gray": gray, "dlib": det, "upsample": up, "box": box,
                     "points": points, "pair": seeta, "port": port(gray, box)})
    found = [r for r in rows if r["dlib"] is not None]

    # The numpy port, rounded like dlib, must give dlib's points exactly: this checks the
    # parse and the reading of dlib's algorithm together.
    exact = sum(int((np.floor(r["port"] + 0.5) == np.asarray(r["points"])).all(1).sum())
                for r in found)
    print(f"numpy port vs dlib (dlib boxes): {exact}/{5 * len(found)} points identical "
          f"after rounding, on {len(found)} faces")

    # Box adapter and eye layout, per source.
    fit = {"scale": [], "dx": [], "dy": [], "u": [], "v": [], "k": []}
    by_kind = {"large": {k: [] for k in fit}, "crop": {k: [] for k in fit}}
    print("source: pictures (dlib found / Seeta paired) | median scale dx dy | "
          "eye midpoint u v, inter-ocular / width (in the Seeta box)")
    for source in sorted({r["source"] for r in rows}):
        rs = [r for r in rows if r["source"] == source]
        paired = [r for r in rs if r["dlib"] is not None and r["pair"] is not None]
        stats = {k: [] for k in fit}
        for r in paired:
            sx, sy, sw, sh = r["pair"][:4]
            bx, by, bw, bh = r["box"]
            stats["scale"].append(((bw / sw) * (bh / sh)) ** 0.5)
            stats["dx"].append((bx + bw / 2 - (sx + sw / 2)) / sw)
            stats["dy"].append((by + bh / 2 - (sy + sh / 2)) / sh)
            # Eye layout in the Seeta box, in edge coordinates (pixel centres + 0.5).
            l, rr = eyes(r["port"].tolist())
            stats["u"].append(((l[0] + rr[0]) / 2 + 0.5 - sx) / sw)
            stats["v"].append(((l[1] + rr[1]) / 2 + 0.5 - sy) / sh)
            stats["k"].append(iod(r["port"].tolist()) / sw)
        if source in FIT_SOURCES:
            for k in fit:
                fit[k] += stats[k]
                by_kind[kind(source)][k] += stats[k]
        print(f"{source}: {len(rs)} ({sum(r['dlib'] is not None for r in rs)} / {len(paired)}) "
              f"| {med(stats['scale']):.4f} {med(stats['dx']):+.4f} {med(stats['dy']):+.4f} | "
              f"{med(stats['u']):.4f} {med(stats['v']):.4f}, {med(stats['k']):.4f}")
    n = len(fit["scale"])
    print(f"box adapter fit ({'+'.join(FIT_SOURCES)}, {n} faces): median scale "
          f"{med(fit['scale']):.4f} dx {med(fit['dx']):+.4f} dy {med(fit['dy']):+.4f}")
    for k in ("scale", "dx", "dy"):
        q = statistics.quantiles(fit[k], n=4)
        print(f"  {k}: quartiles {q[0]:+.4f} {q[1]:+.4f} {q[2]:+.4f}")
    for k in ("u", "v", "k"):
        large, crop = med(by_kind["large"][k]), med(by_kind["crop"][k])
        print(f"eye layout {k}: large pictures {large:.4f}, face crops {crop:.4f}, "
              f"mean of the two {(large + crop) / 2:.4f}")

    if args.adapter:
        scale, dx, dy = args.adapter
        print(f"adapter {scale} {dx} {dy}: error against the landmarks from dlib's own boxes, "
              "in inter-ocular distances per face (mean over the 5 points)")
        for source in sorted({r["source"] for r in rows}):
            sel = [r for r in found if r["source"] == source and r["pair"] is not None]
            if not sel:
                continue
            dlib_err, port_err = [], []
            for r in sel:
                box = adapt(r["pair"], scale, dx, dy)
                got = points_of(predictor(r["gray"], dlib_rect(box)))
                dlib_err.append(face_error(got, r["points"]))
                port_err.append(face_error(port(r["gray"], box), r["port"]))
            print(f"  {source} ({len(sel)} faces): dlib (whole pixels) {summary(dlib_err)}")
            print(f"  {source} ({len(sel)} faces): port (unrounded) {summary(port_err)}")

    fixture_rows = [r for r in found if r["source"] in FIXTURE_SOURCES]
    reps = 200
    t0 = time.perf_counter()
    for _ in range(reps):
        for r in fixture_rows:
            predictor(r["gray"], r["dlib"])
    per_face = (time.perf_counter() - t0) / (reps * len(fixture_rows))
    print(f"dlib predictor: {per_face * 1e6:.1f} us per face "
          f"({len(fixture_rows)} faces x {reps}, dlib {dlib.__version__}, "
          f"USE_AVX_INSTRUCTIONS={getattr(dlib, 'USE_AVX_INSTRUCTIONS', '?')})")

    if args.fixture:
        out = {
            "generator": "tools/dlib_landmark_reference.py",
            "dlib_version": dlib.__version__,
            "model": os.path.basename(args.model),
            "model_sha256": model_sha,
            "grey": "facevox BT.601: (77 R + 150 G + 29 B + 128) >> 8, fed to dlib as uint8",
            "detector": "dlib.get_frontal_face_detector(), upsample 0..2 until a face; largest box",
            "clip": "examples/data/01-01-07-02-02-01-01.mp4, every 4th frame as decoded by facevox",
            "faces": [{
                "source": r["source"],
                "item": r["item"],
                "upsample": r["upsample"],
                "dlib_box": [r["dlib"].left(), r["dlib"].top(), r["dlib"].right(),
                             r["dlib"].bottom()],
                "points": r["points"],
            } for r in fixture_rows],
        }
        with open(args.fixture, "w") as f:
            json.dump(out, f, indent=1)
            f.write("\n")
        counts = {s: sum(r["source"] == s for r in fixture_rows) for s in FIXTURE_SOURCES}
        print(f"wrote {args.fixture}: {counts}")


if __name__ == "__main__":
    main()
