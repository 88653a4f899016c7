#!/usr/bin/env python3
"""Converts dlib's CNN face detector (`mmod_human_face_detector.dat`) into the safetensors file
that `facevox::vision::MmodDetector` reads.

    python3 tools/convert_dlib_mmod.py mmod_human_face_detector.dat models/mmod_face.safetensors
    python3 tools/convert_dlib_mmod.py --check-roundtrip mmod_human_face_detector.dat

Pure Python plus numpy; dlib is not needed. The file is dlib's serialisation of

    loss_mmod<con<1,9,9,1,1, rcon5<rcon5<rcon5<downsampler<
        input_rgb_image_pyramid<pyramid_down<6>>>>>>>>
    downsampler = relu<affine<con5d<32, relu<affine<con5d<32, relu<affine<con5d<16, SUBNET>>>>>>>>>
    rcon5       = relu<affine<con5<45, SUBNET>>>
    con5d = 5x5 convolution, stride 2, no padding; con5 = 5x5, stride 1, padding 2;
    the last con = 9x9, stride 1, padding 4, one output channel (one sliding window)

(the net of dlib's `dnn_mmod_face_detection_ex.cpp` and of the Python binding
`dlib.cnn_face_detection_model_v1`). The parser does not assume that list: it reads whatever
layer stack the file holds and checks it against this one. What the file actually stores
(dlib/dnn/core.h, layers.h, input.h, loss.h, tensor.h, serialize.h):

    add_loss_layer := int version (1), string "loss_mmod_", mmod_options, add_layer
    mmod_options   := int version (1: one window as width, height; 2-4: vector of windows),
                      double loss_per_false_alarm, double loss_per_missed_target,
                      double truth_match_iou_threshold, test_box_overlap overlaps_nms,
                      test_box_overlap overlaps_ignore [, version >= 3: uint8 assume_image_pyramid]
                      [, version >= 4: bool use_bounding_box_regression, double bbr_lambda]
    test_box_overlap := double iou_thresh, double percent_covered_thresh
    add_layer      := int version (1 or 2), add_layer subnet, details, bool setup_called,
                      bool gradient_input_is_stale, bool get_output_and_gradient_input_disabled,
                      tensor x_grad, tensor cached_output [, version 2: tensor params_grad]
    add_layer on the input layer := int version (3), input layer, details, the same 3 bools,
                      tensor x_grad, tensor cached_output, tensor grad_final,
                      integer sample_expansion_factor
    input_rgb_image_pyramid := string "input_rgb_image_pyramid" (pyramid padding 10 and outer
                      padding 11 implied) or "input_rgb_image_pyramid2" (then both stored),
                      float avg_red, float avg_green, float avg_blue
    con_           := string "con_4" (or con_5/con_6, which add bool use_bias / use_relu),
                      tensor params (filters then biases), long num_filters, long nr, long nc,
                      int stride_y, int stride_x, int padding_y, int padding_x,
                      alias_tensor filters, alias_tensor biases, 4 doubles (learning-rate and
                      weight-decay multipliers)
    bn_con2        := tensor params (gamma then beta), alias_tensor gamma, alias_tensor beta,
                      tensor means, tensor invstds, tensor running_means,
                      tensor running_variances, unsigned long num_updates,
                      unsigned long running_stats_window_size, 4 doubles, double eps
    relu_          := string "relu_"
    tensor         := int version (2), long num_samples, k, nr, nc, then the values as raw
                      little-endian IEEE f32 (version 1: dlib floats)
    alias_tensor   := int version (1), long num_samples, k, nr, nc
    bool           := one character, '1' or '0'
    string         := integer length, then the bytes
    integer        := control byte (low 4 bits: byte count; bit 0x80: negative), then that many
                      little-endian bytes of the magnitude
    float / double := integer mantissa, integer exponent: mantissa * 2^exponent

The file stores its affine layers as batch-norm layers (`bn_con2`); dlib turns each into an
`affine_` when it loads the file (`affine_(const bn_&)` in layers.h):
gamma' = gamma / sqrt(running_variance + eps) and beta' = beta - gamma' * running_mean,
computed here in f32 like dlib does.

`--check-roundtrip` re-serialises every parsed token with the same rules and checks that gives
back the input byte for byte (so nothing was lost or misread).

Output tensors (all f32, little-endian), for the 7 convolutions i = 0..6 (input side first) and
the 6 affine layers j = 0..5 (affine j follows convolution j):

    conv{i}.weight [c_out, c_in, kh, kw]    conv{i}.bias [c_out]
    affine{j}.gamma [c]                      affine{j}.beta [c]

The safetensors metadata records the source file name and SHA-256, the per-layer geometry
(kernel, stride, padding), the input layer's channel means and pyramid paddings, the pyramid
(pyramid_down<6>), the detector window(s) and the loss options (overlap tester of the
non-max suppression, loss per false alarm, ...).
"""
import argparse
import hashlib
import json
import math
import os

