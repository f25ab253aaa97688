#!/usr/bin/env python3
"""Few-shot adaptation with libmamlpp from Python: load a meta-initialisation, adapt it to five
labelled examples, classify new images.

    adapt_predict.py --make-example DIR [--steps N]
    adapt_predict.py MODEL.maml TASKS.bin [EXPECTED.txt]

--make-example DIR  needs nothing but the library: meta-trains a small model on synthetic glyph
             tasks made here (N steps, default 40: ten seconds or so), saves it as DIR/model.maml,
             writes one task of unseen classes as DIR/task.bin, then adapts and predicts as
             below. The Rust and Go examples take the same two files.
MODEL.maml   a model saved by libmamlpp (e.g. DIR/model.maml, or the `example_model` test fixture)
TASKS.bin    one task in the fixture format of tests/fixtures/README.md: labelled support images
             and query images (with their true labels)
EXPECTED.txt optional: what the C ABI predicted for the same queries (example_expected.txt);
             the labels must match and the logits agree to 1e-4 (relative to max(|logit|, 1), as
             the Go and Rust examples check), else exit status 1

Prints one line per query: its true label, the predicted label and the logits. Standard library
only (numpy is not needed); the library is found through MAMLPP_LIBRARY or the system's search.
"""
import array
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "bindings", "python"))
import mamlpp  # noqa: E402


