#!/usr/bin/env python3
"""dlib's ResNet face descriptor (`dlib_face_recognition_resnet_model_v1.dat`, public domain,
in the PyPI package `face_recognition_models`) read without dlib, and run in numpy, with every
residual block's output exposed: the reference for a port and for probes of its intermediate
features (issue: "a pretrained backbone, measured before it is trusted").

    /tmp/dlibvenv/bin/python tools/dlib_resnet.py --check 20 --data ../shared/data/fairface96

`--check N` runs the first N FairFace training pictures (sorted by name, resized to the
network's 150 px input like `tools/dlib_descriptor_probe.py`) through this forward pass and
through dlib's own `face_recognition_model_v1` and prints the smallest cosine similarity and
the largest absolute difference of the 128-d descriptors (needs dlib, face_recognition_models,
numpy, Pillow: the probe's venv).

The file is dlib's serialisation of (dlib's `dnn_face_recognition_ex.cpp`)

    loss_metric<fc_no_bias<128, avg_pool_everything<level0<level1<level2<level3<level4<
        max_pool<3,3,2,2, relu<affine<con<32,7,7,2,2, input_rgb_image_sized<150>>>>>>>>>>>>>
    level4 = 3 x res<32>;  level3 = 3 x res<64> after res_down<64>;
    level2 = 2 x res<128> after res_down<128>;  level1 = 2 x res<256> after res_down<256>;
    level0 = res_down<256>
    res<N>      = relu<add_prev1<affine<con<N,3,3,1,1, relu<affine<con<N,3,3,1,1, tag1<X>>>>>>>>
    res_down<N> = relu<add_prev2<avg_pool<2,2,2,2, skip1<tag2<affine<con<N,3,3,1,1,
                      relu<affine<con<N,3,3,2,2, tag1<X>>>>>>>>>>>

with dlib's defaults: stride-2 convolutions and pools have no padding, stride-1 3x3 ones pad
1; `add_prev` adds tensors of different sizes by zero-padding the smaller one (channels, and
rows and columns at the bottom and right: 256@3x3 + 256@4x4 in level1's first block); the
input is `(pixel - channel mean) / 256` in RGB order. Layers are parsed generically (the
primitives of `convert_dlib_mmod.Reader`) and checked to consume the whole file.
"""
import argparse
import glob
import os
import sys

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from convert_dlib_mmod import Reader  # noqa: E402

DEFAULT_MODEL = "dlib_face_recognition_resnet_model_v1.dat"


def _details(r):
    name = r.string()
    d = {"name": name}
    if name.startswith("con_"):
        d["params"] = r.tensor()
        d["num_filters"], d["nr"], d["nc"] = r.int(), r.int(), r.int()
        d["stride"] = (r.int(), r.int())
        d["padding"] = (r.int(), r.int())
        r.alias_tensor()
        r.alias_tensor()
        [r.double() for _ in range(4)]
        if name in ("con_5", "con_6"):
            d["use_bias"] = r.bool()
    elif name.startswith("affine_"):
        d["params"] = r.tensor()
        r.alias_tensor()
        r.alias_tensor()
        d["mode"] = r.int()
    elif name in ("relu_", "add_prev_"):
        pass
    elif name.startswith("avg_pool_") or name.startswith("max_pool_"):
        d["geom"] = [r.int() for _ in range(6)]
    elif name.startswith("fc_"):
        d["num_outputs"], d["num_inputs"] = r.uint(), r.uint()
        d["params"] = r.tensor()
        r.alias_tensor()
        r.alias_tensor()
        d["bias_mode"] = r.int()
        [r.double() for _ in range(4)]
    elif name.startswith("input_rgb_image_sized"):
        d["avg"] = [r.float() for _ in range(3)]
        d["size"] = (r.int(), r.int())
    else:
        raise ValueError(f"unknown layer {name!r} at byte {r.pos}")
    return d


def _level(r, out):
    """One add_layer (version 2), tag/skip layer (version 1: no details) or input-side
    add_layer (version 3); appends layers input side first."""
    v = r.int()
    if v == 1:
        _level(r, out)
        out.append({"name": "tag_or_skip"})
    elif v == 2:
        _level(r, out)
        out.append(_details(r))
        for _ in range(3):
            r.bool()
        r.tensor(), r.tensor(), r.tensor()  # x_grad, cached_output, params_grad
    elif v == 3:
        out.append(_details(r))  # the input layer
        out.append(_details(r))
        for _ in range(3):
            r.bool()
        r.tensor(), r.tensor(), r.tensor()  # x_grad, cached_output, grad_final
        r.int()  # sample_expansion_factor
    else:
        raise ValueError(f"unexpected layer version {v} at byte {r.pos}")