import numpy as np

import dlib_serial
from dlib_serial import decode_real, exact_f32, pack_int, read_int, unsigned

EXPECTED_STACK = [
    # (kind, filters, kernel, stride, padding) from the input side to the output side.
    ("con", 16, 5, 2, 0), ("affine",), ("relu",),
    ("con", 32, 5, 2, 0), ("affine",), ("relu",),
    ("con", 32, 5, 2, 0), ("affine",), ("relu",),
    ("con", 45, 5, 1, 2), ("affine",), ("relu",),
    ("con", 45, 5, 1, 2), ("affine",), ("relu",),
    ("con", 45, 5, 1, 2), ("affine",), ("relu",),
    ("con", 1, 9, 1, 4),
]


class Reader:
    """dlib's serialisation primitives over a byte string; every value read is also recorded
    as a token so the file can be written back."""

    def __init__(self, data):
        self.data = data
        self.pos = 0
        self.tokens = []

    def _raw_int(self):
        value, self.pos = read_int(self.data, self.pos)
        return value

    def int(self):
        v = self._raw_int()
        self.tokens.append(("int", v))
        return v

    def uint(self):
        return unsigned(self.int())

    def _real(self, kind):
        mantissa = self._raw_int()
        exponent = self._raw_int()
        self.tokens.append((kind, (mantissa, exponent)))
        return decode_real(mantissa, exponent)

    def double(self):
        return self._real("double")

    def float(self):
        return exact_f32(self._real("float"))

    def bool(self):
        if self.pos >= len(self.data):
            raise ValueError(f"truncated file at byte {self.pos}")
        c = self.data[self.pos:self.pos + 1]
        if c not in (b"0", b"1"):
            raise ValueError(f"bad bool {c!r} at byte {self.pos}")
        self.pos += 1
        self.tokens.append(("bool", c == b"1"))
        return c == b"1"

    def string(self):
        n = self._raw_int()
        if n < 0 or self.pos + n > len(self.data):
            raise ValueError(f"bad string length {n} at byte {self.pos}")
        s = self.data[self.pos:self.pos + n]
        self.pos += n
        self.tokens.append(("string", s))
        return s.decode("latin-1")

    def peek_string(self):
        """The string at the current position, without consuming or recording it (None when
        the bytes there are not a plausible string)."""
        save = (self.pos, len(self.tokens))
        try:
            s = self.string()
        except ValueError:
            s = None
        self.pos, n = save
        del self.tokens[n:]
        return s

    def tensor(self):
        version = self.int()
        dims = [self.uint() for _ in range(4)]
        count = math.prod(dims)
        if version == 2:
            end = self.pos + 4 * count
            if end > len(self.data):
                raise ValueError(f"truncated tensor at byte {self.pos}")
            values = np.frombuffer(self.data[self.pos:end], dtype="<f4").copy()
            self.pos = end
            self.tokens.append(("f32raw", values))
        elif version == 1:
            values = np.array([self.float() for _ in range(count)], dtype=np.float32)
        else:
            raise ValueError(f"unsupported tensor version {version}")
        return values.reshape(dims)

    def alias_tensor(self):
        version = self.int()
        if version != 1:
            raise ValueError(f"unsupported alias_tensor version {version}")
        return [self.uint() for _ in range(4)]


