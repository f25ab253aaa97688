"""Reads libmamlpp model files (safetensors layout) without numpy, and compares two of them.

    python3 safetensors_compare.py A.maml B.maml [--rtol 1e-10]

Per group of tensors (parameters, LSLR, BN rows, Adam moments) it prints the relative
difference max|a - b| / max|a| over the group, and exits 1 when a group differs by more than rtol
or the step counters differ.

The conv biases are a group of their own. Each sits right before batch norm, which subtracts the
batch mean; when every pass normalises with batch statistics (bn_stats support or transductive:
the training passes always do), a conv bias's true meta-gradient is exactly zero and what a run
computes is rounding noise (1e-18 to 1e-15 in float64). Adam divides by the square root of its own
second moment and so turns that noise into steps whose size does not depend on the noise's, and
whose sign depends on summation order: between any two summation orders (two thread counts of
one process, or one process and two ranks) these biases differ by O(1) relative to themselves,
while changing nothing the network computes. With --biases-cancel they are reported and not
compared; otherwise (bn_stats running: the query passes use running statistics and the biases
learn) they must agree like every parameter. The inner rates of the conv biases never get a true
gradient (the inner loop always uses batch statistics), so they are reported and never compared.
"""
import argparse
import array
import json
import struct
import sys

DTYPES = {"F32": "f", "F64": "d", "I64": "q", "I32": "i"}


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    out = {}
    for name, spec in header.items():
        if name == "__metadata__":
            continue
        begin, end = spec["data_offsets"]
        a = array.array(DTYPES[spec["dtype"]])
        a.frombytes(body[begin:end])
        if sys.byteorder != "little":
            a.byteswap()
        out[name] = list(a)
    return header.get("__metadata__", {}), out


RATES = "inner rates of conv biases (not compared: zero true gradient)"


def group(name):
    if name.startswith("backbone.stage") and name.endswith(".conv.bias"):
        return "conv biases before BN"
    if name.startswith("lslr.backbone.stage") and name.endswith(".conv.bias"):
        # The inner loop always normalises with the support batch's own statistics, so the inner
        # gradient of a conv bias is exactly zero and so is the meta-gradient of its inner rates,
        # in every bn_stats mode: their values are Adam-amplified noise.
        return RATES
    if name.startswith("adam."):
        return "Adam moments"
    if "lslr" in name or "inner_lr" in name:
        return "LSLR"
    if "running" in name or "gamma" in name or "beta" in name or ".bn" in name:
        return "BN rows"
    return "parameters"


def compare(a_path, b_path, rtol, biases_cancel=False):
    meta_a, a = read(a_path)
    meta_b, b = read(b_path)
    if sorted(a) != sorted(b):
        return False, {"tensor names differ": float("inf")}
    diff, scale = {}, {}
    for name in sorted(a):
        x, y = a[name], b[name]
        if len(x) != len(y):
            return False, {name + " (size)": float("inf")}
        g = group(name)
        diff[g] = max([diff.get(g, 0.0)] + [abs(u - v) for u, v in zip(x, y)])
        scale[g] = max([scale.get(g, 0.0)] + [abs(u) for u in x])
    worst = {g: diff[g] / max(scale[g], 1e-300) for g in diff}
    bias = "conv biases before BN"
    ok = all(r <= rtol for g, r in worst.items() if g not in (bias, RATES))
    if bias in scale:
        # Measured against the parameters' scale, as every parameter is.
        worst[bias] = diff[bias] / max(scale.get("parameters", 0.0), 1e-300)
        if biases_cancel:
            worst[bias + " (not compared: zero true gradient)"] = worst.pop(bias)
        else:
            ok = ok and worst[bias] <= rtol
    if meta_a.get("step") != meta_b.get("step"):
        ok = False
        worst["step"] = float("inf")
    return ok, worst


def main():
    p = argparse.ArgumentParser()
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--rtol", type=float, default=1e-10)
    p.add_argument("--biases-cancel", action="store_true",
                   help="the models use batch statistics throughout (bn_stats support/transductive)")
    args = p.parse_args()
    ok, worst = compare(args.a, args.b, args.rtol, args.biases_cancel)
    for g, r in sorted(worst.items()):
        print("%-14s max relative difference %.3g" % (g, r))
    print("equal within %g" % args.rtol if ok else "DIFFERENT (rtol %g)" % args.rtol)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
