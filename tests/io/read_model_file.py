#!/usr/bin/env python3
"""Reads a libmamlpp file with the Python standard library only (struct + json), the way any
safetensors reader would, and checks it against expectations a C++ test wrote as JSON:
    read_model_file.py MODEL_FILE EXPECT_JSON
EXPECT_JSON: {"metadata": {key: value}, "tensors": [{"name", "dtype", "shape"}, ...],
              "check": {"name": tensor, "values": [floats]}}
Exits 0 when everything matches, 1 with a message otherwise."""
import json
import struct
import sys


def read_maml(path):  # exactly the reader docs/FILE_FORMAT.md shows
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    meta = header.pop("__metadata__", {})
    data = blob[8 + n:]
    tensors = {name: (t["dtype"], t["shape"], data[t["data_offsets"][0]:t["data_offsets"][1]])
               for name, t in header.items()}
    return meta, json.loads(meta["config"]), tensors


def main():
    path, expect_path = sys.argv[1], sys.argv[2]
    with open(expect_path) as f:
        expect = json.load(f)
    meta, config, tensors = read_maml(path)
    problems = []
    for key, value in expect["metadata"].items():
        if meta.get(key) != value:
            problems.append(f"metadata {key}: {meta.get(key)!r} != {value!r}")
    if config.get("n_way") != expect["n_way"]:
        problems.append(f"config n_way {config.get('n_way')} != {expect['n_way']}")
    # Names, dtypes and shapes; the header lists tensors in file order (json keeps key order).
    got = [{"name": name, "dtype": dtype, "shape": shape} for name, (dtype, shape, _) in tensors.items()]
    if got != expect["tensors"]:
        problems.append(f"tensors differ:\n  got  {got}\n  want {expect['tensors']}")
    # The bytes of one tensor, decoded as little-endian floats.
    check = expect["check"]
    dtype, shape, raw = tensors[check["name"]]
    fmt = {"F32": "f", "F64": "d"}[dtype]
    values = list(struct.unpack("<%d%s" % (len(raw) // struct.calcsize(fmt), fmt), raw))
    if values != check["values"]:
        problems.append(f"{check['name']}: {values} != {check['values']}")
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