class Writer:
    """Writes tokens back with dlib's rules, to prove the parse lossless."""

    def __init__(self):
        self.out = bytearray()

    def int(self, v):
        self.out += pack_int(v)

    def token(self, kind, value):
        if kind == "int":
            self.int(value)
        elif kind in ("float", "double"):
            mantissa, exponent = value
            self.int(mantissa)
            self.int(exponent)
        elif kind == "bool":
            self.out += b"1" if value else b"0"
        elif kind == "string":
            self.int(len(value))
            self.out += value
        elif kind == "f32raw":
            self.out += value.astype("<f4").tobytes()
        else:
            raise ValueError(kind)


def real_bytes(v, digits):
    """dlib's float_details for a value of `digits` mantissa bits (24 for float, 53 for
    double): frexp, the mantissa scaled to an integer, whole zero low-order bytes shifted off
    (at most 8). Used to check the stored reals are in dlib's canonical form."""
    if v == 0:
        mantissa, exponent = 0, -digits
    else:
        m, e = math.frexp(v)
        mantissa, exponent = int(m * (1 << digits)), e - digits
    for _ in range(8):
        if mantissa & 0xFF:
            break
        mantissa >>= 8
        exponent += 8
    return mantissa, exponent


def parse_options(r):
    version = r.int()
    if not 1 <= version <= 4:
        raise ValueError(f"unsupported mmod_options version {version}")
    windows = []
    if version == 1:
        windows.append({"width": r.uint(), "height": r.uint(), "label": ""})
    else:
        for _ in range(r.uint()):
            wv = r.int()
            if wv not in (1, 2):
                raise ValueError(f"unsupported detector_window_details version {wv}")
            w = {"width": r.uint(), "height": r.uint(), "label": ""}
            if wv == 2:
                w["label"] = r.string()
            windows.append(w)
    opts = {
        "version": version,
        "detector_windows": windows,
        "loss_per_false_alarm": r.double(),
        "loss_per_missed_target": r.double(),
        "truth_match_iou_threshold": r.double(),
        "overlaps_nms": {"iou_thresh": r.double(), "percent_covered_thresh": r.double()},
        "overlaps_ignore": {"iou_thresh": r.double(), "percent_covered_thresh": r.double()},
        "assume_image_pyramid": True,
        "use_bounding_box_regression": False,
    }
    if version >= 3:
        opts["assume_image_pyramid"] = r.int() == 1
    if version >= 4:
        opts["use_bounding_box_regression"] = r.bool()
        opts["bbr_lambda"] = r.double()
    return opts


def parse_details(r):
    kind = r.string()
    if kind in ("con_4", "con_5", "con_6"):
        params = r.tensor().reshape(-1)
        num_filters = r.uint()
        nr, nc = r.uint(), r.uint()
        stride_y, stride_x = r.uint(), r.uint()
        pad_y, pad_x = r.uint(), r.uint()
        filters = r.alias_tensor()
        biases = r.alias_tensor()
        for _ in range(4):
            r.double()
        use_bias = r.bool() if kind in ("con_5", "con_6") else True
        use_relu = r.bool() if kind == "con_6" else False
        if use_relu:
            raise ValueError("con_ with a fused relu is not supported")
        if filters[0] != num_filters or filters[2:] != [nr, nc]:
            raise ValueError(f"con_ filters {filters} disagree with {num_filters} {nr}x{nc}")
        n_w = math.prod(filters)
        n_b = math.prod(biases) if use_bias else 0
        if params.size != n_w + n_b or (use_bias and n_b != num_filters):
            raise ValueError(f"con_ has {params.size} parameters, {n_w} + {n_b} expected")
        bias = params[n_w:] if use_bias else np.zeros(num_filters, np.float32)
        return {"kind": "con", "filters": num_filters, "kernel": [nr, nc],
                "stride": [stride_y, stride_x], "padding": [pad_y, pad_x],
                "weight": params[:n_w].reshape(filters), "bias": bias}
    if kind == "bn_con2":
        params = r.tensor().reshape(-1)
        gamma = r.alias_tensor()
        beta = r.alias_tensor()
        r.tensor()  # means (of the last training batch)
        r.tensor()  # invstds (of the last training batch)
        running_means = r.tensor().reshape(-1)
        running_variances = r.tensor().reshape(-1)
        r.uint()  # num_updates
        r.uint()  # running_stats_window_size
        for _ in range(4):
            r.double()
        eps = r.double()
        c = math.prod(gamma)
        if math.prod(beta) != c or params.size != 2 * c or running_means.size != c \
                or running_variances.size != c:
            raise ValueError("bn_con2 tensors disagree on the channel count")
        # affine_(const bn_&): g = gamma / sqrt(running_variances + eps),
        # b = beta - g * running_means, in f32.
        g = params[:c] / np.sqrt(running_variances + np.float32(eps))
        b = params[c:] - g * running_means
        return {"kind": "affine", "channels": c, "gamma": g.astype(np.float32),
                "beta": b.astype(np.float32), "eps": eps}
    if kind in ("affine_", "affine_2"):
        params = r.tensor().reshape(-1)
        gamma = r.alias_tensor()
        beta = r.alias_tensor()
        mode = r.int()
        if kind == "affine_2" and r.bool():
            raise ValueError("disabled affine_ layers are not supported")
        c = math.prod(gamma)
        if mode != 0 or params.size != 2 * c or math.prod(beta) != c:
            raise ValueError(f"unsupported affine_ layer (mode {mode}, {params.size} params)")
        return {"kind": "affine", "channels": c, "gamma": params[:c], "beta": params[c:]}
    if kind == "relu_":
        return {"kind": "relu"}
    raise ValueError(f"unsupported layer {kind!r}")


