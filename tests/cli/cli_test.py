#!/usr/bin/env python3
"""End-to-end tests of the `mamlpp` command (Python 3 standard library only).

Usage: cli_test.py --mamlpp BIN --work DIR [--shared-data DIR] TEST

Each TEST is one function below (test_<name>); CTest runs each as its own test (label "cli").
Everything is tiny (8-filter networks, a few steps, synthetic data) so the whole suite takes
about a minute on two cores. Only the omniglot_* tests read the shared data folder; they exit 77
(skipped) when it is missing. Tests that need a trained model use the one `fixture_model` leaves
in WORK/fixture (a CTest fixture).
"""
import argparse
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
import zipfile
import zlib

SKIP = 77
ARGS = None

# A tiny, fast training configuration on the built-in synthetic data.
TINY = ["--num-filters", "8", "--set", "synthetic_classes=200", "--val-tasks", "10", "--no-progress",
        "--threads", "1"]


class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def work(name):
    d = os.path.join(ARGS.work, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def run(args, rc=0, timeout=300, cwd=None):
    """Runs mamlpp with args; checks the exit code; returns the CompletedProcess."""
    p = subprocess.run([ARGS.mamlpp] + args, capture_output=True, text=True, timeout=timeout, cwd=cwd)
    if rc is not None and p.returncode != rc:
        raise Failure("mamlpp %s: exit code %d, expected %d\n--- stdout:\n%s\n--- stderr:\n%s"
                      % (" ".join(args), p.returncode, rc, p.stdout[-3000:], p.stderr[-3000:]))
    return p


def error_line(p, *must_contain):
    """The run failed with exactly one 'error:' line naming what it must name."""
    lines = [l for l in p.stderr.splitlines() if "error:" in l]
    check(len(lines) == 1, "expected exactly one error line on stderr, got:\n" + p.stderr)
    for m in must_contain:
        check(m in lines[0], "error line should mention %r:\n%s" % (m, lines[0]))
    return lines[0]


def write_png(path, width, height, channels, pixel_fn):
    """A valid 8-bit PNG (grey or RGB) with pixel_fn(x, y, c) -> 0..255."""
    rows = []
    for y in range(height):
        row = bytearray([0])
        for x in range(width):
            for c in range(channels):
                row.append(int(pixel_fn(x, y, c)) & 255)
        rows.append(bytes(row))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    colour = 0 if channels == 1 else 2
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


def glyph(k):
    """A different simple pattern per class k (stripes, blocks), plus per-example jitter."""
    def fn(x, y, c, j=0):
        if k % 3 == 0:
            return 255 if (x + j) % (4 + k) < 2 else 0
        if k % 3 == 1:
            return 255 if (y + j) % (4 + k) < 2 else 0
        return 255 if ((x // (3 + k)) + (y // (3 + k)) + j) % 2 else 0
    return fn


def read_state(folder):
    with open(os.path.join(folder, "state.json")) as f:
        return json.load(f)


def epoch_files(folder):
    return sorted(f for f in os.listdir(folder) if f.startswith("epoch_") and f.endswith(".maml"))


def read_csv(path):
    with open(path) as f:
        lines = [l.rstrip("\n") for l in f if l.strip()]
    head = lines[0].split(",")
    return [dict(zip(head, l.split(","))) for l in lines[1:]]


FIXTURE = lambda: os.path.join(ARGS.work, "fixture")


# ---------------------------------------------------------------------------------------------
# Help and keys
# ---------------------------------------------------------------------------------------------

def test_help():
    p = run(["--help"])
    for cmd in ["train", "eval", "predict", "adapt", "inspect", "demo", "bench"]:
        check(cmd in p.stdout, "top-level help should list " + cmd)
        q = run([cmd, "--help"])
        check("Usage:" in q.stdout and "Options:" in q.stdout, cmd + " --help")
    run(["--version"])
    p = run(["frobnicate"], rc=1)
    check("error" in p.stderr, "unknown subcommand must be an error")


def test_list_keys():
    p = run(["train", "--list-keys"])
    for k in ["n_way", "k_shot", "q_query", "batch_size", "inner_steps", "num_classes_per_set",
              "number_of_training_steps_per_iter", "first_order_to_second_order_epoch", "gpu_to_use"]:
        check(k in p.stdout, "--list-keys should list " + k)


def test_reference_config():
    d = work("reference_config")
    cfg = {
        "batch_size": 16, "image_height": 28, "image_width": 28, "image_channels": 1, "gpu_to_use": 0,
        "num_dataprovider_workers": 2, "max_models_to_save": 3, "dataset_name": "omniglot_dataset",
        "dataset_path": "omniglot_dataset", "reset_stored_paths": False, "experiment_name": "x",
        "train_seed": 0, "val_seed": 0, "train_val_test_split": [0.70918052988, 0.03080714725, 0.2606284658],
        "indexes_of_folders_indicating_class": [-3, -2], "sets_are_pre_split": False,
        "total_unique_tasks": 2000000, "multi_step_loss_num_epochs": 20, "load_into_memory": True,
        "total_epochs": 250, "total_iter_per_epoch": 500, "continue_from_epoch": -2, "max_pooling": True,
        "per_step_bn_statistics": True, "learnable_batch_norm_momentum": False,
        "enable_inner_loop_optimizable_bn_params": False, "dropout_rate_value": 0.0, "min_learning_rate": 0.00001,
        "meta_learning_rate": 0.001, "total_epochs_before_pause": 250,
        "learnable_per_layer_per_step_inner_loop_learning_rate": True, "init_inner_loop_learning_rate": 0.1,
        "first_order_to_second_order_epoch": -1, "norm_layer": "batch_norm", "cnn_num_filters": 64,
        "num_stages": 4, "number_of_training_steps_per_iter": 1, "number_of_evaluation_steps_per_iter": 1,
        "cnn_blocks_per_stage": 1, "num_classes_per_set": 20, "num_samples_per_class": 1,
        "num_target_samples": 1, "second_order": True, "use_multi_step_loss_optimization": True,
        "use_gdrive": False,
    }
    path = os.path.join(d, "ref.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    p = run(["train", "-c", path, "--print-config", "--k-shot", "5"])
    c = json.loads(p.stdout)
    expect = {"n_way": 20, "k_shot": 5, "q_query": 1, "batch_size": 16, "num_filters": 64, "inner_steps": 1,
              "eval_inner_steps": 1, "first_order_epochs": 0, "msl_epochs": 20, "epochs": 250,
              "iters_per_epoch": 500, "dataset": "omniglot", "keep_best": 3, "workers": 2, "split": "seeded",
              "meta_lr_min": 1e-05, "max_pool": True, "second_order": True, "per_step_bn": True}
    for k, v in expect.items():
        check(c[k] == v, "%s: expected %r, got %r" % (k, v, c[k]))
    check("gpu_to_use" in p.stderr and "note:" in p.stderr, "ignored keys should be noted on stderr")

    # A reference key with a value libmamlpp does not implement is refused, naming key and file.
    cfg2 = dict(cfg, dropout_rate_value=0.3)
    with open(path, "w") as f:
        json.dump(cfg2, f)
    error_line(run(["train", "-c", path, "--print-config"], rc=1), path, "dropout_rate_value")
    # Two keys for one setting that disagree.
    with open(path, "w") as f:
        json.dump({"n_way": 5, "num_classes_per_set": 20}, f)
    error_line(run(["train", "-c", path, "--print-config"], rc=1), path, "n_way", "num_classes_per_set")
    # A wrong type.
    with open(path, "w") as f:
        json.dump({"n_way": "five"}, f)
    error_line(run(["train", "-c", path, "--print-config"], rc=1), path, "n_way", "integer")
    # Invalid JSON names the file and the position.
    with open(path, "w") as f:
        f.write('{"n_way": 5,,}')
    error_line(run(["train", "-c", path, "--print-config"], rc=1), path, "line 1")
    # A value the library refuses (exit 1, names the field).
    p = run(["train", "--out", os.path.join(d, "bad"), "--n-way", "1"], rc=1)
    error_line(p, "n_way")
    check(not os.path.exists(os.path.join(d, "bad")), "a refused config must not create the output folder")


REFERENCE_CONFIGS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference_configs")


def test_reference_configs():
    """Every Omniglot and Mini-ImageNet config of the MAML++ reference's experiment_config/ folder
    (copies in tests/cli/reference_configs, see its README.md) is accepted as it is, and each of its
    keys lands where it should."""
    names = sorted(n for n in os.listdir(REFERENCE_CONFIGS) if n.endswith(".json"))
    check(len(names) == 36, "expected the reference's 36 configs, found %d" % len(names))
    check("omniglot_maml++-omniglot_1_8_0.1_64_5_0.json" in names, "the config README.md names is missing")
    for name in names:
        path = os.path.join(REFERENCE_CONFIGS, name)
        with open(path) as f:
            ref = json.load(f)
        p = run(["train", "-c", path, "--print-config"])
        c = json.loads(p.stdout)
        omniglot = "omniglot" in ref["dataset_name"]
        expect = {
            "n_way": ref["num_classes_per_set"], "k_shot": ref["num_samples_per_class"],
            "q_query": ref["num_target_samples"], "batch_size": ref["batch_size"],
            "image_height": ref["image_height"], "image_width": ref["image_width"],
            "image_channels": ref["image_channels"], "num_filters": ref["cnn_num_filters"],
            "num_stages": ref["num_stages"], "inner_steps": ref["number_of_training_steps_per_iter"],
            "eval_inner_steps": ref["number_of_evaluation_steps_per_iter"],
            "learn_inner_lr": ref["learnable_per_layer_per_step_inner_loop_learning_rate"],
            "per_step_bn": ref["per_step_bn_statistics"],
            "multi_step_loss": ref["use_multi_step_loss_optimization"],
            "msl_epochs": ref["multi_step_loss_num_epochs"], "second_order": ref["second_order"],
            "first_order_epochs": max(0, ref["first_order_to_second_order_epoch"] + 1),
            "epochs": ref["total_epochs"], "iters_per_epoch": ref["total_iter_per_epoch"],
            "meta_lr": ref["meta_learning_rate"], "meta_lr_min": ref["min_learning_rate"],
            "max_pool": ref["max_pooling"], "keep_best": ref["max_models_to_save"],
            "workers": ref["num_dataprovider_workers"], "train_seed": ref["train_seed"],
            "val_seed": ref["val_seed"], "val_tasks": ref["num_evaluation_tasks"],
            "test_tasks": ref["num_evaluation_tasks"], "dataset": "omniglot" if omniglot else "folder",
            "split": "pre_split" if ref["sets_are_pre_split"] else "seeded",
            "split_fractions": ref["train_val_test_split"][:2],
        }
        for k, v in expect.items():
            got = c[k]
            same = abs(got - v) < 1e-6 * max(1.0, abs(v)) if isinstance(v, float) else got == v
            if isinstance(v, list):  # the first two fractions count (test is the rest)
                same = len(got) >= 2 and all(abs(a - b) < 1e-9 for a, b in zip(got[:2], v))
            check(same, "%s: %s: expected %r, got %r" % (name, k, v, got))
        check(abs(c["inner_lr"] - ref["init_inner_loop_learning_rate"]) < 1e-7, name + ": inner_lr")
        check(c["data_dir"].endswith(ref["dataset_path"]), name + ": data_dir")
        # Every key that does nothing here is named in the one note line.
        notes = [l for l in p.stderr.splitlines() if l.startswith("note: ignored")]
        check(len(notes) == 1, name + ": expected one note on ignored keys:\n" + p.stderr)
        for k in ("gpu_to_use", "experiment_name", "continue_from_epoch", "total_epochs_before_pause",
                  "indexes_of_folders_indicating_class", "minimum_per_task_contribution"):
            check(k in notes[0], "%s: ignored key %s not noted: %s" % (name, k, notes[0]))
        for k in ("load_from_npz_files", "train_in_stages"):
            check((k in ref) == (k in notes[0]), "%s: %s noted iff present: %s" % (name, k, notes[0]))
    # train_in_stages is only accepted as false (what libmamlpp does).
    d = work("reference_configs")
    with open(os.path.join(REFERENCE_CONFIGS, names[0])) as f:
        ref = json.load(f)
    ref["train_in_stages"] = True
    path = os.path.join(d, "staged.json")
    with open(path, "w") as f:
        json.dump(ref, f)
    error_line(run(["train", "-c", path, "--print-config"], rc=1), path, "train_in_stages")


def test_error_unknown_key():
    d = work("error_unknown_key")
    path = os.path.join(d, "cfg.json")
    with open(path, "w") as f:
        json.dump({"n_wya": 5, "k_shot": 1}, f)
    p = run(["train", "-c", path, "--out", os.path.join(d, "out")], rc=1)
    error_line(p, path, "'n_wya'", "did you mean 'n_way'")
    check(not os.path.exists(os.path.join(d, "out")), "no output folder after a config error")
    p = run(["train", "--set", "inner_lrr=0.1", "--out", os.path.join(d, "out")], rc=1)
    error_line(p, "command line", "inner_lrr", "inner_lr")


# ---------------------------------------------------------------------------------------------
# Training, checkpoints, metrics, resume
# ---------------------------------------------------------------------------------------------

def test_fixture_model():
    """Trains the small model the eval/predict/inspect tests use (2 epochs x 3 steps)."""
    d = os.path.join(ARGS.work, "fixture")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(ARGS.work, exist_ok=True)
    run(["train", "--out", d, "--epochs", "3", "--iters-per-epoch", "3", "--q-query", "2", "--keep-best", "2",
         "--batch-size", "4"] + TINY)
    s = read_state(d)
    check(s["epochs_completed"] == 3 and len(s["best"]) == 2, "fixture state: " + json.dumps(s)[:300])


def test_head_only():
    """adapt_last_layers = 1 (ANIL) from the command line: the run trains, the file keeps the field,
    and inspect shows a head-only inner loop whose rate table has the head's two rows."""
    d = work("head_only")
    out = os.path.join(d, "run")
    run(["train", "--out", out, "--epochs", "1", "--iters-per-epoch", "2", "--batch-size", "2",
         "--set", "adapt_last_layers=1"] + TINY)
    js = os.path.join(d, "inspect.json")
    p = run(["inspect", "--model", os.path.join(out, "latest.maml"), "--json", js])
    check("adapting the head only (ANIL)" in p.stdout, "inspect summary:\n" + p.stdout)
    with open(js) as f:
        j = json.load(f)
    check([r["tensor"] for r in j["inner_lrs"]] == ["backbone.head.weight", "backbone.head.bias"],
          "LSLR rows of a head-only model: %r" % j["inner_lrs"])
    # More layers than the model has: a usage error naming the key.
    p = run(["train", "--out", os.path.join(d, "bad"), "--epochs", "1", "--iters-per-epoch", "1",
             "--set", "adapt_last_layers=6"] + TINY, rc=1)
    check("adapt_last_layers" in p.stderr, "error message:\n" + p.stderr)


def test_sinusoid():
    """--dataset sinusoid (1.3): an MLP regression model trains from the shipped config, eval
    reports MSE with a 95% CI (JSON has no accuracy), and mismatched models are refused."""
    d = work("sinusoid")
    out = os.path.join(d, "run")
    # The MAML paper's setup (one inner step): it learns fastest per step, which keeps this short.
    config = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "configs", "sinusoid-maml.json")
    p = run(["train", "--config", config, "--out", out, "--epochs", "2", "--iters-per-epoch", "200",
             "--val-tasks", "10"])
    check("val mse" in p.stdout and "epoch 2/2" in p.stdout, "train summary:\n" + p.stdout)
    js = os.path.join(d, "eval.json")
    p = run(["eval", "--checkpoints", out, "--tasks", "50", "--json", js])
    check("mse " in p.stdout and "95% CI" in p.stdout, "eval summary:\n" + p.stdout)
    with open(js) as f:
        j = json.load(f)
    check(j["task_kind"] == "regression" and j["accuracy"] is None and len(j["per_task_loss"]) == 50,
          "eval json: %r" % {k: j[k] for k in ("task_kind", "accuracy", "loss")})
    # Meta-training helps: on the same 50 test tasks (paired), 400 steps against 1.
    one = os.path.join(d, "one_step")
    run(["train", "--config", config, "--out", one, "--epochs", "1", "--iters-per-epoch", "1", "--val-tasks", "0"])
    js1 = os.path.join(d, "eval1.json")
    run(["eval", "--checkpoints", one, "--tasks", "50", "--json", js1])
    with open(js1) as f:
        j1 = json.load(f)
    check(0.0 < j["loss"] < 0.8 * j1["loss"], "post-adaptation MSE after 400 steps %r, after 1 step %r" %
          (j["loss"], j1["loss"]))
    p = run(["inspect", "--model", os.path.join(out, "latest.maml")])
    check("regression (1 output), MLP 1 -> 40 -> 40 -> head, relu" in p.stdout and "layer0.linear.weight" in p.stdout,
          "inspect:\n" + p.stdout)
    # A validation whose adaptation diverges (many evaluation steps at a large rate) is reported and
    # ranks last; training goes on.
    p = run(["train", "--config", config, "--out", os.path.join(d, "diverging"), "--epochs", "2",
             "--iters-per-epoch", "5", "--val-tasks", "5", "--set", "inner_lr=0.5", "--set", "eval_inner_steps=1000"])
    check("val diverged on 5 of 5 tasks" in p.stdout and "(validation diverged)" in p.stdout and "done:" in p.stdout,
          "diverging validation:\n" + p.stdout)
    # Images for an MLP model, vectors for a conv model: usage errors naming the fields.
    p = run(["train", "--out", os.path.join(d, "bad1"), "--epochs", "1", "--iters-per-epoch", "1",
             "--set", "backbone=mlp"] + TINY, rc=1)
    check("backbone=conv" in p.stderr, "images for an MLP:\n" + p.stderr)
    p = run(["train", "--out", os.path.join(d, "bad2"), "--dataset", "sinusoid", "--epochs", "1",
             "--iters-per-epoch", "1"], rc=1)
    check("backbone=mlp" in p.stderr and "task_kind=regression" in p.stderr, "sinusoid for a conv model:\n" + p.stderr)
    p = run(["train", "--out", os.path.join(d, "bad3"), "--config", config, "--set", "hidden_sizes=40,40,40",
             "--epochs", "1", "--iters-per-epoch", "1"], rc=1)
    check("hidden_sizes[2]" in p.stderr, "hidden sizes past hidden_layers:\n" + p.stderr)


def write_text(path, text):
    with open(path, "w") as f:
        f.write(text)


def test_csv_dataset():
    """--dataset csv (1.3): a classification table and a regression table (tasks grouped by a
    column) train MLP models; predict takes CSV rows; ragged, non-numeric and too-small tables are
    refused naming the file and line."""
    import random
    d = work("csv_dataset")
    rng = random.Random(3)
    # Classification: 12 classes of 6 rows, 3 features around a class centre.
    rows = ["f0,f1,f2,label"]
    for c in range(12):
        centre = [rng.uniform(-3, 3) for _ in range(3)]
        for _ in range(6):
            rows.append(",".join("%.4f" % (v + rng.gauss(0, 0.3)) for v in centre) + ",class%02d" % c)
    cls = os.path.join(d, "classes.csv")
    write_text(cls, "\n".join(rows) + "\n")
    mlp = ["--set", "backbone=mlp", "--set", "input_features=3", "--set", "hidden_sizes=16,16"]
    out = os.path.join(d, "cls_run")
    p = run(["train", "--dataset", "csv", "--data-dir", cls, "--out", out, "--n-way", "3", "--k-shot", "1",
             "--q-query", "2", "--epochs", "2", "--iters-per-epoch", "5", "--batch-size", "2", "--val-tasks", "4",
             "--set", "split_fractions=[0.5,0.25]"] + mlp)
    check("epoch 2/2" in p.stdout and "acc" in p.stdout, "csv classification training:\n" + p.stdout)
    # predict: support rows with labels, query rows laid out the same (scored) or features alone.
    support = os.path.join(d, "support.csv")
    write_text(support, "\n".join(rows[:1] + [rows[1], rows[7], rows[13]]) + "\n")
    query = os.path.join(d, "query.csv")
    write_text(query, "\n".join(rows[:1] + [rows[2], rows[8], rows[14]]) + "\n")
    p = run(["predict", "--model", os.path.join(out, "latest.maml"), "--support-csv", support, "--query-csv", query])
    check("# query accuracy" in p.stdout and p.stdout.count(" -> class") == 3, "csv predict:\n" + p.stdout)
    features = os.path.join(d, "features.csv")
    write_text(features, "f0,f1,f2\n" + "\n".join(r.rsplit(",", 1)[0] for r in [rows[2], rows[8]]) + "\n")
    p = run(["predict", "--model", os.path.join(out, "latest.maml"), "--support-csv", support, "--query-csv",
             features, "--json"])
    lines = [json.loads(x) for x in p.stdout.splitlines()]
    check(len(lines) == 2 and all(abs(sum(x["probabilities"].values()) - 1) < 1e-4 for x in lines), p.stdout)

    # Regression: tasks y = a*x + b grouped by a user column, 8 users of 12 rows.
    rows = ["user,x,y"]
    for u in range(8):
        a, b = rng.uniform(-2, 2), rng.uniform(-1, 1)
        for _ in range(12):
            x = rng.uniform(-1, 1)
            rows.append("u%d,%.4f,%.4f" % (u, x, a * x + b))
    reg = os.path.join(d, "users.csv")
    write_text(reg, "\n".join(rows) + "\n")
    out = os.path.join(d, "reg_run")
    reg_model = mlp[:2] + ["--set", "input_features=1", "--set", "hidden_sizes=16,16", "--set",
                           "task_kind=regression"]
    p = run(["train", "--dataset", "csv", "--data-dir", reg, "--set", "csv_task=user", "--out", out, "--k-shot", "4",
             "--q-query", "4", "--epochs", "2", "--iters-per-epoch", "5", "--batch-size", "2", "--val-tasks", "4",
             "--set", "split_fractions=[0.5,0.25]"] + reg_model)
    check("val mse" in p.stdout, "csv regression training:\n" + p.stdout)
    p = run(["eval", "--checkpoints", out, "--tasks", "6"])
    check("mse " in p.stdout, "csv regression eval:\n" + p.stdout)
    support = os.path.join(d, "reg_support.csv")
    write_text(support, "x,y\n" + "\n".join(r.split(",", 1)[1] for r in rows[1:5]) + "\n")
    xs = os.path.join(d, "xs.csv")
    write_text(xs, "x\n0.5\n-0.5\n")
    p = run(["predict", "--model", os.path.join(out, "latest.maml"), "--support-csv", support, "--query-csv", xs,
             "--json"])
    values = [json.loads(x)["values"] for x in p.stdout.splitlines()]
    check(len(values) == 2 and all(len(v) == 1 for v in values), "regression predict:\n" + p.stdout)
    p0 = run(["predict", "--model", os.path.join(out, "latest.maml"), "--support-csv", support, "--query-csv", xs,
              "--json", "--inner-steps", "0"])
    check([json.loads(x)["values"] for x in p0.stdout.splitlines()] != values, "0 steps must differ from adapted")
    p = run(["train", "--dataset", "csv", "--data-dir", reg, "--set", "csv_task=user", "--out", os.path.join(d, "bad_reg"),
             "--k-shot", "10", "--q-query", "4", "--epochs", "1", "--iters-per-epoch", "1", "--batch-size", "2",
             "--set", "split_fractions=[0.5,0.25]"] + reg_model, rc=2)
    check("has 12 rows, fewer than k_shot + q_query = 14" in p.stderr, "too few rows per task:\n" + p.stderr)
    p = run(["train", "--dataset", "csv", "--data-dir", reg, "--out", os.path.join(d, "bad_reg2"), "--epochs", "1",
             "--iters-per-epoch", "1"] + reg_model, rc=1)
    check("csv_task" in p.stderr, "a regression table without a task column:\n" + p.stderr)

    # Bad tables: a data error (exit 2) naming the file and line.
    base = ["train", "--dataset", "csv", "--out", os.path.join(d, "bad"), "--q-query", "2", "--epochs", "1",
            "--iters-per-epoch", "1", "--batch-size", "2", "--val-tasks", "0",
            "--set", "split_fractions=[0.5,0.25]"] + mlp
    bad = os.path.join(d, "ragged.csv")
    write_text(bad, "f0,f1,f2,label\n1,2,3,a\n1,2,a\n")
    p = run(base + ["--data-dir", bad, "--n-way", "3"], rc=2)
    check("ragged.csv, line 3" in p.stderr, "ragged rows:\n" + p.stderr)
    write_text(bad, "f0,f1,f2,label\n1,2,3,a\n1,x,3,b\n")
    p = run(base + ["--data-dir", bad, "--n-way", "3"], rc=2)
    check("line 3" in p.stderr and "'x' is not a number" in p.stderr, "non-numeric cell:\n" + p.stderr)
    p = run(base + ["--data-dir", cls, "--n-way", "7"], rc=2)
    check("fewer than n_way = 7" in p.stderr, "too few classes:\n" + p.stderr)
    p = run(base + ["--data-dir", cls, "--n-way", "3", "--k-shot", "5"], rc=2)
    check("fewer than k_shot + q_query" in p.stderr, "too few rows:\n" + p.stderr)
    p = run([x if x != "input_features=3" else "input_features=4" for x in base] + ["--data-dir", cls, "--n-way", "3"],
            rc=2)
    check("set input_features=3" in p.stderr, "feature count:\n" + p.stderr)


def test_train_metrics_and_pruning():
    d = work("train_metrics")
    out = os.path.join(d, "run")
    csv = os.path.join(d, "metrics.csv")
    p = run(["train", "--out", out, "--epochs", "4", "--iters-per-epoch", "3", "--batch-size", "4",
             "--keep-best", "1", "--metrics", csv] + TINY)
    check("epoch 4/4" in p.stdout and "done:" in p.stdout, "train summary:\n" + p.stdout)
    check("data wait:" in p.stdout, "the total data wait must be reported")
    rows = read_csv(csv)
    check([int(r["epoch"]) for r in rows] == [1, 2, 3, 4], "one metrics row per epoch: %r" % rows)
    for col in ["step", "train_loss", "train_acc", "val_loss", "val_acc", "meta_lr", "seconds", "wait_seconds"]:
        check(col in rows[0], "metrics column " + col)
    check([int(r["step"]) for r in rows] == [3, 6, 9, 12], "steps per epoch")
    for r in rows:
        check(0.0 <= float(r["val_acc"]) <= 1.0 and float(r["train_loss"]) > 0, "metric values: %r" % r)
    s = read_state(out)
    check(s["epochs_completed"] == 4 and s["step"] == 12, "state counters")
    check(len(s["best"]) == 1, "keep_best 1 keeps one best entry")
    files = epoch_files(out)
    keep = {s["best"][0]["file"], "epoch_0004.maml"}
    check(set(files) == keep, "pruned to the best and the latest epoch: %r vs %r" % (files, keep))
    check(os.path.exists(os.path.join(out, "latest.maml")), "latest.maml")
    check(s["config"]["keep_best"] == 1 and s["config"]["epochs"] == 4, "state.json holds the settings")
    check(not [f for f in os.listdir(out) if ".tmp." in f], "no temporary files left")
    # The same folder again without --resume is refused, naming state.json.
    error_line(run(["train", "--out", out] + TINY, rc=1), out, "--resume")

    # JSON lines, by extension.
    out2 = os.path.join(d, "run2")
    jl = os.path.join(d, "metrics.jsonl")
    run(["train", "--out", out2, "--epochs", "2", "--iters-per-epoch", "2", "--batch-size", "2",
         "--metrics", jl] + TINY)
    with open(jl) as f:
        lines = [json.loads(l) for l in f if l.strip()]
    check([l["epoch"] for l in lines] == [1, 2], "jsonl rows")
    check(list(lines[0].keys())[:4] == ["epoch", "step", "train_loss", "train_acc"], "jsonl column order")
    # Metrics of an unknown extension are refused before anything runs.
    error_line(run(["train", "--out", os.path.join(d, "run3"), "--metrics", os.path.join(d, "m.txt")] + TINY, rc=1),
               "m.txt")


def test_resume_after_kill():
    d = work("resume")
    common = ["--epochs", "3", "--iters-per-epoch", "8", "--batch-size", "4", "--seed", "7"] + TINY
    ref = os.path.join(d, "uninterrupted")
    run(["train", "--out", ref, "--metrics", os.path.join(d, "ref.csv")] + common)

    out = os.path.join(d, "killed")
    csv = os.path.join(d, "killed.csv")
    proc = subprocess.Popen([ARGS.mamlpp, "train", "--out", out, "--metrics", csv] + common,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first = os.path.join(out, "epoch_0001.maml")
    deadline = time.time() + 120
    while not os.path.exists(first) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    check(os.path.exists(first), "the first checkpoint never appeared")
    time.sleep(0.3)  # well inside epoch 2
    still_running = proc.poll() is None
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    check(still_running, "the run finished before it could be killed; make epochs longer")
    s = read_state(out)
    check(s["epochs_completed"] >= 1, "state after the kill: %r" % s["epochs_completed"])
    killed_at = s["epochs_completed"]

    p = run(["train", "--resume", out])
    check("resume: epoch %d of 3 completed" % killed_at in p.stdout, "resume message:\n" + p.stdout)
    s = read_state(out)
    check(s["epochs_completed"] == 3 and s["step"] == 24, "resumed run finished: %r" % s["epochs_completed"])
    rows = read_csv(csv)
    check([int(r["epoch"]) for r in rows] == [1, 2, 3], "metrics epochs continue without gaps or repeats: %r"
          % [r["epoch"] for r in rows])
    check(not [f for f in os.listdir(out) if ".tmp." in f], "no temporary files left")
    # Same seeds, same data stream, deterministic CPU library: the same final model, byte for byte.
    with open(os.path.join(ref, "latest.maml"), "rb") as a, open(os.path.join(out, "latest.maml"), "rb") as b:
        check(a.read() == b.read(), "the resumed run's final model differs from the uninterrupted run's")
    ref_rows = read_csv(os.path.join(d, "ref.csv"))
    for a, b in zip(ref_rows, rows):
        check(a["val_acc"] == b["val_acc"] and a["train_loss"] == b["train_loss"], "metrics differ: %r %r" % (a, b))
    # A finished run resumes to "nothing to do".
    p = run(["train", "--resume", out])
    check("nothing to do" in p.stdout, "resume of a finished run")
    # Resuming may not change the model or the data.
    error_line(run(["train", "--resume", out, "--n-way", "3"], rc=1), "n_way", "resum")


def test_numerical_failure():
    d = work("numerical")
    root = os.path.join(d, "data")
    make_folder(root, ["c%02d" % k for k in range(24)], 3)
    out = os.path.join(d, "run")
    # Finite pixels so large (mean -3e38) that the first convolution overflows float32.
    p = run(["train", "--dataset", "folder", "--data-dir", root, "--image-channels", "1", "--out", out,
             "--epochs", "2", "--iters-per-epoch", "2", "--set", "mean=[-3e38]", "--set", "std=[1]",
             "--set", "split_fractions=[0.5,0.25]"] + TINY,
            rc=4)
    error_line(p, "non-finite")
    check(not epoch_files(out) and not os.path.exists(os.path.join(out, "latest.maml")),
          "no checkpoint after a non-finite first step")
    # An absurd inner rate is refused before anything runs, naming the field and its range.
    p = run(["train", "--out", os.path.join(d, "run2"), "--inner-lr", "1e30"] + TINY, rc=1)
    error_line(p, "inner_lr", "[0, 100]")


# ---------------------------------------------------------------------------------------------
# Data errors
# ---------------------------------------------------------------------------------------------

def test_error_missing_archive():
    d = work("missing_archive")
    out = os.path.join(d, "out")
    p = run(["train", "--dataset", "omniglot", "--data-dir", d, "--out", out] + TINY, rc=2)
    error_line(p, os.path.join(d, "images_background.zip"))
    check(not os.path.exists(os.path.join(out, "state.json")), "no run state after a data error")


def make_omniglot_zip(path, top, alphabets=2, characters=3, drawers=4):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        tmp = path + ".png"
        for a in range(alphabets):
            for c in range(characters):
                for k in range(drawers):
                    write_png(tmp, 105, 105, 1, lambda x, y, ch: 255 if (x * (c + 1) + y * (a + 2) + k) % 7 else 0)
                    z.write(tmp, "%s/Alpha%d/character%02d/%04d_%02d.png" % (top, a, c + 1, a * 10 + c + 1, k + 1))
        os.remove(tmp)


def test_error_corrupt_archive():
    d = work("corrupt_archive")
    good = os.path.join(d, "good.zip")
    src = os.path.join(ARGS.shared_data or "", "omniglot", "small", "images_background_small1.zip")
    if os.path.exists(src):
        shutil.copy(src, good)
    else:
        make_omniglot_zip(good, "images_background")
    bad = os.path.join(d, "images_background.zip")
    with open(good, "rb") as f:
        data = f.read()
    with open(bad, "wb") as f:
        f.write(data[: len(data) // 2])  # truncated: the central directory is gone
    out = os.path.join(d, "out")
    p = run(["train", "--dataset", "omniglot", "--archives", bad, "--out", out] + TINY, rc=2)
    error_line(p, bad)
    check(not os.path.exists(os.path.join(out, "state.json")), "no run state after a data error")
    # Garbage that is not a zip at all.
    with open(bad, "wb") as f:
        f.write(b"this is not a zip archive" * 10)
    error_line(run(["train", "--dataset", "omniglot", "--archives", bad, "--out", out] + TINY, rc=2), bad)


def make_folder(root, classes, images, size=28, channels=1):
    for k, name in enumerate(classes):
        os.makedirs(os.path.join(root, name), exist_ok=True)
        for i in range(images if isinstance(images, int) else images[k]):
            fn = glyph(k)
            write_png(os.path.join(root, name, "img%02d.png" % i), size, size, channels,
                      lambda x, y, c, fn=fn, i=i: fn(x, y, c, i % 2))


def test_error_too_few_classes():
    d = work("too_few_classes")
    root = os.path.join(d, "data")
    make_folder(os.path.join(root, "train"), ["a", "b", "c"], 4)
    make_folder(os.path.join(root, "test"), ["d", "e", "f"], 4)
    out = os.path.join(d, "out")
    p = run(["train", "--dataset", "folder", "--data-dir", root, "--image-channels", "1", "--out", out,
             "--val-tasks", "0", "--num-filters", "8", "--no-progress"], rc=2)
    error_line(p, "train", "fewer than n_way = 5")
    check(not os.path.exists(os.path.join(out, "state.json")), "no run state after a data error")


def test_error_typos():
    """Mistyped commands, options, run folders and data paths say what is wrong and what was meant."""
    d = work("typos")
    # A mistyped command: named, with the closest command.
    line = error_line(run(["trian", "--epochs", "2"], rc=1), "unknown command 'trian'", "did you mean 'train'")
    check("subcommand is required" not in line, line)
    error_line(run(["evla"], rc=1), "did you mean 'eval'")
    # A mistyped option: named, with the closest option of that command (as config keys are).
    line = error_line(run(["train", "--epoch", "2", "--print-config"], rc=1), "unknown option '--epoch'",
                      "did you mean '--epochs'")
    check("were not expected" not in line, line)
    error_line(run(["train", "--num-filter=8", "--print-config"], rc=1), "'--num-filter'", "'--num-filters'")
    error_line(run(["eval", "--chekpoints", d], rc=1), "'--chekpoints'", "'--checkpoints'")
    # eval --checkpoints on a folder that is not a run talks about --checkpoints, not --resume.
    for folder in (d, os.path.join(d, "missing")):
        line = error_line(run(["eval", "--checkpoints", folder], rc=3), folder, "--checkpoints", "mamlpp train --out")
        check("--resume" not in line, line)
    # A mistyped Omniglot folder: the path does not exist (no advice to download again).
    typo = os.path.join(d, "omniglott")
    line = error_line(run(["train", "--dataset", "omniglot", "--data-dir", typo, "--out", os.path.join(d, "o")] + TINY,
                          rc=2), typo, "no such folder", "images_background.zip")
    check("download" not in line, line)
    line = error_line(run(["train", "--dataset", "omniglot", "--archives", typo + ".zip", "--out",
                           os.path.join(d, "o")] + TINY, rc=2), typo + ".zip", "not found")
    check("again" not in line, line)


def test_error_small_folder_split():
    """A folder too small for the default split fractions names split_fractions and a value that works."""
    d = work("small_folder_split")
    root = os.path.join(d, "data")
    make_folder(root, ["c%02d" % i for i in range(20)], 4)
    out = os.path.join(d, "out")
    common = ["train", "--dataset", "folder", "--data-dir", root, "--image-channels", "1", "--num-filters", "8",
              "--epochs", "1", "--iters-per-epoch", "1", "--batch-size", "2", "--val-tasks", "2", "--no-progress",
              "--threads", "1"]
    line = error_line(run(common + ["--out", out], rc=2), "split 'val'", "0 of the 20 classes", "split_fractions",
                      "--val-tasks 0")
    check(not os.path.exists(os.path.join(out, "state.json")), "no run state after a data error")
    # The suggested fix works as written.
    fix = line.split("--set ", 1)[1].split()[0].rstrip(",;")
    check(fix.startswith("split_fractions=["), line)
    p = run(common + ["--out", out, "--set", fix])
    check("val 5 classes" in p.stdout, p.stdout)


def test_error_too_few_images():
    d = work("too_few_images")
    root = os.path.join(d, "data")
    make_folder(os.path.join(root, "train"), ["a", "b", "c", "d", "e", "f"], [4, 4, 4, 1, 4, 4])
    out = os.path.join(d, "out")
    p = run(["train", "--dataset", "folder", "--data-dir", root, "--image-channels", "1", "--out", out,
             "--split", "pre_split", "--val-tasks", "0", "--k-shot", "1", "--q-query", "1", "--num-filters", "8",
             "--no-progress"], rc=2)
    error_line(p, "'d'", "k_shot + q_query")


def test_folder_dataset():
    """A small RGB image folder, one root split by class with a seeded split, trains and evaluates."""
    d = work("folder")
    root = os.path.join(d, "data")
    make_folder(root, ["c%02d" % i for i in range(30)], 4, size=20, channels=3)
    out = os.path.join(d, "out")
    p = run(["train", "--dataset", "folder", "--data-dir", root, "--image-channels", "3", "--image-height", "16",
             "--image-width", "16", "--set", "mean=[0.5,0.5,0.5]", "--set", "std=[0.25,0.25,0.25]",
             "--set", "split_fractions=[0.6,0.2]", "--out", out, "--epochs", "1", "--iters-per-epoch", "2",
             "--batch-size", "2", "--val-tasks", "4", "--num-filters", "8", "--no-progress"])
    check("train 18 classes" in p.stdout, "seeded split of 30 classes at 0.6:\n" + p.stdout)
    p = run(["eval", "--checkpoints", out, "--tasks", "5"])
    check("accuracy" in p.stdout, p.stdout)


# ---------------------------------------------------------------------------------------------
# eval, predict, adapt, inspect (on the fixture model)
# ---------------------------------------------------------------------------------------------

def test_eval():
    d = work("eval")
    model = os.path.join(FIXTURE(), "latest.maml")
    js = os.path.join(d, "eval.json")
    p = run(["eval", "--model", model, "--tasks", "30", "--json", js])
    check("accuracy" in p.stdout and "+-" in p.stdout and "95% CI" in p.stdout, p.stdout)
    with open(js) as f:
        r = json.load(f)
    check(r["tasks"] == 30 and len(r["per_task_accuracy"]) == 30, "json tasks")
    accs = r["per_task_accuracy"]
    mean = sum(accs) / len(accs)
    std = (sum((a - mean) ** 2 for a in accs) / len(accs)) ** 0.5
    check(abs(r["accuracy"] - mean) < 1e-9 and abs(r["accuracy_ci95"] - 1.96 * std / 30 ** 0.5) < 1e-9,
          "CI = 1.96 std / sqrt(N)")
    check(r["q_query"] == 2, "eval takes the run's settings from state.json beside the model")
    # The same tasks again give the same numbers (fixed tasks).
    js2 = os.path.join(d, "eval2.json")
    run(["eval", "--model", model, "--tasks", "30", "--json", js2, "--set", "eval_batch_size=7"])
    with open(js2) as f:
        check(json.load(f)["per_task_accuracy"] == accs, "fixed tasks, whatever the batch size")
    # Ensemble of the best 2 checkpoints.
    p = run(["eval", "--checkpoints", FIXTURE(), "--ensemble", "2", "--tasks", "10"])
    check("ensemble" in p.stdout and p.stdout.count(".maml") == 2, p.stdout)
    # Eval may not change the model's shape.
    error_line(run(["eval", "--model", model, "--set", "n_way=3"], rc=1), "n_way")


def make_support(d, n=5, channels=1, size=28):
    files = []
    for k in range(n):
        path = os.path.join(d, "s%d.png" % k)
        write_png(path, size, size, channels, glyph(k))
        files.append(("label%d" % k, path))
    return files


def test_predict():
    d = work("predict")
    model = os.path.join(FIXTURE(), "latest.maml")
    support = make_support(d)
    queries = []
    for k in range(3):
        q = os.path.join(d, "q%d.png" % k)
        write_png(q, 40, 40, 3, lambda x, y, c, k=k: glyph(k)(x * 28 // 40, y * 28 // 40, c, 1))  # RGB, resized
        queries.append(q)
    sup_args = ["%s:%s" % (l, p) for l, p in support]
    p = run(["predict", "--model", model, "--support"] + sup_args + ["--query"] + queries + ["--json"])
    lines = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
    check(len(lines) == 3, "one line per query:\n" + p.stdout)
    for q, l in zip(queries, lines):
        check(l["file"] == q and l["label"] in {s[0] for s in support}, "prediction %r" % l)
        probs = l["probabilities"]
        check(len(probs) == 5 and abs(sum(probs.values()) - 1) < 1e-6, "probabilities sum to 1: %r" % probs)
        check(max(probs, key=probs.get) == l["label"], "label = argmax")
    p = run(["predict", "--model", model, "--support"] + sup_args + ["--query"] + queries)
    for q in queries:
        check(q in p.stdout and "%" in p.stdout, "text output names " + q)
    # --support-dir
    sd = os.path.join(d, "support_dir")
    for label, path in support:
        os.makedirs(os.path.join(sd, label))
        shutil.copy(path, os.path.join(sd, label, "a.png"))
    p = run(["predict", "--model", model, "--support-dir", sd, "--query", queries[0], "--json"])
    check(json.loads(p.stdout.strip())["file"] == queries[0], "support-dir prediction")
    # adapt reports the support fit and writes nothing.
    before = set(os.listdir(d))
    p = run(["adapt", "--model", model, "--support"] + sup_args)
    check("support fit" in p.stdout and "/5 correct" in p.stdout, p.stdout)
    check(set(os.listdir(d)) == before, "adapt writes nothing")
    # Wrong number of labels for the model.
    error_line(run(["predict", "--model", model, "--support"] + sup_args[:3] + ["--query", queries[0]], rc=1),
               "5-way", "3 label")


def test_error_bad_png():
    d = work("bad_png")
    model = os.path.join(FIXTURE(), "latest.maml")
    support = ["%s:%s" % s for s in make_support(d)]
    bad = os.path.join(d, "broken.png")
    with open(os.path.join(d, "s0.png"), "rb") as f:
        data = f.read()
    with open(bad, "wb") as f:
        f.write(data[:40])  # a PNG signature and a cut-off header
    error_line(run(["predict", "--model", model, "--support"] + support + ["--query", bad], rc=2), bad)
    text = os.path.join(d, "notes.png")
    with open(text, "w") as f:
        f.write("not an image\n")
    error_line(run(["predict", "--model", model, "--support"] + support + ["--query", text], rc=2), text)
    missing = os.path.join(d, "missing.png")
    error_line(run(["predict", "--model", model, "--support"] + support + ["--query", missing], rc=2), missing)


def test_error_corrupt_model():
    d = work("corrupt_model")
    with open(os.path.join(FIXTURE(), "latest.maml"), "rb") as f:
        data = f.read()
    truncated = os.path.join(d, "truncated.maml")
    with open(truncated, "wb") as f:
        f.write(data[: len(data) // 2])
    text = os.path.join(d, "text.maml")
    with open(text, "w") as f:
        f.write("hello\n")
    missing = os.path.join(d, "missing.maml")
    support = ["%s:%s" % s for s in make_support(d)]
    for path in [truncated, text, missing]:
        error_line(run(["inspect", "--model", path], rc=3), path)
        error_line(run(["eval", "--model", path, "--tasks", "2"], rc=3), path)
        error_line(run(["predict", "--model", path, "--support"] + support + ["--query", support[0].split(":")[1]],
                       rc=3), path)
    # A run folder with a damaged state.json cannot be resumed (exit 3, names it).
    run_dir = os.path.join(d, "run")
    shutil.copytree(FIXTURE(), run_dir)
    with open(os.path.join(run_dir, "state.json"), "w") as f:
        f.write("{ broken")
    error_line(run(["train", "--resume", run_dir], rc=3), os.path.join(run_dir, "state.json"))


def test_inspect():
    d = work("inspect")
    model = os.path.join(FIXTURE(), "latest.maml")
    svg = os.path.join(d, "lslr.svg")
    js = os.path.join(d, "inspect.json")
    p = run(["inspect", "--model", model, "--svg", svg, "--json", js])
    check("Learned inner learning rates" in p.stdout and "Batch norm" in p.stdout, p.stdout)
    names = ["stage%d.conv.weight" % s for s in range(4)] + ["stage%d.conv.bias" % s for s in range(4)] + \
            ["head.weight", "head.bias"]
    for n in names:
        check(n in p.stdout, "table row " + n)
    check(p.stdout.count("step ") >= 5, "a column per inner step")
    root = ET.parse(svg).getroot()
    ns = "{http://www.w3.org/2000/svg}"
    check(root.tag == ns + "svg", "svg root element")
    series = [g for g in root.iter(ns + "g") if g.get("class") == "series"]
    check(len(series) == 10, "one series per adapted tensor, got %d" % len(series))
    check(len(list(root.iter(ns + "polyline"))) == 10, "a line per tensor")
    texts = " ".join(t.text or "" for t in root.iter(ns + "text"))
    check("inner step" in texts and "learning rate" in texts and "stage0.conv.weight" in texts, "axes and legend")
    with open(js) as f:
        j = json.load(f)
    check(len(j["inner_lrs"]) == 10 and len(j["inner_lrs"][0]["rates"]) == 5, "json LSLR table")
    check(len(j["batch_norm"]) == 4 * 5, "BN rows: 4 stages x 5 steps")
    # The model file is read once (its bytes serve both the metadata and the model).
    if shutil.which("strace"):
        trace = os.path.join(d, "trace.txt")
        subprocess.run(["strace", "-f", "-qq", "-e", "trace=open,openat", "-o", trace, ARGS.mamlpp, "inspect",
                        "--model", model], capture_output=True, timeout=120, check=True)
        with open(trace) as f:
            opens = [l for l in f if os.path.basename(model) in l and "ENOENT" not in l]
        check(len(opens) == 1, "inspect opened the model file %d times:\n%s" % (len(opens), "".join(opens)))
    else:
        print("note: strace not found; the read-once check is skipped")


def read_file_metadata(path):
    """The __metadata__ of a .maml file (safetensors), read with the standard library."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    return json.loads(blob[8:8 + n]).get("__metadata__", {})


def drop_file_metadata(src, dst, key):
    """Copies a .maml file without one __metadata__ key (tensor offsets are relative to the data
    section, so only the header changes)."""
    with open(src, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    del header["__metadata__"][key]
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(dst, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + blob[8 + n:])


def test_model_metadata():
    """A model file carries its preprocessing: an Omniglot-style model copied away from its run
    predicts exactly as inside it; without the metadata, predict warns and the result changes."""
    d = work("model_metadata")
    archive = os.path.join(d, "images_background.zip")
    make_omniglot_zip(archive, "images_background", alphabets=4, characters=5, drawers=4)
    out = os.path.join(d, "run")
    run(["train", "--dataset", "omniglot", "--archives", archive, "--out", out, "--epochs", "1",
         "--iters-per-epoch", "2", "--batch-size", "2", "--val-tasks", "0", "--k-shot", "1", "--q-query", "1",
         "--num-filters", "8", "--no-progress", "--threads", "1"])
    want = {"version": 1, "dataset": "omniglot", "resize": "nearest", "invert": True, "mean": [], "std": []}
    for f in os.listdir(out):
        if f.endswith(".maml"):
            md = read_file_metadata(os.path.join(out, f))
            check(json.loads(md.get("mamlpp.preprocessing", "null")) == want, "%s metadata: %r" % (f, md))
    # Omniglot-like pictures: dark ink on white paper, 105x105 (resized to 28x28).
    support, queries = [], []
    for k in range(5):
        fn = glyph(k)
        path = os.path.join(d, "s%d.png" % k)
        write_png(path, 105, 105, 1, lambda x, y, c, fn=fn: 255 - fn(x // 3, y // 3, c))
        support.append("label%d:%s" % (k, path))
        q = os.path.join(d, "q%d.png" % k)
        write_png(q, 105, 105, 1, lambda x, y, c, fn=fn: 255 - fn(x // 3, y // 3, c, 1))
        queries.append(q)

    def predict(model, *extra):
        p = run(["predict", "--model", model, "--support"] + support + ["--query"] + queries + ["--json"] +
                list(extra))
        return [json.loads(l) for l in p.stdout.splitlines() if l.strip()], p.stderr

    in_run, err = predict(os.path.join(out, "latest.maml"))
    check("warning" not in err, "no warning inside the run:\n" + err)
    alone_dir = os.path.join(d, "shipped")
    os.makedirs(alone_dir)
    alone = os.path.join(alone_dir, "model.maml")
    shutil.copy(os.path.join(out, "latest.maml"), alone)
    shipped, err = predict(alone)
    check("warning" not in err, "no warning for a file that carries its preprocessing:\n" + err)
    check(shipped == in_run, "the file alone predicts as inside its run:\n%r\n%r" % (shipped, in_run))
    p = run(["adapt", "--model", alone, "--support"] + support)
    check("the model file's metadata (dataset omniglot)" in p.stdout, "adapt names the source:\n" + p.stdout)
    # Without the metadata (a file written before 1.1): a warning, and the defaults change the result.
    bare = os.path.join(alone_dir, "bare.maml")
    drop_file_metadata(alone, bare, "mamlpp.preprocessing")
    check("mamlpp.preprocessing" not in read_file_metadata(bare), "metadata dropped")
    defaults, err = predict(bare)
    check("warning:" in err and "carries no preprocessing" in err and "mamlpp.preprocessing" in err,
          "predict warns when the file carries no preprocessing:\n" + err)
    check(defaults != in_run, "bilinear, non-inverted pixels give other probabilities")
    # The flags restore it (and silence the warning).
    flagged, err = predict(bare, "--resize", "nearest", "--invert")
    check("warning" not in err, err)
    check(flagged == in_run, "explicit flags give the run's preprocessing")
    # A state.json beside a bare file still serves (files from before 1.1).
    shutil.copy(bare, os.path.join(out, "bare.maml"))
    beside, err = predict(os.path.join(out, "bare.maml"))
    check("warning" not in err and beside == in_run, "state.json beside a bare file:\n" + err)
    # inspect lists the metadata and explains the untouched running statistics.
    js = os.path.join(d, "inspect.json")
    p = run(["inspect", "--model", alone, "--json", js])
    check("mamlpp.preprocessing" in p.stdout and '"invert":true' in p.stdout, p.stdout)
    check("not used with bn_stats support" in p.stdout, p.stdout)
    with open(js) as f:
        j = json.load(f)
    check(json.loads(j["metadata"]["mamlpp.preprocessing"]) == want, "inspect --json metadata")
    check("bn_stats running" in j["running_stats_note"], j["running_stats_note"])
    p = run(["inspect", "--model", bare])
    check("Metadata: none" in p.stdout, p.stdout)


# ---------------------------------------------------------------------------------------------
# Hostile input: deep JSON, special files, tampered state, absurd values, signals
# ---------------------------------------------------------------------------------------------

def no_raw_exception(p):
    """No nlohmann exception text and no crash: one clear error line instead."""
    check("[json.exception" not in p.stderr, "a raw nlohmann exception reached the user:\n" + p.stderr)
    check(p.returncode >= 0, "killed by signal %d" % -p.returncode)


def test_error_deep_json():
    d = work("deep_json")
    deep = 100000
    path = os.path.join(d, "deep.json")
    with open(path, "w") as f:
        f.write('{"mean": ' + "[" * deep + "]" * deep + "}")
    p = run(["train", "-c", path, "--print-config"], rc=1, timeout=60)
    error_line(p, path, "nested deeper")
    no_raw_exception(p)
    with open(path, "w") as f:
        f.write("[" * deep + "]" * deep)
    error_line(run(["train", "-c", path, "--print-config"], rc=1, timeout=60), path, "nested deeper")
    # The same through --set (one argument may hold 128 KiB).
    p = run(["train", "--set", "mean=" + "[" * 60000 + "]" * 60000, "--print-config"], rc=1, timeout=60)
    error_line(p, "mean", "nested deeper")
    # Duplicate keys and syntax errors are still named.
    with open(path, "w") as f:
        f.write('{"n_way": 5, "n_way": 5}')
    error_line(run(["train", "-c", path, "--print-config"], rc=1), path, "n_way")


def test_error_special_files():
    """A FIFO nobody writes to, a device and a folder, wherever the command reads a file: refused
    at once (they used to hang, or read /dev/zero until "out of memory"), with the file's exit code."""
    d = work("special_files")
    fifo = os.path.join(d, "fifo")
    os.mkfifo(fifo)
    support = ["%s:%s" % s for s in make_support(d)]
    model = os.path.join(FIXTURE(), "latest.maml")
    for path, words in [(fifo, "FIFO"), ("/dev/zero", "character device"), (d, "directory")]:
        for args in (["inspect", "--model", path], ["eval", "--model", path, "--tasks", "2"],
                     ["predict", "--model", path, "--support"] + support + ["--query", support[0].split(":")[1]]):
            p = run(args, rc=3, timeout=60)
            error_line(p, path, words)
        error_line(run(["train", "-c", path, "--print-config"], rc=1, timeout=60), path, words)
        error_line(run(["predict", "--model", model, "--support"] + support + ["--query", path], rc=2, timeout=60),
                   path, words)
    # state.json as a FIFO: --resume and eval --checkpoints refuse it (exit 3).
    run_dir = os.path.join(d, "run")
    shutil.copytree(FIXTURE(), run_dir)
    state = os.path.join(run_dir, "state.json")
    os.remove(state)
    os.mkfifo(state)
    error_line(run(["train", "--resume", run_dir], rc=3, timeout=60), state, "FIFO")
    error_line(run(["eval", "--checkpoints", run_dir, "--tasks", "2"], rc=3, timeout=60), state, "FIFO")


def test_error_image_bomb():
    """A PNG whose header claims 65500 x 65500 pixels: refused before anything is allocated."""
    d = work("image_bomb")
    model = os.path.join(FIXTURE(), "latest.maml")
    support = ["%s:%s" % s for s in make_support(d)]
    bomb = os.path.join(d, "bomb.png")
    ihdr = struct.pack(">IIBBBBB", 65500, 65500, 8, 0, 0, 0, 0)
    chunk = lambda kind, data: struct.pack(">I", len(data)) + kind + data + struct.pack(
        ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    with open(bomb, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 100)) +
                chunk(b"IEND", b""))
    p = run(["predict", "--model", model, "--support"] + support + ["--query", bomb], rc=2, timeout=60)
    error_line(p, bomb, "65500x65500", "limit")


def tampered_run(d, name, edit):
    """A copy of the fixture run whose state.json is edit(state) (a dict, edited in place)."""
    run_dir = os.path.join(d, name)
    shutil.copytree(FIXTURE(), run_dir)
    state = read_state(run_dir)
    edit(state)
    with open(os.path.join(run_dir, "state.json"), "w") as f:
        json.dump(state, f)
    return run_dir


def test_error_tampered_state():
    """--resume (and eval --checkpoints) check state.json as strictly as a model file: exit 3 with
    a clear message naming it, never exit 0 on a changed config and never a raw JSON exception."""
    d = work("tampered_state")

    def setitem(path, value):
        def edit(s):
            target = s
            for k in path[:-1]:
                target = target[k]
            target[path[-1]] = value
        return edit

    cases = [
        ("n_way", setitem(["config", "n_way"], 3), "n_way"),
        ("num_filters", setitem(["config", "num_filters"], 16), "num_filters"),
        ("history_not_list", setitem(["history"], {"epoch": 1}), "history"),
        ("history_rows", setitem(["history"], [1, 2, 3]), "history"),
        ("step_type", setitem(["step"], "nine"), "step"),
        ("config_type", setitem(["config", "n_way"], "five"), "n_way"),
        ("config_not_object", setitem(["config"], [1, 2]), "config"),
        ("unknown_config_key", setitem(["config", "n_wya"], 5), "n_wya"),
        ("best_type", setitem(["best"], [{"epoch": "x", "file": "epoch_0003.maml", "score": 0.5}]), "best"),
        ("best_file", setitem(["best"], [{"epoch": 3, "file": "../../etc/passwd", "score": 0.5}]), "best"),
        ("train_seed", setitem(["data", "train_seed"], -5), "train_seed"),
        ("seconds", setitem(["train_seconds"], "long"), "train_seconds"),
    ]
    for name, edit, words in cases:
        run_dir = tampered_run(d, name, edit)
        state = os.path.join(run_dir, "state.json")
        p = run(["train", "--resume", run_dir], rc=3)
        error_line(p, state, words)
        no_raw_exception(p)
        if name not in ("history_not_list", "history_rows", "seconds"):
            p = run(["eval", "--checkpoints", run_dir, "--tasks", "2"], rc=3)
            error_line(p, state, words)
            no_raw_exception(p)
    # A state whose config disagrees with the model it points at (state edited consistently).
    run_dir = tampered_run(d, "model_mismatch", setitem(["config", "inner_steps"], 4))
    error_line(run(["train", "--resume", run_dir], rc=3), "inner_steps", "latest.maml")
    # The untouched copy still resumes (to "nothing to do").
    p = run(["train", "--resume", tampered_run(d, "untouched", lambda s: None)])
    check("nothing to do" in p.stdout, p.stdout)


def test_error_absurd_values():
    """Every count has a sane upper limit, checked before any work, naming the key (exit 1)."""
    d = work("absurd")
    out = os.path.join(d, "out")
    base = ["--num-filters", "8", "--no-progress", "--threads", "1"]
    for key, value in [("val_tasks", 10 ** 9), ("test_tasks", 10 ** 9), ("batch_size", 10 ** 9),
                       ("k_shot", 10 ** 9), ("q_query", 10 ** 9), ("eval_batch_size", 10 ** 9),
                       ("workers", 10 ** 6), ("prefetch", 10 ** 6), ("keep_best", 10 ** 9),
                       ("synthetic_classes", 10 ** 9), ("synthetic_images", 10 ** 9),
                       ("log_every", 2 ** 31)]:
        p = run(["train", "--out", out, "--set", "%s=%d" % (key, value)] + base, rc=1, timeout=60)
        error_line(p, key)
        no_raw_exception(p)
    check(not os.path.exists(out), "no output folder after a refused value")
    # Products too: a meta-batch of 1000 tasks x 5-way x 1000 images of 28x28 is 15 GB.
    p = run(["train", "--out", out, "--set", "batch_size=1000", "--set", "k_shot=500", "--set", "q_query=500"] + base,
            rc=1, timeout=60)
    error_line(p, "batch_size", "k_shot")
    error_line(run(["eval", "--model", os.path.join(FIXTURE(), "latest.maml"), "--tasks", str(10 ** 9)], rc=1,
                   timeout=60), "test_tasks")
    for flag in ["--iters", "--warmup", "--adapt-iters", "--predict-iters", "--batch-size"]:
        error_line(run(["bench", flag, str(2 * 10 ** 9)], rc=1, timeout=60), flag)
    error_line(run(["demo", "--eval-tasks", str(2 * 10 ** 9)], rc=1, timeout=60), "--eval-tasks")
    error_line(run(["demo", "--steps", str(2 * 10 ** 9)], rc=1, timeout=60), "--steps")


def test_stop_during_validation():
    """SIGTERM while validation runs: the run stops between validation tasks and exits 130, as
    docs/CLI.md promises (it used to run the whole validation first)."""
    d = work("stop_validation")
    out = os.path.join(d, "run")
    args = ["--num-filters", "8", "--set", "synthetic_classes=200", "--val-tasks", "100000", "--no-progress",
            "--threads", "1"]
    proc = subprocess.Popen([ARGS.mamlpp, "train", "--out", out, "--epochs", "2", "--iters-per-epoch", "1",
                             "--batch-size", "1"] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    state = os.path.join(out, "state.json")
    deadline = time.time() + 120
    while not os.path.exists(state) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    if not os.path.exists(state):
        proc.kill()
        raise Failure("the run never started:\n" + proc.communicate()[1])
    time.sleep(3)  # one step (well under a second), then into the 100,000 validation tasks
    check(proc.poll() is None, "the run ended before the signal")
    os.kill(proc.pid, signal.SIGTERM)
    t0 = time.time()
    try:
        stdout, stderr = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise Failure("still running 60 s after SIGTERM (validation ignores the stop request)")
    check(proc.returncode == 130, "exit code %d after SIGTERM, expected 130\n%s" % (proc.returncode, stderr))
    check("interrupted" in stderr and "--resume" in stderr, "the stop message:\n" + stderr)
    print("stopped %.2f s after SIGTERM" % (time.time() - t0))
    check(read_state(out)["epochs_completed"] == 0, "no epoch was committed")


# ---------------------------------------------------------------------------------------------
# Omniglot (real data) and demo / bench
# ---------------------------------------------------------------------------------------------

def omniglot_dir():
    d = os.path.join(ARGS.shared_data or "", "omniglot")
    if not (os.path.exists(os.path.join(d, "images_background.zip"))
            and os.path.exists(os.path.join(d, "images_evaluation.zip"))):
        print("SKIP: Omniglot archives not found in", d)
        sys.exit(SKIP)
    return d


def test_omniglot_reference_split():
    src = omniglot_dir()
    d = work("omniglot")
    out = os.path.join(d, "run")
    p = run(["train", "--dataset", "omniglot", "--data-dir", src, "--out", out, "--epochs", "1",
             "--iters-per-epoch", "2", "--batch-size", "2", "--val-tasks", "4", "--num-filters", "8",
             "--no-progress", "--threads", "1"])
    check("train 1150 classes (rotation augmentation), val 50 classes" in p.stdout, p.stdout)
    p = run(["eval", "--checkpoints", out, "--tasks", "4"])
    check("split test: 423 classes" in p.stdout, p.stdout)
    p = run(["eval", "--checkpoints", out, "--tasks", "4", "--split", "vinyals"])
    check("split test: 1692 classes" in p.stdout, "Vinyals split from <data_dir>/splits/vinyals:\n" + p.stdout)


def test_reproduce_smoke():
    """scripts/reproduce.py on a tiny budget: killed mid-way it resumes, it ends with the report and
    its charts, and a second call with another budget refuses instead of mixing two plans."""
    src = omniglot_dir()
    d = work("reproduce")
    script = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                          "scripts", "reproduce.py")
    report = os.path.join(d, "docs", "RESULTS.md")
    os.makedirs(os.path.dirname(report))
    cmd = [sys.executable, script, "--data-dir", src, "--minutes", "0.5", "--tasks", "10", "--val-tasks", "4",
           "--runs", os.path.join(d, "runs"), "--report", report, "--mamlpp", ARGS.mamlpp]
    # Killed (with its mamlpp child) once the first run has committed an epoch.
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    first = os.path.join(d, "runs", "ablation_maml", "state.json")
    t0 = time.time()
    while time.time() - t0 < 120:
        try:
            if read_state(os.path.dirname(first))["epochs_completed"] >= 1:
                break
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    check(not os.path.exists(report), "the report was written before the runs ended")
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    check(p.returncode == 0, "the resumed reproduce failed:\n" + p.stdout[-3000:] + p.stderr[-3000:])
    check("ablation_maml: resuming after epoch" in p.stdout, "the first run should resume:\n" + p.stdout[-3000:])
    with open(report) as f:
        text = f.read()
    for section in ["## 1. Ablation", "## 2. Figure 2", "## 3. What the model learned", "## 4. Batch-norm",
                    "## 5. Omniglot 20-way", "## 6. Omniglot 5-way 1-shot within 20 minutes", "+ DA + CA (full MAML++)"]:
        check(section in text, "the report has no %r" % section)
    charts = [l.split("](")[1].rstrip(")") for l in text.splitlines() if l.startswith("![")]
    check(len(charts) == 4, "four charts: %r" % charts)
    for c in charts:
        path = os.path.join(os.path.dirname(report), c)
        ET.parse(path)  # well-formed SVG
        if shutil.which("rsvg-convert"):
            with open(path[:-4] + ".png", "rb") as f:
                check(f.read(8) == b"\x89PNG\r\n\x1a\n", "no PNG copy of " + c)
    p = subprocess.run(cmd[:5] + ["1"] + cmd[6:], capture_output=True, text=True, timeout=60)
    check(p.returncode != 0 and "planned for --minutes 0.5" in p.stderr, "another budget: " + p.stderr)


def test_demo_short():
    p = run(["demo", "--steps", "30", "--eval-tasks", "20", "--no-progress"], timeout=600)
    for m in ["[1/5]", "[2/5]", "[3/5]", "[4/5] saved", "identical predictions", "[5/5]", "summary:"]:
        check(m in p.stdout, "demo output should contain %r:\n%s" % (m, p.stdout))


def test_bench_short():
    d = work("bench")
    js = os.path.join(d, "bench.json")
    p = run(["bench", "--configs", "omniglot-5w1s", "--batching", "loop", "--warmup", "0", "--iters", "1",
             "--adapt-iters", "1", "--predict-iters", "2", "--json", js], timeout=600)
    check("omniglot-5w1s" in p.stdout and "steps/s" in p.stdout, p.stdout)
    with open(js) as f:
        j = json.load(f)
    check(j["machine"]["cpu_model"] and j["machine"]["hardware_threads"] >= 1, "machine info")
    r = j["results"][0]
    check(r["steps_per_second"] > 0 and r["adapt_ms_median"] > 0 and r["peak_rss_mib"] > 0, "figures: %r" % r)
    # GPU memory is reported where the run was on a GPU, and is null (not zero) on the CPU.
    if r["device"] == "cpu":
        check("peak_device_mib" in r and r["peak_device_mib"] is None, "peak_device_mib on the CPU: %r" % r)
    else:
        check(r["peak_device_mib"] > 0, "peak_device_mib on %s: %r" % (r["device"], r))


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--mamlpp", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--shared-data", default="")
    ap.add_argument("test")
    ARGS = ap.parse_args()
    fn = globals().get("test_" + ARGS.test)
    if fn is None:
        print("no such test:", ARGS.test)
        return 2
    os.makedirs(ARGS.work, exist_ok=True)
    t0 = time.time()
    try:
        fn()
    except Failure as e:
        print("FAIL %s: %s" % (ARGS.test, e))
        return 1
    print("PASS %s (%.1f s)" % (ARGS.test, time.time() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
