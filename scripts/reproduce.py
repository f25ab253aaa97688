#!/usr/bin/env python3
"""Reproduces the MAML++ paper's claims with libmamlpp on real Omniglot and writes a report.

    scripts/reproduce.py --data-dir DIR [--minutes 90] [--runs runs/reproduce]
                         [--report docs/RESULTS.md] [--mamlpp build/src/cli/mamlpp] [--report-only]

What runs (all Omniglot, the MAML++ reference's seeded 1150/50/423 class split, 32 filters, 5 inner
steps in training and evaluation, B = 8, 1 query per class):
  ablation  5-way 1-shot: MAML, + MSL, + per-step BN, + LSLR, + DA + CA (full MAML++); one step
            budget for every row; the reference's transductive batch-norm statistics.
  bn        full MAML++ again with bn_stats support and running (transductive is the last row
            above), plus a per-example check: one image predicted alone against inside a batch.
  figure2   strided convolutions (max_pool off): MAML against MAML + MSL, seeds 0, 1, 2.
  20way     full MAML++, 20-way 1-shot.
  recipe    configs/omniglot-5w1s-20min.json: the fastest route to accuracy found so far.
Every run ends with `mamlpp eval` on 600 fixed test tasks (best validation checkpoint) but the
figure-2 runs, which report their validation curves.

The budget: --minutes M sizes every run's steps from the seconds per step measured on this project's
2-core machine (STEP_SECONDS), so that training takes about M minutes there; evaluation (600 test
tasks per run), loading and the charts add about 2. Measured: --minutes 90 (the full set of
docs/RESULTS.md) 95 minutes, --minutes 10 12.2, --minutes 8 (the small set, same structure) 10.5.
The recipe keeps its own step count when M >= 60.

Resuming: each run lives in RUNS/<name>; a run with a state.json continues with `mamlpp train
--resume`, a finished one is skipped, an evaluation already written is kept. RUNS/plan.json
records the plan; a second call with another budget refuses instead of mixing two plans.

Charts are SVG, drawn here with the standard library; PNG copies come from rsvg-convert
(Debian: librsvg2-bin, which scripts/deps.sh installs).
"""
import argparse
import datetime
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Seconds per meta-train step, validation included, on this project's 2-core machine (AMD EPYC Zen 3,
# Debian's LibTorch 1.13), 32 filters, B = 8, 5 inner steps: measured with short runs of each kind.
# They only turn the budget into step counts; a faster machine simply finishes sooner.
STEP_SECONDS = {
    "5w_second": 0.40,   # 5-way 1-shot, second order (0.33 s a step, the rest validation)
    "5w_strided": 0.25,  # strided convolutions, second order, 50 validation tasks an epoch
    "20w_mixed": 1.00,   # 20-way 1-shot, full MAML++
}
FULL_MINUTES = 90.0  # the full set of docs/RESULTS.md: 95 minutes of wall time here
INIT_RATE = 0.1  # inner_lr: where every LSLR entry starts
RECIPE_FULL_FROM = 60.0
# Shares of the budget (the rest is evaluation: 600 test tasks per run, the charts, the checks).
SHARE = {"ablation_run": 0.072, "figure2": 0.14, "20way": 0.11, "recipe": 1.0 / 6.0}

# The paper's published test accuracies (%): MAML (Finn et al. 2017) and MAML++ (Antoniou et al. 2019).
PAPER = {"5w1s_maml": 98.7, "5w1s_mamlpp": 99.47, "20w1s_maml": 95.8, "20w1s_mamlpp": 97.65}

COMMON = ["--dataset", "omniglot", "--k-shot", "1", "--q-query", "1", "--batch-size", "8",
          "--num-filters", "32", "--inner-steps", "5", "--eval-inner-steps", "5", "--no-progress"]

# MAML++'s components as config keys: all off is plain second-order MAML.
MAML = {"multi_step_loss": "false", "per_step_bn": "false", "learn_inner_lr": "false",
        "first_order_epochs": "0", "meta_lr_min": "0.001", "bn_stats": "transductive"}


def sets(d):
    out = []
    for k, v in d.items():
        out += ["--set", "%s=%s" % (k, v)]
    return out


class Run:
    def __init__(self, name, group, title, args, epochs, steps, evaluate=True, seed=0):
        self.name, self.group, self.title = name, group, title
        self.epochs = epochs
        self.iters = max(1, int(round(steps / epochs)))
        self.args = args + ["--epochs", str(epochs), "--iters-per-epoch", str(self.iters), "--seed", str(seed)]
        self.evaluate = evaluate

    @property
    def steps(self):
        return self.epochs * self.iters


