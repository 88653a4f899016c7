#!/usr/bin/env python3
"""Converts a dlib `shape_predictor` file (for example `shape_predictor_5_face_landmarks.dat`)
into the safetensors file that `facevox::vision::LandmarkModel` reads.

    python3 tools/convert_dlib_shape_predictor.py \\
        shape_predictor_5_face_landmarks.dat models/landmarks5.safetensors
    python3 tools/convert_dlib_shape_predictor.py --check-roundtrip shape_predictor_5_face_landmarks.dat

Pure Python (standard library only); dlib is not needed. The parser follows dlib's
serialisation (dlib/image_processing/shape_predictor.h and dlib/serialize.h):

    shape_predictor := int version (1), matrix<float,0,1> initial_shape,
                       vector<vector<regression_tree>> forests,
                       vector<vector<unsigned long>> anchor_idx,
                       vector<vector<vector<float,2>>> deltas
    regression_tree := vector<split_feature> splits, vector<matrix<float,0,1>> leaf_values
    split_feature   := unsigned long idx1, unsigned long idx2, float thresh
    integer         := control byte (low 4 bits: byte count; bit 0x80: negative), then that
                       many little-endian bytes of the magnitude
    float           := integer mantissa (int64), integer exponent (int16): mantissa * 2^exponent
    matrix          := integer -nr, integer -nc (negated since dlib 18.x), then the elements
    std::vector     := integer size, then the elements
    vector<float,2> := float x, float y

`--check-roundtrip` re-serialises the parsed model with the same rules and checks it gives back
the input byte for byte (so nothing was lost or misread); `--write-dat OUT` writes that
re-serialised file, which dlib itself can load (tools/dlib_landmark_reference.py --model OUT
compares its predictions with the original's).

Output tensors (all f32, little-endian; C cascade levels, T trees per level, S splits and
L = S + 1 leaves per tree, F feature pixels per level, P landmarks):

    initial_shape [2P]          mean shape, x0 y0 x1 y1 ..., in box-normalised units
    anchor_idx    [C, F]        landmark each feature pixel is anchored to
    deltas        [C, F, 2]     offset of each feature pixel from its anchor, in the mean shape
    split_idx1    [C, T, S]     split i of a tree compares feature idx1 ...
    split_idx2    [C, T, S]     ... with feature idx2 ...
    split_thresh  [C, T, S]     ... against this threshold
    leaves        [C, T, L, 2P] shape increments at the leaves

The safetensors metadata records the source file name, its SHA-256, the dlib version field and
the sizes.
"""
import argparse
import hashlib
import math
import os
import sys
from array import array

import dlib_serial
from dlib_serial import decode_real, exact_f32, pack_int, read_int, unsigned


class Reader:
    """dlib's serialisation primitives over a byte string."""

    def __init__(self, data):
        self.data = data
        self.pos = 0

    def int(self):
        value, self.pos = read_int(self.data, self.pos)
        return value

    def uint(self):
        return unsigned(self.int())

    def float(self):
        return exact_f32(decode_real(self.int(), self.int()))

    def column(self):
        nr, nc = self.int(), self.int()
        # Matrices are written with their dimensions negated.
        nr, nc = -nr, -nc
        if nc != 1 or nr < 0:
            raise ValueError(f"expected a column vector, got {nr}x{nc}")
        return [self.float() for _ in range(nr)]

    def vector(self, item):
        return [item() for _ in range(self.uint())]


class Writer:
    """The inverse of `Reader`, to prove the parse lossless."""

    def __init__(self):
        self.out = bytearray()

    def int(self, v):
        self.out += pack_int(v)

    def float(self, v):
        if math.isinf(v) or math.isnan(v):
            self.int(0)
            self.int(32002 if math.isnan(v) else (32000 if v > 0 else 32001))
            return
        # dlib's float_details::convert_from_T for a float: frexp, the mantissa scaled to
        # 24 bits (float's digits), then whole zero low-order bytes shifted off (at most 8).
        m, e = math.frexp(v)
        mantissa = int(m * (1 << 24))
        exponent = e - 24
        for _ in range(8):
            if mantissa & 0xFF:
                break
            mantissa >>= 8
            exponent += 8
        self.int(mantissa)
        self.int(exponent)

    def column(self, values):
        self.int(-len(values))
        self.int(-1)
        for v in values:
            self.float(v)


def parse(data):
    r = Reader(data)
    version = r.int()
    if version != 1:
        raise ValueError(f"unsupported shape_predictor version {version}")
    initial_shape = r.column()

    def split():
        return (r.uint(), r.uint(), r.float())

    def tree():
        return (r.vector(split), r.vector(r.column))

    forests = r.vector(lambda: r.vector(tree))
    anchor_idx = r.vector(lambda: r.vector(r.uint))
    deltas = r.vector(lambda: r.vector(lambda: (r.float(), r.float())))
    if r.pos != len(data):
        raise ValueError(f"{len(data) - r.pos} trailing bytes after the model")
    return version, initial_shape, forests, anchor_idx, deltas


