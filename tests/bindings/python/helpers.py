"""Shared helpers for the Python binding tests: a tiny model config and deterministic data."""
import array
import os
import random
import sys

# Make `import mamlpp` work when run from the source tree without PYTHONPATH.
_HERE = os.path.dirname(os.path.abspath(__file__))
_SRC = os.path.abspath(os.path.join(_HERE, "..", "..", "..", "bindings", "python"))
if _SRC not in sys.path:
    sys.path.insert(0, _SRC)

import mamlpp  # noqa: E402

N_WAY = 3
C, H, W = 1, 8, 8
PIX = C * H * W


def tiny_config(**over):
    """A model that trains in milliseconds on one CPU thread."""
    fields = dict(n_way=N_WAY, image_channels=C, image_height=H, image_width=W, num_stages=2,
                  num_filters=4, inner_steps=1, eval_inner_steps=2, device_type=mamlpp.DEVICE_CPU,
                  num_threads=1, task_batching=mamlpp.TASKS_LOOP, seed=7)
    fields.update(over)
    return mamlpp.Config(**fields)


def images(n, seed=0):
    """n images of PIX floats in [0, 1) as a flat array.array('f')."""
    rnd = random.Random(seed)
    return array.array("f", [rnd.random() for _ in range(n * PIX)])


def labels(num_tasks, per_task):
    """Labels 0..N_WAY-1 cycled, per_task per task, as a list of lists (shape (B, per_task))."""
    return [[i % N_WAY for i in range(per_task)] for _ in range(num_tasks)]


def batch(num_tasks=2, support=3, query=3, seed=1):
    """(support_x, support_y, query_x, query_y) with 2-D labels."""
    return (images(num_tasks * support, seed), labels(num_tasks, support),
            images(num_tasks * query, seed + 100), labels(num_tasks, query))


def layout_json_path_or_program():
    """(json_path, program) from MAMLPP_LAYOUT_JSON / MAMLPP_LAYOUT_PROGRAM (either may be None)."""
    return os.environ.get("MAMLPP_LAYOUT_JSON"), os.environ.get("MAMLPP_LAYOUT_PROGRAM")


REPO_ROOT = os.path.abspath(os.path.join(_HERE, "..", "..", ".."))