def plan(minutes, recipe_file, val_tasks=None):
    """Every run of the set, sized for `minutes` on this project's machine."""
    total = minutes * 60.0

    def val(n):
        return ["--val-tasks", str(n if val_tasks is None else val_tasks)]

    runs = []
    e = 10
    steps = SHARE["ablation_run"] * total / STEP_SECONDS["5w_second"]
    msl = {"multi_step_loss": "true", "msl_epochs": str(max(1, e * 4 // 10))}
    rows = [("maml", "MAML", dict(MAML)),
            ("msl", "+ MSL", dict(MAML, **msl)),
            ("psbn", "+ per-step BN (BNWB + BNRS)", dict(MAML, **msl, per_step_bn="true")),
            ("lslr", "+ LSLR", dict(MAML, **msl, per_step_bn="true", learn_inner_lr="true")),
            ("mamlpp", "+ DA + CA (full MAML++)",
             dict(MAML, **msl, per_step_bn="true", learn_inner_lr="true", first_order_epochs=str(e // 4),
                  meta_lr_min="1e-5"))]
    for name, title, cfg in rows:
        runs.append(Run("ablation_" + name, "ablation", title, COMMON + ["--n-way", "5"] + val(100) +
                        sets(cfg), e, steps))
    full = rows[-1][2]
    for mode in ("support", "running"):
        runs.append(Run("bn_" + mode, "bn", "full MAML++, bn_stats " + mode,
                        COMMON + ["--n-way", "5"] + val(100) + sets(dict(full, bn_stats=mode)), e, steps))
    # Figure 2: strided convolutions, 20 epochs so that the curves have 20 points.
    e2 = 20
    steps2 = SHARE["figure2"] * total / 6 / STEP_SECONDS["5w_strided"]
    for variant, title, cfg in (("maml", "MAML", dict(MAML)),
                                ("msl", "MAML + MSL", dict(MAML, multi_step_loss="true", msl_epochs=str(e2 // 2)))):
        for seed in (0, 1, 2):
            runs.append(Run("figure2_%s_seed%d" % (variant, seed), "figure2", title,
                            COMMON + ["--n-way", "5"] + val(50) + sets(dict(cfg, max_pool="false")), e2,
                            steps2, evaluate=False, seed=seed))
    steps3 = SHARE["20way"] * total / STEP_SECONDS["20w_mixed"]
    runs.append(Run("20way", "20way", "full MAML++, 20-way 1-shot",
                    COMMON + ["--n-way", "20"] + val(100) + sets(full), e, steps3))
    with open(recipe_file) as f:
        recipe = json.load(f)
    # The recipe keeps its own steps (about 17 minutes here) in budgets of an hour or more.
    scale = min(1.0, minutes / RECIPE_FULL_FROM)
    r = Run("recipe", "recipe", "recipe " + os.path.basename(recipe_file),
            ["--config", recipe_file, "--no-progress"] + ([] if val_tasks is None else val(val_tasks)), recipe["epochs"],
            recipe["epochs"] * recipe["iters_per_epoch"] * scale, seed=recipe.get("seed", 0))
    runs.append(r)
    return runs


def log(msg):
    print("[reproduce %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def read_json(path):
    with open(path) as f:
        return json.load(f)


def write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1)
    os.replace(tmp, path)


def run_logged(cmd, logfile):
    log(" ".join(cmd))
    with open(logfile, "a") as lf:
        lf.write("$ %s\n" % " ".join(cmd))
        lf.flush()
        p = subprocess.run(cmd, stdout=lf, stderr=subprocess.STDOUT)
    if p.returncode != 0:
        with open(logfile) as lf:
            tail = lf.read()[-3000:]
        raise SystemExit("reproduce: '%s' failed (exit %d); %s ends with:\n%s" %
                         (" ".join(cmd), p.returncode, logfile, tail))


def train(a, run):
    d = os.path.join(a.runs, run.name)
    state = os.path.join(d, "state.json")
    logfile = d + ".log"
    if os.path.exists(state):
        s = read_json(state)
        if s["epochs_completed"] >= s["config"]["epochs"]:
            return
        log("%s: resuming after epoch %d of %d" % (run.name, s["epochs_completed"], s["config"]["epochs"]))
        run_logged([a.mamlpp, "train", "--resume", d], logfile)
        return
    if os.path.exists(d):  # killed before its first state.json: nothing to keep
        shutil.rmtree(d)
    run_logged([a.mamlpp, "train"] + run.args + ["--data-dir", a.data_dir, "--out", d], logfile)


def evaluate(a, run):
    d = os.path.join(a.runs, run.name)
    out = os.path.join(d, "eval.json")
    if run.evaluate and not os.path.exists(out):
        run_logged([a.mamlpp, "eval", "--checkpoints", d, "--tasks", str(a.tasks), "--json", out + ".part"], d + ".log")
        os.replace(out + ".part", out)
    best = best_checkpoint(a, run)
    insp = os.path.join(d, "inspect.json")
    if not os.path.exists(insp):
        run_logged([a.mamlpp, "inspect", "--model", best, "--json", insp + ".part"], d + ".log")
        os.replace(insp + ".part", insp)


def best_checkpoint(a, run):
    d = os.path.join(a.runs, run.name)
    s = read_json(os.path.join(d, "state.json"))
    return os.path.join(d, s["best"][0]["file"])


# ---------------------------------------------------------------------------------------------
# The per-example check: one image predicted alone against inside a batch.

def omniglot_images(data_dir, n_classes, per_class, where):
    """Extracts per_class PNGs of each of the first n_classes characters of images_evaluation.zip."""
    z = zipfile.ZipFile(os.path.join(data_dir, "images_evaluation.zip"))
    by_class = {}
    for n in sorted(z.namelist()):
        if n.endswith(".png"):
            by_class.setdefault(os.path.dirname(n), []).append(n)
    classes = sorted(by_class)[:n_classes]
    out = []
    for c, cls in enumerate(classes):
        files = []
        for i, n in enumerate(by_class[cls][:per_class]):
            p = os.path.join(where, "c%d_%d.png" % (c, i))
            with open(p, "wb") as f:
                f.write(z.read(n))
            files.append(p)
        out.append(files)
    return out


def predict(a, model, support, queries):
    cmd = [a.mamlpp, "predict", "--model", model, "--json"]
    for label, img in support:
        cmd += ["--support", "%s:%s" % (label, img)]
    for q in queries:
        cmd += ["--query", q]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit("reproduce: %s failed: %s" % (" ".join(cmd), p.stderr))
    return [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]


def alone_vs_batch(a, run):
    d = os.path.join(a.runs, run.name)
    out = os.path.join(d, "alone_vs_batch.json")
    if os.path.exists(out):
        return read_json(out)
    model = best_checkpoint(a, run)
    with tempfile.TemporaryDirectory() as tmp:
        imgs = omniglot_images(a.data_dir, 5, 4, tmp)
        support = [("c%d" % c, files[0]) for c, files in enumerate(imgs)]
        queries = [f for files in imgs for f in files[1:]]
        batch = predict(a, model, support, queries)
        alone = [predict(a, model, support, [q])[0] for q in queries]
    diff = max(abs(b["probabilities"][k] - s["probabilities"][k]) for b, s in zip(batch, alone)
               for k in b["probabilities"])
    changed = sum(1 for b, s in zip(batch, alone) if b["label"] != s["label"])
    result = {"queries": len(queries), "max_abs_probability_difference": diff, "labels_changed": changed}
    write_json(out, result)
    return result


# ---------------------------------------------------------------------------------------------
# Charts: small self-contained SVGs.

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"]


def nice_ticks(lo, hi, n=5):
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), default=10 * mag)
    t = math.floor(lo / step) * step
    ticks = []
    while t <= hi + 1e-9 * step:
        ticks.append(round(t, 10))
        t += step
    return ticks


def fmt(v):
    return ("%.4g" % v) if abs(v) < 1e4 else "%.0f" % v


def panel(x0, y0, w, h, series, xlabel, ylabel, title, legend=True):
    """One line chart at (x0, y0) of size w x h. series: [(label, colour, [(x, y)], dashed, width, opacity)]."""
    xs = [p[0] for s in series for p in s[2]]
    ys = [p[1] for s in series for p in s[2]]
    if not xs:
        return ""
    xt, yt = nice_ticks(min(xs), max(xs)), nice_ticks(min(ys), max(ys))
    xlo, xhi, ylo, yhi = xt[0], xt[-1], yt[0], yt[-1]
    L, R, T, B = 62, 12, 28, 44
    pw, ph = w - L - R, h - T - B

    def X(v):
        return x0 + L + (v - xlo) / (xhi - xlo or 1) * pw

    def Y(v):
        return y0 + T + ph - (v - ylo) / (yhi - ylo or 1) * ph

    o = ['<text x="%.1f" y="%.1f" font-size="14" font-weight="bold">%s</text>' % (x0 + L, y0 + 18, esc(title))]
    for t in yt:
        o.append('<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#ddd"/>' % (X(xlo), X(xhi), Y(t), Y(t)))
        o.append('<text x="%.1f" y="%.1f" font-size="11" text-anchor="end">%s</text>' % (X(xlo) - 4, Y(t) + 4, fmt(t)))
    for t in xt:
        o.append('<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#eee"/>' % (X(t), X(t), Y(ylo), Y(yhi)))
        o.append('<text x="%.1f" y="%.1f" font-size="11" text-anchor="middle">%s</text>' % (X(t), Y(ylo) + 15, fmt(t)))
    o.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#444"/>' % (X(xlo), Y(yhi), pw, ph))
    o.append('<text x="%.1f" y="%.1f" font-size="12" text-anchor="middle">%s</text>' %
             (x0 + L + pw / 2, y0 + h - 8, esc(xlabel)))
    o.append('<text x="%.1f" y="%.1f" font-size="12" text-anchor="middle" transform="rotate(-90 %.1f %.1f)">%s</text>' %
             (x0 + 14, y0 + T + ph / 2, x0 + 14, y0 + T + ph / 2, esc(ylabel)))
    seen = []
    for label, colour, pts, dashed, width, opacity in series:
        if not pts:
            continue
        path = " ".join("%s%.1f,%.1f" % ("M" if i == 0 else "L", X(px), Y(py)) for i, (px, py) in enumerate(pts))
        o.append('<path d="%s" fill="none" stroke="%s" stroke-width="%.1f" stroke-opacity="%.2f"%s/>' %
                 (path, colour, width, opacity, ' stroke-dasharray="5,3"' if dashed else ""))
        if label and label not in [s[0] for s in seen]:
            seen.append((label, colour, dashed))
    if legend and seen:
        o.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%d" fill="white" fill-opacity="0.85" stroke="#ccc"/>' %
                 (X(xlo) + 4, Y(yhi) + 3, 40 + 6.5 * max(len(s[0]) for s in seen), 16 * len(seen) + 4))
        for i, (label, colour, dashed) in enumerate(seen):
            ly = Y(yhi) + 14 + 16 * i
            o.append('<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="%s" stroke-width="2.5"%s/>' %
                     (X(xlo) + 8, X(xlo) + 30, ly - 4, ly - 4, colour, ' stroke-dasharray="5,3"' if dashed else ""))
            o.append('<text x="%.1f" y="%.1f" font-size="11">%s</text>' % (X(xlo) + 34, ly, esc(label)))
    return "\n".join(o)


def esc(s):
    return str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def svg(w, h, body):
    return ('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
            'font-family="DejaVu Sans, Arial, sans-serif">\n<rect width="100%%" height="100%%" fill="white"/>\n%s\n</svg>\n'
            % (w, h, w, h, body))


def heatmap(x0, y0, names, table, title, centre):
    """Rows: tensors; columns: inner steps. Colour: the distance from `centre` (the initial rate),
    blue above it and red below, on one symmetric scale; the value is written in each cell."""
    cw, ch, L, T = 56, 20, 140, 30
    span = max(abs(v - centre) for row in table for v in row) or 1.0
    o = ['<text x="%d" y="%d" font-size="14" font-weight="bold">%s</text>' % (x0, y0 + 18, esc(title))]
    for j in range(len(table[0])):
        o.append('<text x="%d" y="%d" font-size="11" text-anchor="middle">step %d</text>' %
                 (x0 + L + j * cw + cw // 2, y0 + T + 10, j))
    for i, (n, row) in enumerate(zip(names, table)):
        y = y0 + T + 16 + i * ch
        o.append('<text x="%d" y="%d" font-size="11" text-anchor="end">%s</text>' %
                 (x0 + L - 6, y + 14, esc(n.replace("backbone.", ""))))
        for j, v in enumerate(row):
            t = max(-1.0, min(1.0, (v - centre) / span))
            if t >= 0:
                r, g, b = 255 - int(200 * t), 255 - int(130 * t), 255  # white to blue
            else:
                r, g, b = 255, 255 + int(200 * t), 255 + int(200 * t)  # white to red
            o.append('<rect x="%d" y="%d" width="%d" height="%d" fill="rgb(%d,%d,%d)" stroke="#fff"/>' %
                     (x0 + L + j * cw, y, cw, ch, r, g, b))
            o.append('<text x="%d" y="%d" font-size="10" text-anchor="middle"%s>%.3f</text>' %
                     (x0 + L + j * cw + cw // 2, y + 14, ' font-weight="bold"' if v < 0 else "", v))
    return "\n".join(o), L + len(table[0]) * cw + 24, T + 16 + len(names) * ch + 10


def write_chart(a, name, w, h, body, made):
    d = os.path.join(os.path.dirname(os.path.abspath(a.report)), "results")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, name + ".svg")
    with open(path, "w") as f:
        f.write(svg(w, h, body))
    made.append(path)
    return "results/%s.svg" % name


def png_copies(paths):
    tool = shutil.which("rsvg-convert")
    if tool is None:
        log("no rsvg-convert: PNG copies skipped (Debian: apt-get install librsvg2-bin)")
        return False
    for p in paths:
        subprocess.run([tool, "-b", "white", "-o", p[:-4] + ".png", p], check=True)
    return True


# ---------------------------------------------------------------------------------------------
# The report.

def history(a, run):
    s = read_json(os.path.join(a.runs, run.name, "state.json"))
    return s["history"], s


def pct(v):
    return "%.2f%%" % (100.0 * v)


def acc_cell(a, run):
    e = read_json(os.path.join(a.runs, run.name, "eval.json"))
    return "**%.2f%% ± %.2f%%**" % (100 * e["accuracy"], 100 * e["accuracy_ci95"]), e


def lslr(a, run):
    j = read_json(os.path.join(a.runs, run.name, "inspect.json"))
    names = [r["tensor"] for r in j["inner_lrs"]]
    table = [r["rates"] for r in j["inner_lrs"]]
    return names, table


def report(a, runs, started, wall):
    made = []
    by = {r.name: r for r in runs}
    md = []
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    version = subprocess.run([a.mamlpp, "--version"], capture_output=True, text=True).stdout.strip()
    cmd = "scripts/reproduce.sh --data-dir DIR --minutes %g" % a.minutes
    md.append("# Results: the MAML++ paper's claims, reproduced with libmamlpp\n")
    md.append("Written by `%s` (DIR: the folder with Omniglot's `images_background.zip` and "
              "`images_evaluation.zip`) on %s, on %s with %d cores, `%s`. The runs took %.0f minutes of wall "
              "time in all (training %.0f, the rest evaluation and checks). Every figure below comes from that "
              "run; rerunning the command rebuilds this page from the runs it finds (`--report-only`)." %
              (cmd, started, cpu, os.cpu_count() or 0, version, wall / 60.0,
               sum(history(a, r)[1]["train_seconds"] for r in runs) / 60.0))
    md.append("")
    md.append("Common setup: Omniglot from the official archives, the MAML++ reference's seeded 1150 / 50 / 423 "
              "class split, 28x28 images, 90-degree rotation augmentation in training, 32 filters (the paper uses "
              "64), 4 stages, 5 inner steps in training and evaluation, B = 8 tasks, 1 query per class. Test "
              "accuracy: the best checkpoint by validation accuracy (%s fixed validation tasks after each epoch) "
              "on %d fixed test tasks, mean ± 95%% CI (1.96 · std / √%d). The budget (`--minutes %g`) fixes "
              "each run's steps in advance from this machine's step times, so every run is deterministic and a "
              "killed run resumes where it stopped.\n" %
              ("100" if a.val_tasks is None else a.val_tasks, a.tasks, a.tasks, a.minutes))

    # 1. Ablation.
    md.append("## 1. Ablation: Omniglot 5-way 1-shot\n")
    abl = [r for r in runs if r.group == "ablation"]
    md.append("Each row adds one component to the row above; every row trains for the same %d meta-train steps "
              "(%d epochs of %d). MSL anneals over the first %s epochs, DA trains first order for the first %s, CA "
              "anneals Adam's rate from 1e-3 to 1e-5. Batch-norm statistics are the reference's (`bn_stats = "
              "transductive`), so that the rows compare with the paper; with them the per-step running statistics "
              "(BNRS) are kept but not read, as in the reference, and the per-step BN row measures BNWB.\n" %
              (abl[0].steps, abl[0].epochs, abl[0].iters, arg_of(abl[1], "msl_epochs"),
               arg_of(abl[-1], "first_order_epochs")))
    md.append("| | steps | training minutes | best val. acc. | test accuracy (%d tasks) | change from the row above "
              "| the paper |" % a.tasks)
    md.append("|---|---|---|---|---|---|---|")
    paper = {0: "98.7% (MAML, Finn et al.)", 4: "99.47% (MAML++)"}
    abl_acc, abl_tasks, abl_sig = [], [], []
    for i, r in enumerate(abl):
        h, s = history(a, r)
        cell, e = acc_cell(a, r)
        abl_acc.append(e["accuracy"])
        abl_tasks.append(e["per_task_accuracy"])
        change = "—"
        if i > 0:
            d, half = paired(abl_tasks[i - 1], abl_tasks[i])
            abl_sig.append(abs(d) > half)
            change = "%+.2f ± %.2f points%s" % (100 * d, 100 * half, "" if abs(d) > half else " (within noise)")
        md.append("| %s | %d | %.1f | %s | %s | %s | %s |" % (r.title, r.steps, s["train_seconds"] / 60,
                                                              pct(s["best"][0]["score"]), cell, change,
                                                              paper.get(i, "—")))
    md.append("")
    md.append("Every row is evaluated on the same %d test tasks, so a change is a paired difference: the mean of the "
              "per-task differences ± 1.96 · std / √n; \"within noise\" when that interval holds 0. The paper reports its ablation (its Table 1) on 20-way Omniglot; for 5-way 1-shot it "
              "gives the two end points only, after 150 epochs of 500 steps with 64 filters: %d times this budget's "
              "%d steps. The gap to its numbers is that budget, plus half the filters. What the rows here measure "
              "is the early part of training, where the components' effect on the speed of learning shows.\n" %
              (a.tasks, int(150 * 500 / abl[0].steps), abl[0].steps))
    best_row = max(range(len(abl)), key=lambda i: abl_acc[i])
    md.append("Here: plain MAML %s, full MAML++ %s (%+.2f points); the best row is \"%s\"." %
              (pct(abl_acc[0]), pct(abl_acc[-1]), 100 * (abl_acc[-1] - abl_acc[0]), abl[best_row].title))
    if abl_acc[-1] < abl_acc[-2] and abl_sig[-1]:
        md.append("At this budget DA and CA cost accuracy: DA spends the first %s of %d epochs on first-order "
                  "meta-gradients, and CA lowers Adam's rate from the first epoch on, so the run takes smaller steps "
                  "long before it has converged. Both are designed for the paper's 150-epoch runs, where DA saves "
                  "compute early and CA settles the end of training; the ablation here cannot separate the two." %
                  (arg_of(abl[-1], "first_order_epochs"), abl[-1].epochs))
    md.append("")
    series = []
    for i, r in enumerate(abl):
        h, _ = history(a, r)
        series.append((r.title, PALETTE[i], [(row["step"], 100 * row["val_acc"]) for row in h], False, 2.0, 1.0))
    link = write_chart(a, "ablation_val_acc", 760, 380,
                       panel(0, 0, 760, 380, series, "meta-train step", "validation accuracy (%)",
                             "Omniglot 5-way 1-shot: validation accuracy, %s tasks" % ("100" if a.val_tasks is None else a.val_tasks)), made)
    md.append("![validation accuracy of the ablation rows](%s)\n" % link)

    # 2. Figure 2.
    md.append("## 2. Figure 2: strided convolutions, MAML against MAML + MSL\n")
    f2 = [r for r in runs if r.group == "figure2"]
    md.append("`max_pool = false`: stride-2 convolutions and a global average pool, 5 inner steps, second order, "
              "%d steps (%d epochs of %d) per run, 50 validation tasks after every epoch, seeds 0, 1, 2. The MSL "
              "runs anneal MSL over the first %s epochs. Training loss is the mean over each epoch's steps; "
              "while MSL is on it is the MSL-weighted sum of the steps' query losses, so it starts higher than "
              "plain MAML's last-step loss for the same network.\n" %
              (f2[0].steps, f2[0].epochs, f2[0].iters, arg_of(f2[-1], "msl_epochs")))
    loss_series, acc_series = [], []
    stats = {}
    for r in f2:
        h, _ = history(a, r)
        colour = PALETTE[0] if r.title == "MAML" else PALETTE[1]
        label = r.title
        loss_series.append((label, colour, [(row["step"], row["train_loss"]) for row in h], False, 1.6, 0.8))
        acc_series.append((label, colour, [(row["step"], 100 * row["val_acc"]) for row in h], False, 1.6, 0.8))
        accs = [row["val_acc"] for row in h]
        drops = sum(1 for x, y in zip(accs, accs[1:]) if y < x - 0.05)
        swing = sum(abs(y - x) for x, y in zip(accs, accs[1:])) / max(1, len(accs) - 1)
        st = stats.setdefault(r.title, {"final": [], "drops": 0, "swing": [], "best": []})
        st["final"].append(accs[-1])
        st["best"].append(max(accs))
        st["drops"] += drops
        st["swing"].append(swing)
    body = panel(0, 0, 520, 360, loss_series, "meta-train step", "training loss", "Training loss") + \
        panel(520, 0, 520, 360, acc_series, "meta-train step", "validation accuracy (%)",
              "Validation accuracy (%s tasks)" % ("50" if a.val_tasks is None else a.val_tasks), legend=True)
    link = write_chart(a, "figure2_strided", 1040, 360, body, made)
    md.append("![Figure 2 reproduced](%s)\n" % link)
    md.append("| | final val. acc. (3 seeds) | best val. acc. | epoch-to-epoch drops > 5 points | mean epoch-to-epoch change |")
    md.append("|---|---|---|---|---|")
    for title, st in stats.items():
        md.append("| %s | %s | %s | %d | %.2f points |" % (
            title, ", ".join(pct(v) for v in st["final"]), ", ".join(pct(v) for v in st["best"]), st["drops"],
            100 * sum(st["swing"]) / len(st["swing"])))
    md.append("")
    m, s_ = stats.get("MAML"), stats.get("MAML + MSL")
    if m and s_:
        more = "more" if m["drops"] > s_["drops"] else ("fewer" if m["drops"] < s_["drops"] else "as many")
        md.append("What the chart shows: plain MAML's validation accuracy dropped by more than 5 points from one epoch "
                  "to the next %d times over its 3 seeds, MAML + MSL's %d times (%s for plain MAML); the mean "
                  "epoch-to-epoch change was %.2f against %.2f points. The paper's Figure 2 shows plain MAML with "
                  "strided convolutions oscillating over tens of thousands of steps; at %d steps this chart covers "
                  "only the start of training, and where the two differ by less than the spread between seeds it "
                  "does not show the oscillation.\n" %
                  (m["drops"], s_["drops"], more, 100 * sum(m["swing"]) / 3, 100 * sum(s_["swing"]) / 3, f2[0].steps))

    # 3. Learned rates.
    md.append("## 3. What the model learned: the inner learning rates\n")
    modes = [("transductive", by["ablation_mamlpp"]), ("support", by["bn_support"]), ("running", by["bn_running"])]
    tables = {}
    body, x, hmax = [], 0, 0
    for mode, r in modes:
        names, table = lslr(a, r)
        tables[mode] = (names, table)
        part, w, h = heatmap(x, 0, names, table, "bn_stats %s" % mode, INIT_RATE)
        body.append(part)
        x += w
        hmax = max(hmax, h)
    link = write_chart(a, "lslr", x, hmax, "\n".join(body), made)
    md.append("The full MAML++ runs' learned rate per adapted tensor and inner step, one map per `bn_stats` (from "
              "`mamlpp inspect --json`; `mamlpp inspect --svg` draws a line chart and a map for any model file). "
              "Every rate started at %g: blue cells ended above it, red below, on one scale; negative rates "
              "are in bold.\n" % INIT_RATE)
    md.append("![learned inner learning rates](%s)\n" % link)
    md.append(lslr_analysis(tables))

    # 4. BN modes.
    md.append("## 4. Batch-norm statistics: transductive, support, running\n")
    md.append("Full MAML++ with each `bn_stats`, the same steps. Alone vs batch: the %d query images of one 5-way task "
              "(5 Omniglot characters, 1 support image each) predicted in one call and one by one with `mamlpp "
              "predict`; the largest difference between the two in any class probability, and how many predicted "
              "labels changed.\n" % 15)
    md.append("| `bn_stats` | test accuracy (%d tasks) | best val. acc. | alone vs batch: max prob. difference | "
              "labels changed |" % a.tasks)
    md.append("|---|---|---|---|---|")
    for mode, r in modes:
        cell, _ = acc_cell(a, r)
        _, s = history(a, r)
        chk = alone_vs_batch(a, r)
        md.append("| %s | %s | %s | %.2g | %d of %d |" % (mode, cell, pct(s["best"][0]["score"]),
                                                          chk["max_abs_probability_difference"], chk["labels_changed"],
                                                          chk["queries"]))
    md.append("")
    md.append("Transductive statistics normalise each query batch by its own mean and variance, so an image's "
              "prediction depends on the images beside it; support statistics (the default) and running statistics "
              "do not, which a host classifying one input at a time needs. No published implementation reports "
              "the last two modes.\n")

    # 5. 20-way.
    r = by["20way"]
    cell, _ = acc_cell(a, r)
    _, s = history(a, r)
    md.append("## 5. Omniglot 20-way 1-shot\n")
    md.append("| | steps | training minutes | test accuracy (%d tasks) | the paper |" % a.tasks)
    md.append("|---|---|---|---|---|")
    md.append("| full MAML++, transductive BN | %d | %.1f | %s | 97.65%% (MAML++), 95.8%% (MAML) |\n" %
              (r.steps, s["train_seconds"] / 60, cell))
    md.append("The paper's figure comes after 150 epochs of 500 steps with 64 filters: %d times these steps.\n" %
              int(150 * 500 / r.steps))

    # 6. Recipe.
    r = by["recipe"]
    cell, e = acc_cell(a, r)
    h, s = history(a, r)
    md.append("## 6. Omniglot 5-way 1-shot within 20 minutes: the recipe\n")
    md.append("`configs/%s`, trained with `mamlpp train --config configs/%s --data-dir DIR --out runs/recipe%s`: "
              "%d steps, %.1f minutes of training (validation included), then `mamlpp eval --checkpoints runs/recipe "
              "--tasks %d`: %s (95.0%% was the target).\n" %
              (os.path.basename(a.recipe), os.path.basename(a.recipe),
               "" if r.iters == read_json(a.recipe)["iters_per_epoch"] else " --iters-per-epoch %d" % r.iters,
               r.steps, s["train_seconds"] / 60, a.tasks, cell))
    rc = read_json(a.recipe)
    md.append("The recipe: %d filters, %d epochs of %d steps, B = %d, first order for the first %d epochs (DA), MSL over "
              "the first %d, Adam at %g%s, `bn_stats = %s`, LSLR and per-step BN on. Why: the ablation above shows LSLR "
              "and per-step BN paying off within minutes and DA + CA costing accuracy in a short run, so Adam's rate "
              "stays put, and first order is kept only for the first epochs, to fit the time (a first-order step "
              "costs about half a second-order one); 32 filters buy three times the steps of 64.\n" %
              (rc["num_filters"], rc["epochs"], rc["iters_per_epoch"], rc["batch_size"], rc["first_order_epochs"],
               rc["msl_epochs"], rc["meta_lr"],
               " throughout (CA off)" if rc["meta_lr_min"] == rc["meta_lr"] else " annealed to %g (CA)" % rc["meta_lr_min"],
               rc["bn_stats"]))
    pts, t = [], 0.0
    for row in h:
        t += row["seconds"]
        pts.append((t / 60.0, 100 * row["val_acc"]))
    link = write_chart(a, "recipe_minutes", 760, 360,
                       panel(0, 0, 760, 360, [("validation accuracy (100 tasks)", PALETTE[2], pts, False, 2.0, 1.0)],
                             "minutes of training", "validation accuracy (%)",
                             "Accuracy against minutes: " + os.path.basename(a.recipe)), made)
    md.append("![accuracy against minutes](%s)\n" % link)
    every = max(1, (len(pts) + 9) // 10)
    shown = pts[every - 1::every]
    if shown[-1] is not pts[-1]:
        shown.append(pts[-1])
    md.append("| minutes | " + " | ".join("%.1f" % p[0] for p in shown) + " |")
    md.append("|---" * (len(shown) + 1) + "|")
    md.append("| val. acc. (%) | " + " | ".join("%.1f" % p[1] for p in shown) + " |\n")

    has_png = png_copies(made)
    md.append("---\nCharts: SVG in `docs/results/`%s.\n" % (" with PNG copies beside them" if has_png else
                                                            " (PNG copies need rsvg-convert)"))
    with open(a.report + ".tmp", "w") as f:
        f.write("\n".join(md))
    os.replace(a.report + ".tmp", a.report)
    log("wrote %s and %d charts" % (a.report, len(made)))


def paired(before, after):
    """Mean of the per-task differences after - before and its 95% half-width (1.96 std / sqrt n)."""
    d = [y - x for x, y in zip(before, after)]
    n = len(d)
    m = sum(d) / n
    std = math.sqrt(sum((v - m) ** 2 for v in d) / n)
    return m, 1.96 * std / math.sqrt(n)


def arg_of(run, key):
    for i, v in enumerate(run.args):
        if v == "--set" and run.args[i + 1].startswith(key + "="):
            return run.args[i + 1].split("=", 1)[1]
    return "?"


def lslr_analysis(tables):
    """Sentences computed from the learned rates."""
    out = []
    names, t = tables["transductive"]
    init = INIT_RATE
    neg = [(n, j, v) for n, row in zip(names, t) for j, v in enumerate(row) if v < 0]
    weights = [(n, row) for n, row in zip(names, t) if n.endswith("weight")]
    means = ["%s %.3f" % (n.replace(".weight", ""), sum(row) / len(row)) for n, row in weights]
    biases = [(n, row) for n, row in zip(names, t) if n.endswith("conv.bias")]
    out.append("- Mean rate per weight tensor, input to output: %s (initial %.1f)." % (", ".join(means), init))
    first, last = [row[0] for _, row in weights], [row[-1] for _, row in weights]
    out.append("- First step against last step, per weight tensor: %s." % ", ".join(
        "%.3f → %.3f" % (f, l) for f, l in zip(first, last)))
    out.append("- Negative rates: %d of %d%s." % (
        len(neg), sum(len(r) for r in t),
        (" (" + ", ".join("%s step %d: %.3f" % x for x in neg[:6]) + ")") if neg else ""))
    if biases:
        moved = max(abs(v - init) for _, row in biases for v in row)
        wmoved = max(abs(v - init) for _, row in weights for v in row)
        out.append("- Convolution biases' rates moved at most %.3g from the initial rate (the weights' up to %.3g): a "
                   "bias right before batch norm gets no true gradient, so what they receive is rounding noise." %
                   (moved, wmoved))
    for mode in ("support", "running"):
        n2, t2 = tables[mode]
        d = max(abs(x - y) for r1, r2 in zip(t, t2) for x, y in zip(r1, r2))
        out.append("- `%s` against transductive: the largest difference in any rate is %.3f." % (mode, d))
    out.append("")
    out.append("The paper (its Section 5) observes that the learned rates differ by layer and step, that some "
               "layers learn to barely move in some steps and that some rates turn negative; compare the lines above "
               "and the heat map.\n")
    return "\n".join(out)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", required=True, help="folder with images_background.zip and images_evaluation.zip")
    p.add_argument("--minutes", type=float, default=FULL_MINUTES, help="minutes of training on this project's machine (90: the full set, 95 minutes in all; 8: a small set, 10.5)")
    p.add_argument("--runs", default=os.path.join(ROOT, "runs", "reproduce"), help="where the runs go")
    p.add_argument("--report", default=os.path.join(ROOT, "docs", "RESULTS.md"), help="the report to write")
    p.add_argument("--mamlpp", default=os.path.join(ROOT, "build", "src", "cli", "mamlpp"))
    p.add_argument("--recipe", default=os.path.join(ROOT, "configs", "omniglot-5w1s-20min.json"))
    p.add_argument("--tasks", type=int, default=600, help="test tasks per evaluation (600: the paper's protocol)")
    p.add_argument("--val-tasks", type=int, help="validation tasks per epoch for every run (default: 100, 50 for "
                   "figure 2); for smoke tests")
    p.add_argument("--report-only", action="store_true", help="rewrite the report from finished runs")
    a = p.parse_args()
    if not (0.5 <= a.minutes <= 10000):
        p.error("--minutes must be in [0.5, 10000]")
    for z in ("images_background.zip", "images_evaluation.zip"):
        if not os.path.isfile(os.path.join(a.data_dir, z)):
            p.error("%s has no %s" % (a.data_dir, z))
    a.data_dir = os.path.abspath(a.data_dir)
    a.recipe = os.path.abspath(a.recipe)
    a.runs = os.path.abspath(a.runs)
    os.makedirs(a.runs, exist_ok=True)
    if not (1 <= a.tasks <= 100000) or (a.val_tasks is not None and not (1 <= a.val_tasks <= 100000)):
        p.error("--tasks and --val-tasks must be in [1, 100000]")
    runs = plan(a.minutes, a.recipe, a.val_tasks)
    plan_file = os.path.join(a.runs, "plan.json")
    this = {"minutes": a.minutes, "tasks": a.tasks, "runs": {r.name: r.args for r in runs}}
    if os.path.exists(plan_file):
        old = read_json(plan_file)
        if old["runs"] != this["runs"] or old["tasks"] != this["tasks"]:
            raise SystemExit("reproduce: %s holds runs planned for --minutes %g (or another recipe); give the same "
                             "arguments to resume, or another --runs" % (a.runs, old["minutes"]))
        started, spent = old["started"], old.get("wall_seconds", 0.0)
    else:
        started, spent = datetime.date.today().isoformat(), 0.0
        this.update(started=started, wall_seconds=0.0)
        write_json(plan_file, this)
    t0 = time.time()
    if not a.report_only:
        for i, r in enumerate(runs):
            log("run %d of %d: %s (%s, %d steps)" % (i + 1, len(runs), r.name, r.title, r.steps))
            train(a, r)
            evaluate(a, r)
            state = read_json(plan_file)
            state["wall_seconds"] = spent + time.time() - t0
            write_json(plan_file, state)
    for r in runs:
        d = os.path.join(a.runs, r.name)
        done = os.path.exists(os.path.join(d, "inspect.json")) and (
            not r.evaluate or os.path.exists(os.path.join(d, "eval.json")))
        if not done:
            raise SystemExit("reproduce: run %s has not finished: run without --report-only first" % r.name)
    wall = read_json(plan_file)["wall_seconds"]
    report(a, runs, started, wall)
    return 0


if __name__ == "__main__":
    sys.exit(main())
