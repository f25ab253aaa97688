#!/usr/bin/env python3
"""The MAML paper's sinusoid regression with libmamlpp: MAML and MAML++, K = 5 and 10.

Trains each model with `mamlpp train` (configs/sinusoid-maml.json and sinusoid-mamlpp.json),
measures the post-adaptation MSE on 600 test tasks with `mamlpp eval` (10 inner steps, 95% CI),
and plots what a model predicts for 3 test sinusoids after 0, 1 and 10 adaptation steps from K
points, as the MAML paper's Figure 2 does, with `mamlpp predict --support-csv --inner-steps`.

Usage:
  scripts/sinusoid_figures.py --mamlpp build/src/cli/mamlpp --runs /tmp/sinruns \
      --out docs/results/sinusoid [--iterations 20000] [--paper-iterations 70000]

Runs are resumable: a run whose folder holds a `done` marker is not trained again. Writes
<out>/sinusoid.md (the table, in Markdown) and <out>/predictions-<model>.svg (+ .png when
rsvg-convert is installed). Standard library only.
"""
import argparse
import csv
import json
import math
import os
import random
import shutil
import subprocess
import sys
import time


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def sh(args, **kw):
    p = subprocess.run(args, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        raise SystemExit("%s failed (exit %d):\n%s%s" % (" ".join(args), p.returncode, p.stdout, p.stderr))
    return p.stdout


def train(a, variant, k, iterations, sets=(), suffix="", val_tasks=100):
    """One run: mamlpp train; returns its folder and training seconds."""
    name = "%s%s-k%d-%dk" % (variant, suffix, k, iterations // 1000)
    d = os.path.join(a.runs, name)
    marker = os.path.join(d, "done")
    if os.path.exists(marker):
        with open(marker) as f:
            return d, float(f.read() or 0)
    config = os.path.join(a.repo, "configs", "sinusoid-%s.json" % variant)
    log("training %s (%d steps)" % (name, iterations))
    t0 = time.time()
    args = [a.mamlpp, "train", "--config", config, "--out", d, "--k-shot", str(k), "--epochs",
            str(iterations // 1000), "--iters-per-epoch", "1000", "--val-tasks", str(val_tasks)]
    for kv in sets:
        args += ["--set", kv]
    if os.path.isdir(d):
        args = [a.mamlpp, "train", "--resume", d]
    sh(args)
    seconds = time.time() - t0
    with open(marker, "w") as f:
        f.write("%.1f" % seconds)
    return d, seconds


def evaluate(a, d):
    """mamlpp eval on 600 test tasks; None when adapting to one of them diverged (non-finite)."""
    js = os.path.join(d, "eval600.json")
    if not os.path.exists(js):
        p = subprocess.run([a.mamlpp, "eval", "--checkpoints", d, "--tasks", "600", "--json", js],
                           capture_output=True, text=True)
        if p.returncode != 0:
            if "not finite" in p.stderr or "non-finite" in p.stderr:
                log("%s: evaluation diverged: %s" % (d, p.stderr.strip()))
                return None
            raise SystemExit("mamlpp eval failed (exit %d):\n%s" % (p.returncode, p.stderr))
    with open(js) as f:
        return json.load(f)


def predictions(a, model, support, xs, steps, tmp):
    s_csv, q_csv = os.path.join(tmp, "support.csv"), os.path.join(tmp, "query.csv")
    with open(s_csv, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["x", "y"])
        w.writerows(support)
    with open(q_csv, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["x"])
        w.writerows([[x] for x in xs])
    out = sh([a.mamlpp, "predict", "--model", model, "--support-csv", s_csv, "--query-csv", q_csv, "--json",
              "--inner-steps", str(steps)])
    return [json.loads(line)["values"][0] for line in out.splitlines()]


COLOURS = {0: "#9467bd", 1: "#2ca02c", 10: "#d62728"}


def plot(a, title, model, tasks, path):
    """Three panels: the true sinusoid, its K support points, and predictions after 0/1/10 steps."""
    xs = [-5 + 10 * i / 99 for i in range(100)]
    W, H, P = 330, 260, 42
    parts = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" '
             'font-size="11"><rect width="100%%" height="100%%" fill="white"/>' % (3 * W, H + 50),
             '<text x="10" y="18" font-size="14">%s</text>' % title]
    tmp = os.path.join(a.runs, "plot-tmp")
    os.makedirs(tmp, exist_ok=True)
    for i, (amp, phase, support) in enumerate(tasks):
        ox = i * W
        sx = lambda x: ox + P + (x + 5) / 10 * (W - P - 10)
        sy = lambda y: 30 + (5.5 - y) / 11 * (H - 40)
        parts.append('<rect x="%d" y="30" width="%d" height="%d" fill="none" stroke="#999"/>' %
                     (ox + P, W - P - 10, H - 40))
        for v in (-5, 0, 5):
            parts.append('<text x="%.1f" y="%d" text-anchor="middle">%d</text>' % (sx(v), H + 2, v))
            parts.append('<text x="%d" y="%.1f" text-anchor="end">%d</text>' % (ox + P - 4, sy(v) + 4, v))
        parts.append('<text x="%d" y="%d">A = %.2f, phase = %.2f, K = %d</text>' %
                     (ox + P + 4, H + 18, amp, phase, len(support)))
        true = [amp * math.sin(x - phase) for x in xs]
        curves = [("true", "#000", true)] + [
            ("%d step%s" % (k, "" if k == 1 else "s"), COLOURS[k], predictions(a, model, support, xs, k, tmp))
            for k in (0, 1, 10)]
        for name, colour, ys in curves:
            pts = " ".join("%.1f,%.1f" % (sx(x), sy(max(-5.5, min(5.5, y)))) for x, y in zip(xs, ys))
            dash = ' stroke-dasharray="4,3"' if name != "true" else ""
            parts.append('<polyline points="%s" fill="none" stroke="%s" stroke-width="1.6"%s/>' % (pts, colour, dash))
        for x, y in support:
            parts.append('<circle cx="%.1f" cy="%.1f" r="3" fill="#1f77b4"/>' % (sx(x), sy(y)))
    legend = [("true sinusoid", "#000"), ("after 0 steps", COLOURS[0]), ("after 1 step", COLOURS[1]),
              ("after 10 steps", COLOURS[10]), ("support points", "#1f77b4")]
    for j, (name, colour) in enumerate(legend):
        parts.append('<rect x="%d" y="%d" width="12" height="3" fill="%s"/><text x="%d" y="%d">%s</text>' %
                     (P + 150 * j, H + 36, colour, P + 150 * j + 16, H + 40, name))
    parts.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(parts) + "\n")
    tool = shutil.which("rsvg-convert")
    if tool:
        subprocess.run([tool, "-o", path[:-4] + ".png", path], check=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mamlpp", default="build/src/cli/mamlpp")
    p.add_argument("--runs", required=True, help="folder for the training runs (resumable)")
    p.add_argument("--out", required=True, help="folder for sinusoid.md and the plots")
    p.add_argument("--iterations", type=int, default=20000, help="meta-train steps of every run (multiple of 1000)")
    p.add_argument("--paper-iterations", type=int, default=70000,
                   help="also train MAML for the paper's 70k steps (0: skip)")
    a = p.parse_args()
    a.repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    os.makedirs(a.runs, exist_ok=True)
    os.makedirs(a.out, exist_ok=True)
    # (label, config, K, steps, --set overrides, run-name suffix)
    plan = [(("MAML" if v == "maml" else "MAML++"), v, k, a.iterations, (), "") for k in (10, 5)
            for v in ("maml", "mamlpp")]
    # MAML++ with its per-step batch norm on (and Adam at 1e-3, as first tried): BN standardises
    # the first layer's single input per task, which costs the network where x lies.
    plan.append(("MAML++ with per-step BN, meta_lr 1e-3", "mamlpp", 10, a.iterations,
                 ("batch_norm=true", "per_step_bn=true", "meta_lr=0.001"), "-bn"))
    if a.paper_iterations:
        # Without validation: MAML trained with one inner step may diverge when adapting with 10
        # (measured: K = 5, a validation task at step 46,000), and validation would stop the run.
        plan += [("MAML", "maml", k, a.paper_iterations, (), "", 0) for k in (10, 5)]
    rows, models, per_task = [], {}, {}
    for entry in plan:
        label, variant, k, iterations, sets, suffix = entry[:6]
        val_tasks = entry[6] if len(entry) > 6 else 100
        d, seconds = train(a, variant, k, iterations, sets, suffix, val_tasks)
        e = evaluate(a, d)
        if e is None:
            rows.append((label, k, iterations, float("nan"), float("nan"), seconds))
            continue
        per_task[(variant + suffix, k, iterations)] = e["per_task_loss"]
        rows.append((label, k, iterations, e["loss"], e["loss_ci95"], seconds))
        models[(variant + suffix, k, iterations)] = os.path.join(d, "latest.maml")
        log("%s K=%d %d steps: mse %.4f +- %.4f" % (label, k, iterations, e["loss"], e["loss_ci95"]))
    rng = random.Random(2017)
    tasks = []
    for _ in range(3):
        amp, phase = rng.uniform(0.1, 5.0), rng.uniform(0, math.pi)
        support = [(x, amp * math.sin(x - phase)) for x in (rng.uniform(-5, 5) for _ in range(10))]
        tasks.append((amp, phase, support))
    for variant in ("maml", "mamlpp"):
        key = (variant, 10, a.iterations)
        label = "MAML" if variant == "maml" else "MAML++"
        plot(a, "%s, K = 10, %d meta-train steps: predictions after 0, 1 and 10 adaptation steps" %
             (label, a.iterations), models[key], tasks, os.path.join(a.out, "predictions-%s-k10.svg" % variant))
    with open(os.path.join(a.out, "sinusoid.md"), "w") as f:
        f.write("| model | K | meta-train steps | MSE after 10 steps, 600 test tasks (95% CI) | training time |\n")
        f.write("|---|---|---|---|---|\n")
        for label, k, iterations, mse, ci, seconds in rows:
            result = "diverged on a test task (non-finite)" if math.isnan(mse) else "%.4f ± %.4f" % (mse, ci)
            f.write("| %s | %d | %d | %s | %.0f s |\n" % (label, k, iterations, result, seconds))
        # Paired on the same 600 test tasks (same seeds): MAML++'s MSE minus MAML's, per task.
        f.write("\nPaired differences on the same 600 test tasks (MSE of the first minus the second, "
                "mean ± 1.96 std / sqrt(600)):\n\n")
        pairs = [(("mamlpp", k, a.iterations), ("maml", k, a.iterations), "MAML++ - MAML, K = %d" % k) for k in (10, 5)]
        pairs.append((("mamlpp-bn", 10, a.iterations), ("mamlpp", 10, a.iterations),
                      "MAML++ with per-step BN (meta_lr 1e-3) - MAML++, K = 10"))
        if a.paper_iterations:
            pairs += [(("maml", k, a.paper_iterations), ("maml", k, a.iterations),
                       "MAML %dk - MAML %dk steps, K = %d" % (a.paper_iterations // 1000, a.iterations // 1000, k))
                      for k in (10, 5)]
        for first, second, what in pairs:
            if first not in per_task or second not in per_task:
                continue
            d = [x - y for x, y in zip(per_task[first], per_task[second])]
            mean = sum(d) / len(d)
            std = math.sqrt(sum((x - mean) ** 2 for x in d) / len(d))
            f.write("- %s: %+.4f ± %.4f\n" % (what, mean, 1.96 * std / math.sqrt(len(d))))
    log("wrote %s" % os.path.join(a.out, "sinusoid.md"))


if __name__ == "__main__":
    main()
