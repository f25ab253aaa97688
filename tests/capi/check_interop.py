#!/usr/bin/env python3
"""An independent reader (Python standard library: struct + json) of a file saved through the C
ABI. Checks tensor names, dtypes and shapes against the config, and that the bytes of every
LSLR row equal the inner rates maml_get_inner_lrs reported.
    check_interop.py MODEL_FILE ABI_JSON"""
import json
import struct
import sys


def main():
    model_path, abi_path = sys.argv[1], sys.argv[2]
    with open(model_path, "rb") as f:
        blob = f.read()
    with open(abi_path) as f:
        abi = json.load(f)
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__")
    data = blob[8 + n:]
    problems = []

    def expect(cond, message):
        if not cond:
            problems.append(message)

    expect(meta.get("format") == "libmamlpp", f"format {meta.get('format')!r}")
    config = json.loads(meta["config"])
    for key in ("n_way", "num_stages", "num_filters", "inner_steps"):
        expect(config[key] == abi[key], f"config {key}: file {config[key]} vs ABI {abi[key]}")
    expect(meta.get("step") == str(abi["step"]), f"step {meta.get('step')!r}")
    expect(meta.get("has_optimizer") == "true", "a default save carries the optimiser")

    c, h, w = abi["image"]
    f_, s_ = abi["num_filters"], abi["inner_steps"]
    rows = s_ if config["per_step_bn"] else 1
    for stage in range(abi["num_stages"]):
        conv = f"backbone.stage{stage}.conv.weight"
        expect(header[conv]["shape"] == [f_, c if stage == 0 else f_, 3, 3], f"{conv} shape")
        expect(header[f"bn.stage{stage}.gamma"]["shape"] == [rows, f_], "gamma shape")
    expect(header["backbone.head.weight"]["shape"][0] == abi["n_way"], "head shape")
    for name, t in header.items():
        expect(t["dtype"] == "F32", f"{name}: dtype {t['dtype']}")
        begin, end = t["data_offsets"]
        count = 1
        for d in t["shape"]:
            count *= d
        expect(end - begin == 4 * count, f"{name}: byte range does not match its shape")

    # The LSLR table: one row per adapted tensor, named after it, equal to what the ABI reports.
    expect(len(abi["lslr"]) == 2 * abi["num_stages"] + 2, "adapted tensor count")
    for row in abi["lslr"]:
        name = "lslr." + row["name"]
        if name not in header:
            problems.append(f"{name} missing from the file")
            continue
        t = header[name]
        expect(t["shape"] == [s_], f"{name} shape {t['shape']}")
        begin, end = t["data_offsets"]
        values = struct.unpack(f"<{s_}f", data[begin:end])
        want = tuple(struct.unpack("<f", struct.pack("<f", r))[0] for r in row["rates"])
        expect(values == want, f"{name}: file {values} vs maml_get_inner_lrs {want}")
    initial = struct.unpack("<f", struct.pack("<f", config["inner_lr"]))[0]
    trained = any(r != initial for row in abi["lslr"] for r in row["rates"])
    expect(trained, "the rates should have moved from their initial value after training")

    if problems:
        print("interop check FAILED:\n  " + "\n  ".join(problems))
        return 1
    print(f"interop check passed: {len(header)} tensors, {len(abi['lslr'])} LSLR rows match the ABI")
    return 0


if __name__ == "__main__":
    sys.exit(main())