def serialise(version, initial_shape, forests, anchor_idx, deltas):
    w = Writer()
    w.int(version)
    w.column(initial_shape)
    w.int(len(forests))
    for forest in forests:
        w.int(len(forest))
        for splits, leaves in forest:
            w.int(len(splits))
            for i1, i2, t in splits:
                w.int(i1)
                w.int(i2)
                w.float(t)
            w.int(len(leaves))
            for leaf in leaves:
                w.column(leaf)
    w.int(len(anchor_idx))
    for level in anchor_idx:
        w.int(len(level))
        for a in level:
            w.int(a)
    w.int(len(deltas))
    for level in deltas:
        w.int(len(level))
        for x, y in level:
            w.float(x)
            w.float(y)
    return bytes(w.out)


def check_shapes(initial_shape, forests, anchor_idx, deltas):
    """Checks the model is regular (every level and tree the same size) and self-consistent."""
    n = len(initial_shape)
    if n == 0 or n % 2:
        raise ValueError(f"initial shape has {n} values, expected an even, positive count")
    points = n // 2
    levels = len(forests)
    if levels == 0 or len(anchor_idx) != levels or len(deltas) != levels:
        raise ValueError("forests, anchor_idx and deltas disagree on the cascade depth")
    trees = len(forests[0])
    splits = len(forests[0][0][0])
    feats = len(anchor_idx[0])
    for c in range(levels):
        if len(forests[c]) != trees:
            raise ValueError(f"level {c} has {len(forests[c])} trees, level 0 has {trees}")
        if len(anchor_idx[c]) != feats or len(deltas[c]) != feats:
            raise ValueError(f"level {c} has a different number of feature pixels")
        if any(a >= points for a in anchor_idx[c]):
            raise ValueError(f"level {c} anchors a pixel to a landmark that does not exist")
        for t, (s, leaves) in enumerate(forests[c]):
            if len(s) != splits or len(leaves) != splits + 1:
                raise ValueError(f"tree {c}/{t} is not a complete tree of {splits} splits")
            if any(i1 >= feats or i2 >= feats for i1, i2, _ in s):
                raise ValueError(f"tree {c}/{t} reads a feature pixel that does not exist")
            if any(len(leaf) != n for leaf in leaves):
                raise ValueError(f"tree {c}/{t} has a leaf of the wrong length")
    return points, levels, trees, splits, feats


def safetensors_bytes(tensors, metadata):
    """A safetensors file from {name: (shape, flat list of floats)}, all F32."""
    entries = {}
    for name, (shape, values) in tensors.items():
        if math.prod(shape) != len(values):
            raise ValueError(f"{name}: shape {shape} does not hold {len(values)} values")
        blob = array("f", values)
        if sys.byteorder != "little":
            blob.byteswap()
        entries[name] = (shape, blob.tobytes())
    return dlib_serial.safetensors_bytes(entries, metadata)


def convert(data, source_name):
    version, initial_shape, forests, anchor_idx, deltas = parse(data)
    points, levels, trees, splits, feats = check_shapes(initial_shape, forests, anchor_idx, deltas)
    leaves_n = splits + 1
    flat = lambda rows: [v for row in rows for v in row]  # noqa: E731
    tensors = {
        "initial_shape": ([2 * points], list(initial_shape)),
        "anchor_idx": ([levels, feats], [float(a) for level in anchor_idx for a in level]),
        "deltas": ([levels, feats, 2], [v for level in deltas for d in level for v in d]),
        "split_idx1": ([levels, trees, splits],
                       [float(s[0]) for f in forests for t in f for s in t[0]]),
        "split_idx2": ([levels, trees, splits],
                       [float(s[1]) for f in forests for t in f for s in t[0]]),
        "split_thresh": ([levels, trees, splits],
                         [s[2] for f in forests for t in f for s in t[0]]),
        "leaves": ([levels, trees, leaves_n, 2 * points],
                   flat(leaf for f in forests for t in f for leaf in t[1])),
    }
    metadata = {
        "format": "dlib shape_predictor",
        "dlib_version_field": str(version),
        "source": source_name,
        "source_sha256": hashlib.sha256(data).hexdigest(),
        "landmarks": str(points),
        "cascade_levels": str(levels),
        "trees_per_level": str(trees),
        "splits_per_tree": str(splits),
        "features_per_level": str(feats),
    }
    summary = (f"{points} landmarks, {levels} levels x {trees} trees of {splits} splits, "
               f"{feats} feature pixels per level")
    return safetensors_bytes(tensors, metadata), summary, (version, initial_shape, forests,
                                                           anchor_idx, deltas)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dat", help="dlib shape_predictor .dat file (uncompressed)")
    ap.add_argument("out", nargs="?", help="safetensors file to write")
    ap.add_argument("--check-roundtrip", action="store_true",
                    help="re-serialise and compare with the input byte for byte")
    ap.add_argument("--write-dat", help="write the re-serialised dlib file here")
    args = ap.parse_args()
    with open(args.dat, "rb") as f:
        data = f.read()
    blob, summary, model = convert(data, os.path.basename(args.dat))
    print(summary)
    if args.check_roundtrip or args.write_dat:
        again = serialise(*model)
        if args.write_dat:
            with open(args.write_dat, "wb") as f:
                f.write(again)
        if args.check_roundtrip:
            dlib_serial.check_roundtrip(again, data)
    if args.out:
        dlib_serial.write_output(args.out, blob)


if __name__ == "__main__":
    main()
