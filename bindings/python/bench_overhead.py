#!/usr/bin/env python3
"""Per-call overhead of the Python binding: maml_predict on ONE example, three ways.

1. ``binding``   -- ``Learner.predict(x)`` with x an ``array.array('f')`` (outputs allocated per
                    call, status checked, a Prediction returned): what a user writes.
2. ``binding-numpy`` -- the same with a numpy input and numpy outputs (only if numpy imports).
3. ``ctypes-raw``-- ``maml_predict`` through a bare ctypes function (argtypes set, no errcheck,
                    pre-allocated output buffers, integer addresses): the floor for ctypes.
4. ``c-in-process`` -- the C loop of bench/predict_loop.c, compiled as a shared library and run
                    inside this process (same learner, same allocator, same LibTorch threads).
5. ``c-program`` -- bench/predict_loop.c as its own program (loads the same file, adapts the same
                    way): the C baseline outside Python.

All use the same model file, the same deterministic support/query images, the CPU and one
LibTorch intra-op thread (OMP_NUM_THREADS=1 unless set). The methods
are measured in interleaved rounds (so background load hits them alike) and the best of
``--rounds`` measurements of ``--iterations`` calls is reported, in microseconds per call.

Usage::

    MAMLPP_LIBRARY=build/src/capi/libmamlpp.so.1 PYTHONPATH=bindings/python \\
        python3 bindings/python/bench_overhead.py [--model M.maml] [--c-bench PROGRAM]

Without ``--model`` a model with the given ``--n-way/--image-size/--stages/--filters`` (by default
the size of the ``example_model`` test fixture: 5-way, 1x28x28, 3 stages of 16 filters, 2 inner
steps, support-set batch norm) is created and saved to a temporary file. Without
``--c-bench`` the C program (and always the in-process loop library) is compiled with ``cc`` against ``include/`` and the library found
through ``MAMLPP_LIBRARY``. ``--json`` prints one JSON object instead of a table.
"""

import argparse
import array
import ctypes
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
# One intra-op thread (set before LibTorch loads; inherited by the C program): on a small model
# a thread pool's wake-ups are noise larger than the overhead measured here. Set it to override.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import mamlpp  # noqa: E402
from mamlpp import _native  # noqa: E402

REPO = os.path.abspath(os.path.join(HERE, "..", ".."))


def pattern(count):
    """The deterministic values predict_loop.c uses: ((i * 7919) % 1000) / 1000."""
    return array.array("f", [((i * 7919) % 1000) / 1000.0 for i in range(count)])


def time_us(fn, iterations):
    """Microseconds per call of fn over iterations calls."""
    t0 = time.perf_counter()
    for _ in range(iterations):
        fn()
    return (time.perf_counter() - t0) / iterations * 1e6


def find_cc():
    return shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")


def build_c_bench(tmp, shared):
    """Compiles bench/predict_loop.c: the program, or (shared) the in-process loop library."""
    cc = find_cc()
    if not cc:
        return None, "no C compiler"
    libpath = _native.library_path
    if os.sep in libpath:  # a path (maybe relative) rather than a name for the loader's search
        libpath = os.path.abspath(libpath)
    out = os.path.join(tmp, "libpredict_loop.so" if shared else "predict_loop")
    cmd = [cc, "-std=c99", "-O2", "-I", os.path.join(REPO, "include"),
           os.path.join(HERE, "bench", "predict_loop.c"), "-o", out]
    if shared:
        cmd += ["-shared", "-fPIC", "-DPREDICT_LOOP_NO_MAIN"]
    if os.path.isabs(libpath):
        cmd += [libpath, "-Wl,-rpath," + os.path.dirname(os.path.realpath(libpath))]
    else:
        cmd += ["-lmamlpp"]
    try:
        subprocess.check_call(cmd)
    except (OSError, subprocess.CalledProcessError) as e:
        return None, "cannot compile the C bench: %s" % e
    return out, None


