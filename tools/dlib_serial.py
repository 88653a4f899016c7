"""dlib's serialisation primitives (dlib/serialize.h), shared by the converters in tools/, and
the safetensors writer they use. Standard library only.

    integer := control byte (low 4 bits: byte count, at most 8; bit 0x80: negative; bits
               0x70 unused), then that many little-endian bytes of the magnitude
"""
import json
import math
import struct


def read_int(data, pos):
    """The integer at `pos` in `data`, and the position after it."""
    if pos >= len(data):
        raise ValueError(f"truncated file at byte {pos}")
    control = data[pos]
    size = control & 0x0F
    if size > 8 or control & 0x70:
        raise ValueError(f"bad integer control byte {control:#x} at {pos}")
    start = pos + 1
    if start + size > len(data):
        raise ValueError(f"truncated integer at byte {pos}")
    value = int.from_bytes(data[start:start + size], "little")
    return (-value if control & 0x80 else value), start + size


def pack_int(v):
    """`v` as dlib writes an integer."""
    mag = abs(v)
    # dlib's pack_int writes at least one byte, so 0 is 0x01 0x00.
    raw = mag.to_bytes(max(1, (mag.bit_length() + 7) // 8), "little")
    return bytes([len(raw) | (0x80 if v < 0 else 0)]) + raw


def safetensors_bytes(entries, metadata):
    """A safetensors file from {name: (shape, little-endian f32 bytes)}, in that order."""
    header = {"__metadata__": metadata}
    blobs = []
    offset = 0
    for name, (shape, blob) in entries.items():
        count = 1
        for d in shape:
            count *= d
        if 4 * count != len(blob):
            raise ValueError(f"{name}: shape {list(shape)} does not hold {len(blob) // 4} values")
        header[name] = {"dtype": "F32", "shape": list(shape),
                        "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)
    return struct.pack("<Q", len(head)) + head + b"".join(blobs)


def check_roundtrip(again, data, detail=""):
    """Exits with the first differing byte unless `again` (the re-serialised file) is `data`."""
    if again != data:
        first = next((i for i, (a, b) in enumerate(zip(again, data)) if a != b),
                     min(len(again), len(data)))
        raise SystemExit(f"round trip differs from byte {first} "
                         f"({len(again)} vs {len(data)} bytes)")
    print(f"round trip: identical ({len(data)} bytes{detail})")


def write_output(path, blob):
    """Writes the converted file and says so."""
    with open(path, "wb") as f:
        f.write(blob)
    print(f"wrote {path} ({len(blob)} bytes)")


def unsigned(v):
    """`v`, checked to be a valid unsigned value."""
    if v < 0:
        raise ValueError(f"negative value {v} where an unsigned one is expected")
    return v


def decode_real(mantissa, exponent):
    """A float or double as dlib writes it: mantissa * 2^exponent, with dlib's float_details
    marking the special values by the exponents 32000 (inf), 32001 (-inf) and 32002 (nan)."""
    special = {32000: math.inf, 32001: -math.inf, 32002: math.nan}
    if exponent in special:
        return special[exponent]
    return math.ldexp(mantissa, exponent)


def exact_f32(v):
    """`v`, checked to be exactly representable as an f32 (non-finite values pass)."""
    if math.isfinite(v) and struct.unpack("<f", struct.pack("<f", v))[0] != v:
        raise ValueError(f"float {v!r} is not exactly representable as f32")
    return v