def parse_input(r):
    kind = r.string()
    if kind not in ("input_rgb_image_pyramid", "input_rgb_image_pyramid2"):
        raise ValueError(f"unsupported input layer {kind!r}")
    means = [r.float(), r.float(), r.float()]
    padding, outer = 10, 11
    if kind == "input_rgb_image_pyramid2":
        padding, outer = r.uint(), r.uint()
    return {"kind": kind, "avg_rgb": means, "pyramid_padding": padding,
            "pyramid_outer_padding": outer}


def parse_layers(r):
    """An add_layer stack; returns (input layer, [layers from the input side up])."""
    version = r.int()
    if version == 3 and (r.peek_string() or "").startswith("input_"):
        input_layer = parse_input(r)
        layers = []
    elif version in (1, 2):
        input_layer, layers = parse_layers(r)
    else:
        raise ValueError(f"unsupported add_layer version {version}")
    layers.append(parse_details(r))
    r.bool()  # this_layer_setup_called
    r.bool()  # gradient_input_is_stale
    r.bool()  # get_output_and_gradient_input_disabled
    r.tensor()  # x_grad
    r.tensor()  # cached_output
    if version >= 2:
        r.tensor()  # params_grad (version 2) or grad_final (input layer, version 3)
    if version == 3:
        r.int()  # _sample_expansion_factor (1)
    return input_layer, layers


def parse(data):
    r = Reader(data)
    version = r.int()
    if version != 1:
        raise ValueError(f"unsupported add_loss_layer version {version}")
    loss = r.string()
    if loss != "loss_mmod_":
        raise ValueError(f"unsupported loss layer {loss!r}")
    options = parse_options(r)
    input_layer, layers = parse_layers(r)
    if r.pos != len(data):
        raise ValueError(f"{len(data) - r.pos} trailing bytes after the network")
    return options, input_layer, layers, r.tokens


def check_stack(layers):
    got = []
    for layer in layers:
        if layer["kind"] == "con":
            ky, kx = layer["kernel"]
            sy, sx = layer["stride"]
            py, px = layer["padding"]
            if ky != kx or sy != sx or py != px:
                raise ValueError(f"non-square convolution {layer['kernel']}")
            got.append(("con", layer["filters"], ky, sy, py))
        else:
            got.append((layer["kind"],))
    if got != EXPECTED_STACK:
        raise ValueError(f"layer stack {got} is not the MMOD face detector's")
    c_in = 3
    for layer in layers:
        if layer["kind"] == "con":
            if layer["weight"].shape[1] != c_in:
                raise ValueError(f"convolution expects {layer['weight'].shape[1]} channels, "
                                 f"gets {c_in}")
            c_in = layer["filters"]
        elif layer["kind"] == "affine" and layer["channels"] != c_in:
            raise ValueError("affine layer channel count mismatch")


