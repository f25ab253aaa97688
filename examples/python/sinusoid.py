#!/usr/bin/env python3
"""Few-shot regression with libmamlpp from Python: the MAML paper's sinusoid problem.

    sinusoid.py [--steps N] [--out FILE] [--seed S] [--quiet]

Each task is a sinusoid y = A sin(x + phase) with amplitude A drawn from U[0.1, 5], phase from
U[0, pi], and inputs x from U[-5, 5]. The model is the paper's network: a multi-layer perceptron
1 -> 40 -> 40 -> 1 with ReLU and no batch norm (libmamlpp's MLP backbone, since 1.3), learning
real values (task_kind regression: mean squared error, float targets).

1. Meta-trains for N steps (default 1000: about 8 seconds on two CPU cores, measured; the paper
   trains 70000), each on a meta-batch of 25 sinusoids with K = 10 support and 10 query points.
2. Draws a new sinusoid, adapts the model to 10 of its points and prints the mean squared error
   on 100 other points: after adapting the meta-trained model, after adapting a fresh model of
   the same configuration (not meta-trained), and, for scale, of predicting 0 everywhere.
3. Saves the model (to FILE, default a temporary file), loads it back, adapts the reloaded model
   to the same 10 points and checks that its 100 predictions are identical.

Standard library only (numpy is not needed); the library is found through MAMLPP_LIBRARY or the
system's search. Exit status 0 if everything worked and the reloaded model predicts identically.
"""
import argparse
import math
import os
import random
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "bindings", "python"))
import mamlpp  # noqa: E402

META_BATCH = 25  # sinusoids per meta-training step
K = 10           # support points per sinusoid (the few shots)
QUERIES = 10     # query points per sinusoid in meta-training
TEST_POINTS = 100


def config(steps, seed):
    """The MAML paper's sinusoid network as a libmamlpp config."""
    return mamlpp.Config(
        backbone=mamlpp.BACKBONE_MLP, input_features=1,
        hidden_layers=2, hidden_sizes=[40, 40], activation=mamlpp.ACTIVATION_RELU,
        batch_norm=0,                        # the paper's network has none
        task_kind=mamlpp.TASK_REGRESSION, n_outputs=1,
        inner_steps=1, eval_inner_steps=5,   # one step in training; five when adapting
        inner_lr=0.05, learn_inner_lr=1,     # the rate is meta-learned from 0.05 (LSLR)
        multi_step_loss=0, first_order_epochs=0,
        meta_lr=0.003, epochs=1, iters_per_epoch=max(steps, 1),  # cosine-annealed over the run
        task_batching=mamlpp.TASKS_BATCHED,  # all 25 tasks at once: fastest for this MLP
        device_type=mamlpp.DEVICE_CPU, seed=seed)


class Sinusoid(object):
    """One task: y = amplitude * sin(x + phase)."""

    def __init__(self, rnd):
        self.amplitude = rnd.uniform(0.1, 5.0)
        self.phase = rnd.uniform(0.0, math.pi)

    def sample(self, rnd, n):
        """(x, y) of n points with x in U[-5, 5]."""
        x = [rnd.uniform(-5.0, 5.0) for _ in range(n)]
        return x, [self.amplitude * math.sin(v + self.phase) for v in x]


def meta_batch(rnd):
    """support_x, support_t, query_x, query_t: META_BATCH lists (one per task) of points."""
    sx, st, qx, qt = [], [], [], []
    for _ in range(META_BATCH):
        task = Sinusoid(rnd)
        x, t = task.sample(rnd, K + QUERIES)
        sx.append(x[:K])
        st.append(t[:K])
        qx.append(x[K:])
        qt.append(t[K:])
    return sx, st, qx, qt


def mse(predicted, target):
    return sum((p - t) ** 2 for p, t in zip(predicted, target)) / len(target)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=1000, help="meta-training steps (default 1000)")
    ap.add_argument("--out", help="where to save the model (default: a temporary file)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the tasks and the model")
    ap.add_argument("--quiet", action="store_true", help="no progress lines")
    a = ap.parse_args(argv)
    if a.steps < 0:
        ap.error("--steps must be >= 0")

    print("libmamlpp %s, Python binding %s" % (mamlpp.version(), mamlpp.__version__))
    rnd = random.Random(a.seed)
    cfg = config(a.steps, a.seed)
    tmp = None if a.out else tempfile.mkdtemp(prefix="mamlpp-sinusoid-")
    path = a.out or os.path.join(tmp, "sinusoid.maml")
    try:
        with mamlpp.Model(cfg) as model, mamlpp.Model(cfg) as fresh:
            print("model: MLP 1 -> 40 -> 40 -> 1 (ReLU), %d parameters; meta-training %d steps "
                  "of %d sinusoids (K = %d)" % (model.num_parameters, a.steps, META_BATCH, K))
            start = time.time()
            for step in range(1, a.steps + 1):
                sx, st, qx, qt = meta_batch(rnd)
                m = model.meta_train_step(sx, query_x=qx, support_t=st, query_t=qt)
                if not a.quiet and (step % max(a.steps // 10, 1) == 0 or step == a.steps):
                    print("  step %5d  query MSE %.3f  (%.1f s)" % (step, m.loss,
                                                                  time.time() - start))

            # A new sinusoid: adapt to K of its points, measure on TEST_POINTS others. It has a
            # generator of its own, so that it is the same sinusoid whatever --steps is.
            test_rnd = random.Random(a.seed + 1000)
            task = Sinusoid(test_rnd)
            x, t = task.sample(test_rnd, K)
            test_x, test_t = task.sample(test_rnd, TEST_POINTS)
            print("new sinusoid: amplitude %.3f, phase %.3f; adapting to %d points, measuring on "
                  "%d others" % (task.amplitude, task.phase, K, TEST_POINTS))
            with model.adapt_regression(x, t) as learner, \
                    fresh.adapt_regression(x, t) as untrained:
                predicted = learner.predict(test_x)
                print("  MSE of predicting 0 everywhere:             %8.4f"
                      % mse([0.0] * len(test_t), test_t))
                print("  MSE after adapting a fresh model:           %8.4f"
                      % mse(untrained.predict(test_x), test_t))
                print("  MSE after adapting the meta-trained model:  %8.4f"
                      % mse(predicted, test_t))

            model.save(path)
        with mamlpp.Model.load(path, device="cpu") as reloaded, \
                reloaded.adapt_regression(x, t) as learner:
            again = learner.predict(test_x)
        if list(again) != list(predicted):
            worst = max(abs(u - v) for u, v in zip(again, predicted))
            print("FAIL: the reloaded model predicts differently (largest difference %g)" % worst)
            return 1
        print("saved %s and loaded it back: save/load round trip exact (%d identical predictions)"
              % (path if a.out else "the model", len(again)))
        return 0
    except mamlpp.MamlError as e:
        print("sinusoid: %s failed: %s: %s" % (e.function, e.status_name, e.message),
              file=sys.stderr)
        return 1
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
