#!/usr/bin/env python3
"""Checks the layout program's JSON against include/mamlpp/mamlpp.h (standard library only).

    check_layout.py --header include/mamlpp/mamlpp.h (--program build/.../mamlpp_layout | --json f)

Fails (exit 1) unless: the JSON has the documented shape (README.md), it lists every public
struct of the header, each struct's fields have the header's names, order and types, each field's
size is what its type says (a pointer is pointer_size bytes; an array such as ``int32_t[8]`` is
its count times its element's size), offsets are aligned and increase without overlap, and the
last field ends within the final padding of the struct. This is what makes the JSON a trustworthy
reference for the bindings' struct mirrors.
"""
import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mamlpp_header  # noqa: E402


#: Bytes of every scalar type the layout may name (pointers are the layout's pointer_size).
SCALAR_SIZES = {"uint32_t": 4, "int32_t": 4, "uint64_t": 8, "int64_t": 8, "float": 4,
                "double": 8}


def type_size(ctype, pointer_size):
    """(size, alignment unit) in bytes of a C type as the layout spells it: a scalar, a pointer
    (``const float*``) or an array of either (``int32_t[8]``: 32 bytes, aligned as int32_t).
    None for a type this checker does not know."""
    elem, count = mamlpp_header.array_type(ctype)
    if elem.endswith("*"):
        size = pointer_size
    else:
        size = SCALAR_SIZES.get(elem)
    if size is None:
        return None
    return size * (count if count is not None else 1), size


def load_layout(program=None, json_path=None):
    """The layout JSON as a dict, from the program's stdout or a file."""
    if program:
        return json.loads(subprocess.check_output([program]).decode("utf-8"))
    with open(json_path, encoding="utf-8") as f:
        return json.load(f)


def check(layout, header):
    """A list of problems (empty when the layout matches the header)."""
    problems = []
    if layout.get("format") != 1:
        problems.append("unknown layout format %r (expected 1)" % layout.get("format"))
    for key in ("abi_version", "version", "pointer_size", "structs"):
        if key not in layout:
            problems.append("missing key %r" % key)
    structs = layout.get("structs", {})
    for name, hfields in header.structs.items():
        if name not in structs:
            problems.append("%s: in the header, missing from the layout" % name)
            continue
        s = structs[name]
        lnames = [(f["name"], f["type"]) for f in s["fields"]]
        hnames = [(f.name, f.type) for f in hfields]
        if lnames != hnames:
            problems.append("%s: fields differ\n  header: %s\n  layout: %s" % (name, hnames, lnames))
        end = 0
        for f in s["fields"]:
            try:
                expected = type_size(f["type"], layout.get("pointer_size", 0))
            except ValueError as e:
                expected = None
                problems.append("%s.%s: %s" % (name, f["name"], e))
            else:
                if expected is None:
                    problems.append("%s.%s: unknown type %r" % (name, f["name"], f["type"]))
            unit = expected[1] if expected else f["size"]
            if expected and f["size"] != expected[0]:
                problems.append("%s.%s: size %d, but a %s is %d bytes"
                                % (name, f["name"], f["size"], f["type"], expected[0]))
            if f["offset"] < end:
                problems.append("%s.%s: offset %d overlaps the previous field (ends at %d)"
                                % (name, f["name"], f["offset"], end))
            if unit and f["offset"] % unit and unit <= s["align"]:
                problems.append("%s.%s: offset %d is not aligned" % (name, f["name"], f["offset"]))
            end = f["offset"] + f["size"]
        if not (0 <= s["size"] - end < s["align"]):
            problems.append("%s: size %d, but the last listed field ends at %d" % (name, s["size"], end))
        if s["size"] % s["align"]:
            problems.append("%s: size %d is not a multiple of align %d" % (name, s["size"], s["align"]))
    for name in structs:
        if name not in header.structs:
            problems.append("%s: in the layout, not a struct of the header" % name)
    return problems


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--header", required=True)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--program")
    g.add_argument("--json")
    a = ap.parse_args(argv)
    header = mamlpp_header.parse_header_file(a.header)
    problems = check(load_layout(a.program, a.json), header)
    for p in problems:
        print("FAIL:", p)
    if not problems:
        print("layout OK: %s" % ", ".join(sorted(header.structs)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
