#!/usr/bin/env python3
"""The layering of src/, checked on every quoted and angled #include (DESIGN's folder map):

  common  the error type, the version, the parallel loop: includes nothing of the project
  data    images, archives, splits, task sampling:        common only; no LibTorch, no ABI
  io      the file format:                                common and the torch-free spec part of
                                                          core (config, layout); no LibTorch, no ABI
  core    MAML++ on LibTorch:                             common and core; no ABI
  capi    libmamlpp.so, the C ABI:                        core, io, common, the public header
  cli     the `mamlpp` command, a client of the C ABI:    the public header, data, io, common and
                                                          the spec part of core; no LibTorch

LibTorch headers (torch/, ATen/, c10/) appear only in core and capi. Exit 1, naming each file and
line, when an include crosses a line; usage: check_layers.py [src-dir].
"""
import pathlib
import re
import sys

SPEC = {"core/config.hpp", "core/config_fields.hpp", "core/layout.hpp", "core/budget.hpp"}
TORCH = ("torch/", "ATen/", "c10/")
ALLOWED = {  # layer -> (project folders it may include, spec-only core?, torch?, public header?)
    "common": ({"common"}, False, False, False),
    "data": ({"common", "data"}, False, False, False),
    "io": ({"common", "io"}, True, False, False),
    "core": ({"common", "core"}, False, True, False),
    "capi": ({"common", "core", "io", "capi"}, False, True, True),
    "cli": ({"common", "data", "io", "cli"}, True, False, True),
}
INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]')


def violations(src: pathlib.Path):
    layers = {p.name for p in src.iterdir() if p.is_dir()}
    for layer in sorted(layers):
        if layer not in ALLOWED:
            yield f"{src / layer}: a folder the layering check does not know; add it to ALLOWED"
            continue
        folders, spec, torch, public = ALLOWED[layer]
        for f in sorted((src / layer).rglob("*")):
            if f.suffix not in {".hpp", ".cpp", ".h", ".in"}:
                continue
            for n, line in enumerate(f.read_text(errors="replace").splitlines(), 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                inc = m.group(1)
                head = inc.split("/", 1)[0]
                where = f"{f}:{n}: {layer} includes {inc}"
                if inc.startswith(TORCH) or inc.startswith("torch"):
                    if not torch:
                        yield where + " (LibTorch stays inside core and capi)"
                elif inc.startswith("mamlpp/"):
                    if not public:
                        yield where + " (only capi and cli see the public header)"
                elif head in layers and "/" in inc:
                    if head in folders:
                        continue
                    if head == "core" and spec and inc in SPEC:
                        continue
                    yield where + f" ({layer} may include {', '.join(sorted(folders))}" + (
                        " and core's torch-free spec headers" if spec else "") + ")"


def self_test() -> int:
    """The check finds what it must: a planted crossing per kind, and nothing in a clean tree."""
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        root = pathlib.Path(d)
        for layer in ALLOWED:
            (root / layer).mkdir()
        (root / "data" / "ok.cpp").write_text('#include "common/error.hpp"\n#include <vector>\n')
        (root / "io" / "ok.cpp").write_text('#include "core/layout.hpp"\n')
        clean = list(violations(root))
        (root / "data" / "bad.cpp").write_text('#include "core/meta_learner.hpp"\n')
        (root / "io" / "bad.cpp").write_text('#include <torch/torch.h>\n#include "mamlpp/mamlpp.h"\n')
        (root / "cli" / "bad.cpp").write_text('#  include "core/inner_loop.hpp"\n#include <ATen/ATen.h>\n')
        (root / "extra").mkdir()
        planted = list(violations(root))
    ok = not clean and len(planted) == 6
    print("self-test:", "ok" if ok else f"FAILED (clean tree: {clean}; planted: {planted})")
    return 0 if ok else 1


def main() -> int:
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    src = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parents[2] / "src")
    bad = list(violations(src))
    for v in bad:
        print(v)
    print(f"layering: {len(bad)} include(s) cross a layer boundary" if bad else "layering: every include stays in its layer")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