def load(path):
    """The network as a list of ops, input side first."""
    data = open(path, "rb").read()
    r = Reader(data)
    if r.int() != 1 or not r.string().startswith("loss_metric"):
        raise ValueError(f"{path}: not a loss_metric network")
    r.double(), r.double()  # margin, distance threshold
    layers = []
    _level(r, layers)
    if r.pos != len(data):
        raise ValueError(f"{path}: {len(data) - r.pos} bytes left after the network")
    ops, channels = [], 3
    for L in layers:
        n = L["name"]
        if n.startswith("con_"):
            f, k, nr, nc = L["num_filters"], channels, L["nr"], L["nc"]
            p = L["params"].reshape(-1)
            ops.append(("con", p[: f * k * nr * nc].reshape(f, k, nr, nc), p[f * k * nr * nc:],
                        L["stride"][0], L["padding"][0]))
            channels = f
        elif n.startswith("affine_"):
            p = L["params"].reshape(-1)
            ops.append(("affine", p[: len(p) // 2], p[len(p) // 2:]))
        elif n.startswith("fc_"):
            w = L["params"].reshape(-1)[: L["num_inputs"] * L["num_outputs"]]
            ops.append(("fc", w.reshape(L["num_inputs"], L["num_outputs"])))
        elif n.startswith("input"):
            ops.append(("input", np.array(L["avg"], np.float32)))
        elif n.startswith("max_pool") or n.startswith("avg_pool"):
            ops.append((n[:3] + "pool",) + tuple(L["geom"]))
        else:
            ops.append((n,))
    return ops


def named_tensors(ops):
    """The weights under the names `facevox::model::DlibResNet` reads: `conv{i}.weight`,
    `conv{i}.bias`, `affine{i}.gamma`, `affine{i}.beta` (input side first), `fc.weight`,
    `input.mean`; and each convolution's (stride, padding) as `conv{i}.geometry`."""
    out, ci, ai = {}, 0, 0
    for op in ops:
        if op[0] == "con":
            out[f"conv{ci}.weight"], out[f"conv{ci}.bias"] = op[1], op[2]
            out[f"conv{ci}.geometry"] = np.array([op[3], op[4]])
            ci += 1
        elif op[0] == "affine":
            out[f"affine{ai}.gamma"], out[f"affine{ai}.beta"] = op[1], op[2]
            ai += 1
        elif op[0] == "fc":
            out["fc.weight"] = op[1]
        elif op[0] == "input":
            out["input.mean"] = op[1]
    if ci != ai:
        raise ValueError(f"{ci} convolutions but {ai} affine layers")
    return out


def _conv(x, w, b, stride, pad):
    if pad:
        x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    kh, kw = w.shape[2:]
    win = sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]
    bsz, c, ho, wo = win.shape[:4]
    cols = win.transpose(0, 2, 3, 1, 4, 5).reshape(bsz * ho * wo, c * kh * kw)
    y = cols @ w.reshape(w.shape[0], -1).T + b
    return y.reshape(bsz, ho, wo, -1).transpose(0, 3, 1, 2)


def _pool(x, kind, nr, nc, sy, sx, py, px):
    if nr == 0:  # avg_pool_everything
        return x.mean(axis=(2, 3), keepdims=True)
    if py or px:
        raise ValueError("padded pooling is not used by this network")
    win = sliding_window_view(x, (nr, nc), axis=(2, 3))[:, :, ::sy, ::sx]
    return win.max(axis=(4, 5)) if kind == "max" else win.mean(axis=(4, 5))


def _add(a, b):
    out = np.zeros([max(i, j) for i, j in zip(a.shape, b.shape)], np.float32)
    out[:, : a.shape[1], : a.shape[2], : a.shape[3]] += a
    out[:, : b.shape[1], : b.shape[2], : b.shape[3]] += b
    return out


def forward(ops, images):
    """`images` (B, 150, 150, 3) uint8 RGB -> (descriptors (B, 128), the output of every
    residual block after its ReLU, input side first: 3 x 32@35, 4 x 64@17, 3 x 128@8,
    3 x 256@4, 1 x 256@2)."""
    x, tags, blocks = None, {}, []
    for i, op in enumerate(ops):
        kind = op[0]
        if kind == "input":
            x = ((images.astype(np.float32) - op[1]) / 256.0).transpose(0, 3, 1, 2)
        elif kind == "con":
            x = _conv(x, *op[1:])
        elif kind == "affine":
            x = x * op[1][None, :, None, None] + op[2][None, :, None, None]
        elif kind == "relu_":
            x = np.maximum(x, 0)
            if ops[i - 1][0] == "add_prev_":
                blocks.append(x)
        elif kind in ("maxpool", "avgpool"):
            x = _pool(x, kind[:3], *op[1:])
        elif kind == "tag_or_skip":
            # tag1 starts a block (a convolution follows); tag2 marks a down block's output
            # (skip1 follows); skip1 brings back tag1's tensor for the shortcut's pooling.
            nxt = ops[i + 1][0]
            if nxt == "con":
                tags[1] = x
            elif nxt == "tag_or_skip":
                tags[2] = x
            elif nxt == "avgpool":
                x = tags[1]
            else:
                raise ValueError(f"unexpected tag/skip before {nxt}")
        elif kind == "add_prev_":
            x = _add(x, tags[2] if ops[i - 1][0] == "avgpool" else tags[1])
        elif kind == "fc":
            x = x.reshape(x.shape[0], -1) @ op[1]
        else:
            raise ValueError(f"unknown op {kind}")
    return x, blocks


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", help="the .dat file (default: face_recognition_models' copy)")
    ap.add_argument("--data", default="../shared/data/fairface96")
    ap.add_argument("--check", type=int, default=20)
    ap.add_argument("--time", type=int, default=0,
                    help="also time dlib's own network: one chip per call, and batches of this "
                    "many (compute_face_descriptor on a list), over the --check pictures")
    ap.add_argument("--export-npz", help="write the weights (half precision) and --check's "
                    "pictures and dlib's descriptors of them to this .npz (for "
                    "tools/gpu_face_gender.py's dlib_resnet runs)")
    a = ap.parse_args()
    from PIL import Image
    if a.model is None:
        import face_recognition_models as frm
        a.model = frm.face_recognition_model_location()
    ops = load(a.model)
    files = sorted(glob.glob(os.path.join(a.data, "train", "*.jpg")))[: a.check]
    imgs = np.stack([np.asarray(Image.open(f).convert("RGB").resize((150, 150), Image.BICUBIC))
                     for f in files])
    ours, _ = forward(ops, imgs)
    import dlib
    ref = dlib.face_recognition_model_v1(a.model)
    theirs = np.stack([np.array(ref.compute_face_descriptor(im)) for im in imgs])
    cos = (ours * theirs).sum(1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(theirs, axis=1)
    print(f"{len(files)} pictures: cosine min {cos.min():.9f}, "
          f"max |difference| {np.abs(ours - theirs).max():.3g}")
    if a.time:
        import time
        chips = [np.ascontiguousarray(im) for im in imgs]
        ref.compute_face_descriptor(chips[0])
        t, n = time.perf_counter(), 0
        while time.perf_counter() - t < 5:
            ref.compute_face_descriptor(chips[n % len(chips)])
            n += 1
        one = (time.perf_counter() - t) / n
        batch = [chips[i % len(chips)] for i in range(a.time)]
        t, m = time.perf_counter(), 0
        while time.perf_counter() - t < 8:
            ref.compute_face_descriptor(batch)
            m += 1
        many = (time.perf_counter() - t) / m
        print(f"dlib {dlib.__version__}: one chip {one * 1e3:.1f} ms ({n} calls); batch of "
              f"{a.time} {many * 1e3:.1f} ms ({many / a.time * 1e3:.1f} ms a chip; {m} calls)")
    if a.export_npz:
        arrays = named_tensors(ops)
        arrays = {k: v.astype(np.float16) if v.dtype == np.float32 and "mean" not in k else v
                  for k, v in arrays.items()}
        np.savez_compressed(a.export_npz, check_images=imgs, check_descriptors=theirs, **arrays)
        print(f"wrote {a.export_npz}: {sum(k.endswith('.geometry') for k in arrays)} convolutions")


if __name__ == "__main__":
    main()
