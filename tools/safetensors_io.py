"""Writes float32 tensors as a safetensors file (no dependency beyond numpy), for the
weight converters in this folder (convert_dlib_resnet.py, convert_resemblyzer.py)."""
import json
import struct

import numpy as np


def write_safetensors(path, tensors, metadata):
    """`tensors`: name -> array (stored little-endian float32, names sorted);
    `metadata`: a dict of strings, stored as `__metadata__`."""
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name], dtype="<f4")
        b = a.tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = metadata
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