def main(argv=None):
    ap = argparse.ArgumentParser(description="maml_predict per-call overhead: binding vs ctypes vs C")
    ap.add_argument("--model", help="a .maml file (default: create one, see --n-way ...)")
    # Defaults: the size of the example_model fixture (tests/fixtures/README.md).
    ap.add_argument("--n-way", type=int, default=5)
    ap.add_argument("--image-size", type=int, default=28)
    ap.add_argument("--channels", type=int, default=1)
    ap.add_argument("--stages", type=int, default=3)
    ap.add_argument("--filters", type=int, default=16)
    ap.add_argument("--iterations", type=int, default=2000, help="calls per measurement")
    ap.add_argument("--rounds", type=int, default=5,
                    help="measurements per method, interleaved; the best is reported")
    ap.add_argument("--c-bench", help="a built predict_loop program (default: compile one)")
    ap.add_argument("--no-c", action="store_true", help="skip the C measurements")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    a = ap.parse_args(argv)

    tmp = tempfile.mkdtemp(prefix="mamlpp-bench-")
    notes = []
    try:
        model_path = a.model
        if not model_path:
            cfg = mamlpp.Config(n_way=a.n_way, image_channels=a.channels,
                                image_height=a.image_size, image_width=a.image_size,
                                num_stages=a.stages, num_filters=a.filters,
                                inner_steps=2, eval_inner_steps=2, bn_stats=mamlpp.BN_SUPPORT,
                                device_type=mamlpp.DEVICE_CPU, num_threads=1)
            model_path = os.path.join(tmp, "bench.maml")
            with mamlpp.Model(cfg) as m:
                m.save(model_path, inference_only=True)

        c_prog = c_lib = None
        if not a.no_c:
            c_prog = a.c_bench
            if not c_prog:
                c_prog, note = build_c_bench(tmp, shared=False)
                if note:
                    notes.append(note)
            c_lib_path, note = build_c_bench(tmp, shared=True)
            if c_lib_path:
                c_lib = ctypes.CDLL(c_lib_path)
                c_lib.mamlpp_bench_predict_loop.restype = ctypes.c_double
                c_lib.mamlpp_bench_predict_loop.argtypes = [
                    ctypes.c_void_p, ctypes.c_void_p, ctypes.c_long, ctypes.c_int32,
                    ctypes.POINTER(ctypes.c_int32)]
            elif note:
                notes.append(note)

        results = {}

        def record(key, us):
            results[key] = min(results.get(key, float("inf")), us)

        with mamlpp.Model.load(model_path, device="cpu") as model:
            c, h, w = model.image_shape
            k = model.config.n_way
            pix = c * h * w
            support_x = pattern(k * pix)
            support_y = list(range(k))
            query = pattern(pix)
            with model.adapt(support_x, support_y) as learner:
                methods = [("binding", lambda: learner.predict(query))]
                if mamlpp.HAVE_NUMPY:
                    import numpy as np

                    qn = np.frombuffer(query, dtype=np.float32).reshape(1, c, h, w)
                    methods.append(("binding-numpy", lambda: learner.predict(qn)))
                raw = ctypes.CDLL(_native.library_path).maml_predict
                raw.restype = ctypes.c_int32
                raw.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int32, ctypes.c_void_p,
                                ctypes.c_void_p]
                handle = learner._ptr.value
                q_addr = query.buffer_info()[0]
                logits = (ctypes.c_float * k)()
                label = ctypes.c_int32()
                l_addr, y_addr = ctypes.addressof(logits), ctypes.addressof(label)

                def raw_call():
                    if raw(handle, q_addr, 1, l_addr, y_addr) != 0:
                        raise RuntimeError("maml_predict failed")

                methods.append(("ctypes-raw", raw_call))
                py_label = learner.predict(query).labels[0]

                for _, fn in methods:  # warm up
                    time_us(fn, a.iterations // 10 + 1)
                for _ in range(a.rounds):
                    for key, fn in methods:
                        record(key, time_us(fn, a.iterations))
                    if c_lib is not None:
                        got = ctypes.c_int32(-1)
                        us = c_lib.mamlpp_bench_predict_loop(handle, q_addr, a.iterations, k,
                                                             ctypes.byref(got))
                        if us < 0:
                            raise RuntimeError("the in-process C loop failed")
                        record("c-in-process", us)
                    if c_prog:
                        out = subprocess.check_output([c_prog, model_path, str(a.iterations), "1"])
                        c_result = json.loads(out.decode())
                        record("c-program", c_result["us_per_call"])
                        if c_result["label"] != py_label:
                            notes.append("C and Python labels differ (%d vs %d)!"
                                         % (c_result["label"], py_label))

        base = results.get("c-in-process", results.get("c-program"))
        summary = {
            "model": {"n_way": k, "image": [c, h, w], "file": a.model or "(created)"},
            "iterations": a.iterations, "rounds": a.rounds,
            "us_per_call": {key: round(v, 3) for key, v in results.items()},
        }
        if base is not None:
            summary["overhead_us_vs_c_in_process"] = {
                key: round(v - base, 3) for key, v in results.items() if not key.startswith("c-")}
        if notes:
            summary["notes"] = notes
        if a.json:
            print(json.dumps(summary))
        else:
            print("maml_predict, one %dx%dx%d example, %d-way model, best of %d rounds x %d calls"
                  % (c, h, w, k, a.rounds, a.iterations))
            for key, v in results.items():
                extra = ""
                if base is not None and not key.startswith("c-"):
                    extra = "  (+%.2f us over the C loop in the same process)" % (v - base)
                print("  %-14s %9.2f us/call%s" % (key, v, extra))
            for note in notes:
                print("  note:", note)
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