def safetensors_bytes(tensors, metadata):
    """A safetensors file from {name: f32 numpy array}."""
    return dlib_serial.safetensors_bytes(
        {name: (arr.shape, np.ascontiguousarray(arr, dtype="<f4").tobytes())
         for name, arr in tensors.items()},
        metadata)


def convert(data, source_name):
    options, input_layer, layers, tokens = parse(data)
    check_stack(layers)
    if options["use_bounding_box_regression"]:
        raise ValueError("bounding-box regression is not supported")
    if len(options["detector_windows"]) != 1:
        raise ValueError("only single-window detectors are supported")
    tensors = {}
    geometry = []
    convs = [l for l in layers if l["kind"] == "con"]
    affines = [l for l in layers if l["kind"] == "affine"]
    for i, c in enumerate(convs):
        tensors[f"conv{i}.weight"] = c["weight"]
        tensors[f"conv{i}.bias"] = c["bias"]
        geometry.append({"out": c["filters"], "in": int(c["weight"].shape[1]),
                         "kernel": c["kernel"][0], "stride": c["stride"][0],
                         "padding": c["padding"][0]})
    for j, a in enumerate(affines):
        tensors[f"affine{j}.gamma"] = a["gamma"]
        tensors[f"affine{j}.beta"] = a["beta"]
    for name, arr in tensors.items():
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} has non-finite values")
    win = options["detector_windows"][0]
    config = {
        "network": "loss_mmod<con<1,9,9,1,1,rcon5<rcon5<rcon5<downsampler<"
                   "input_rgb_image_pyramid<pyramid_down<6>>>>>>>>",
        "convolutions": geometry,
        "avg_rgb": input_layer["avg_rgb"],
        "pyramid_down": 6,
        "pyramid_padding": input_layer["pyramid_padding"],
        "pyramid_outer_padding": input_layer["pyramid_outer_padding"],
        "detector_window": [win["width"], win["height"]],
        "nms_iou_thresh": options["overlaps_nms"]["iou_thresh"],
        "nms_percent_covered_thresh": options["overlaps_nms"]["percent_covered_thresh"],
        "loss_per_false_alarm": options["loss_per_false_alarm"],
        "loss_per_missed_target": options["loss_per_missed_target"],
        "truth_match_iou_threshold": options["truth_match_iou_threshold"],
        "overlaps_ignore": options["overlaps_ignore"],
        "mmod_options_version": options["version"],
        "bn_eps": [a.get("eps") for a in affines],
    }
    metadata = {
        "format": "dlib mmod (loss_mmod) CNN detector",
        "source": source_name,
        "source_sha256": hashlib.sha256(data).hexdigest(),
        "config": json.dumps(config, separators=(",", ":")),
    }
    n_params = sum(a.size for a in tensors.values())
    summary = (f"{len(convs)} convolutions, {len(affines)} affine layers, {n_params} parameters; "
               f"window {win['width']}x{win['height']}, NMS iou {config['nms_iou_thresh']!r} "
               f"covered {config['nms_percent_covered_thresh']!r}; input "
               f"{input_layer['kind']} means {input_layer['avg_rgb']}")
    return safetensors_bytes(tensors, metadata), summary, tokens, config


def roundtrip(tokens):
    w = Writer()
    for kind, value in tokens:
        w.token(kind, value)
        if kind == "float" or kind == "double":
            v = math.ldexp(*value)
            if real_bytes(v, 24 if kind == "float" else 53) != value:
                raise ValueError(f"{kind} {value} is not in dlib's canonical form")
    return bytes(w.out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dat", help="dlib mmod .dat file (uncompressed)")
    ap.add_argument("out", nargs="?", help="safetensors file to write")
    ap.add_argument("--check-roundtrip", action="store_true",
                    help="re-serialise and compare with the input byte for byte")
    ap.add_argument("--print-config", action="store_true", help="print the parsed config")
    args = ap.parse_args()
    with open(args.dat, "rb") as f:
        data = f.read()
    blob, summary, tokens, config = convert(data, os.path.basename(args.dat))
    print(summary)
    if args.print_config:
        print(json.dumps(config, indent=1))
    if args.check_roundtrip:
        dlib_serial.check_roundtrip(roundtrip(tokens), data, f", {len(tokens)} tokens")
    if args.out:
        dlib_serial.write_output(args.out, blob)


if __name__ == "__main__":
    main()