def read_tasks(path):
    """(n_way, (C, H, W), support_x, support_y, query_x, query_y) from a MAMLTASK file."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 36 or data[:8] != b"MAMLTASK":
        raise ValueError("%s: not a MAMLTASK file" % path)
    version, n_way, c, h, w, n_support, n_query = struct.unpack_from("<7i", data, 8)
    if version != 1:
        raise ValueError("%s: format version %d, this reader knows 1" % (path, version))
    pix = c * h * w
    offset = 36

    def take(typecode, count):
        nonlocal offset
        a = array.array(typecode)
        nbytes = 4 * count
        if offset + nbytes > len(data):
            raise ValueError("%s: truncated" % path)
        a.frombytes(data[offset:offset + nbytes])
        if sys.byteorder != "little":
            a.byteswap()
        offset += nbytes
        return a

    support_x = take("f", n_support * pix)
    support_y = take("i", n_support)
    query_x = take("f", n_query * pix)
    query_y = take("i", n_query)
    return n_way, (c, h, w), support_x, support_y, query_x, query_y


def read_expected(path):
    """[(true_label, predicted_label, [logits])] from example_expected.txt."""
    rows = []
    with open(path) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            fields = line.split()
            rows.append((int(fields[1]), int(fields[2]), [float(v) for v in fields[3:]]))
    return rows


# --- --make-example: a model and a task from nothing but the library -------------------------

SIDE = 28


def glyph(rng):
    """A class: three random strokes (start, end) on the canvas."""
    return [(rng.uniform(4, SIDE - 5), rng.uniform(4, SIDE - 5), rng.uniform(4, SIDE - 5),
             rng.uniform(4, SIDE - 5)) for _ in range(3)]


def draw(strokes, rng):
    """One example of a class: its strokes shifted by up to two pixels, plus pixel noise."""
    dx, dy = rng.randint(-2, 2), rng.randint(-2, 2)
    img = [0.0] * (SIDE * SIDE)
    for x0, y0, x1, y1 in strokes:
        for t in range(24):
            x = int(round(x0 + (x1 - x0) * t / 23.0)) + dx
            y = int(round(y0 + (y1 - y0) * t / 23.0)) + dy
            for yy in (y, y + 1):
                for xx in (x, x + 1):
                    if 0 <= xx < SIDE and 0 <= yy < SIDE:
                        img[yy * SIDE + xx] = 1.0
    return [v + rng.gauss(0.0, 0.1) for v in img]


def make_task(classes, n_way, k, q, rng):
    """(support_x, support_y, query_x, query_y) of n_way classes drawn from `classes`."""
    chosen = rng.sample(classes, n_way)
    sx, sy, qx, qy = [], [], [], []
    for label, strokes in enumerate(chosen):
        for _ in range(k):
            sx += draw(strokes, rng)
            sy.append(label)
        for _ in range(q):
            qx += draw(strokes, rng)
            qy.append(label)
    return sx, sy, qx, qy


def make_example(out_dir, steps):
    import random
    rng = random.Random(0)
    train_classes = [glyph(rng) for _ in range(200)]
    test_classes = [glyph(rng) for _ in range(20)]  # never seen in training
    n_way, k, q, batch = 5, 1, 3, 4
    cfg = mamlpp.Config(n_way=n_way, num_stages=3, num_filters=16, inner_steps=2, eval_inner_steps=2,
                        epochs=1, iters_per_epoch=steps, msl_epochs=1, first_order_epochs=0)
    os.makedirs(out_dir, exist_ok=True)
    model_path = os.path.join(out_dir, "model.maml")
    with mamlpp.Model(cfg) as model:
        for step in range(steps):
            sx, sy, qx, qy = [], [], [], []
            for _ in range(batch):
                t = make_task(train_classes, n_way, k, q, rng)
                sx += t[0]; sy += t[1]; qx += t[2]; qy += t[3]
            m = model.meta_train_step(sx, sy, qx, qy, num_tasks=batch)
            if step % 10 == 0 or step == steps - 1:
                print("meta-train step %3d: query accuracy %.2f" % (step + 1, m.accuracy))
        model.save(model_path)
    sx, sy, qx, qy = make_task(test_classes, n_way, k, q, rng)
    tasks_path = os.path.join(out_dir, "task.bin")
    with open(tasks_path, "wb") as f:
        f.write(b"MAMLTASK" + struct.pack("<7i", 1, n_way, 1, SIDE, SIDE, len(sy), len(qy)))
        for typecode, values in (("f", sx), ("i", sy), ("f", qx), ("i", qy)):
            a = array.array(typecode, values)
            if sys.byteorder != "little":
                a.byteswap()
            f.write(a.tobytes())
    print("wrote %s and %s" % (model_path, tasks_path))
    return model_path, tasks_path


def main(argv):
    if len(argv) >= 3 and argv[1] == "--make-example":
        steps = 40
        if len(argv) == 5 and argv[3] == "--steps":
            steps = int(argv[4])
        elif len(argv) != 3:
            print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
            return 2
        argv = [argv[0]] + list(make_example(argv[2], steps))
    if len(argv) not in (3, 4):
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
        return 2
    model_path, tasks_path = argv[1], argv[2]
    n_way, shape, support_x, support_y, query_x, query_y = read_tasks(tasks_path)

    with mamlpp.Model.load(model_path, device="cpu") as model:
        print("libmamlpp %s, model: %d-way, %dx%dx%d images, %d meta-train steps, %s"
              % (mamlpp.version(), model.config.n_way, *model.image_shape, model.step,
                 model.device))
        if model.image_shape != shape or model.config.n_way != n_way:
            print("the tasks (%d-way, %s) do not fit the model" % (n_way, shape), file=sys.stderr)
            return 1
        with model.adapt(support_x, support_y) as learner:
            labels, logits = learner.predict(query_x)

    k = n_way
    correct = 0
    print("query true predicted logits")
    for i, label in enumerate(labels):
        row = logits[i * k:(i + 1) * k]
        correct += label == query_y[i]
        print("%5d %4d %9d  %s" % (i, query_y[i], label, " ".join("%9.5f" % v for v in row)))
    print("%d of %d right" % (correct, len(labels)))

    if len(argv) == 4:
        expected = read_expected(argv[3])
        if len(expected) != len(labels):
            print("expected %d queries, got %d" % (len(expected), len(labels)), file=sys.stderr)
            return 1
        worst = 0.0
        for i, (truth, want_label, want_logits) in enumerate(expected):
            if labels[i] != want_label or query_y[i] != truth:
                print("query %d: label %d, the C ABI gave %d" % (i, labels[i], want_label),
                      file=sys.stderr)
                return 1
            for got, want in zip(logits[i * k:(i + 1) * k], want_logits):
                worst = max(worst, abs(got - want) / max(abs(want), 1.0))
        print("matches %s (largest relative logit difference %.2g)" % (argv[3], worst))
        if worst > 1e-4:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
