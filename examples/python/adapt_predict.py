#!/usr/bin/env python3
"""Few-shot adaptation with libmamlpp from Python: load a meta-initialisation, adapt it to five
labelled examples, classify new images.

    adapt_predict.py MODEL.maml TASKS.bin [EXPECTED.txt]

MODEL.maml   a model saved by libmamlpp (e.g. the `example_model` test fixture)
TASKS.bin    one task in the fixture format of tests/fixtures/README.md: labelled support images
             and query images (with their true labels)
EXPECTED.txt optional: what the C ABI predicted for the same queries (example_expected.txt);
             the labels must match and the logits agree to 1e-4 (relative), else exit status 1

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


def main(argv):
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
                worst = max(worst, abs(got - want) / max(abs(want), 1e-3))
        print("matches %s (largest relative logit difference %.2g)" % (argv[3], worst))
        if worst > 1e-4:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
