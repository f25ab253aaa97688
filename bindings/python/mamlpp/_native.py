"""The raw C interface of libmamlpp through ctypes: library loading, struct mirrors, prototypes.

Nothing here is MAML++ logic; this module only describes ``include/mamlpp/mamlpp.h`` to ctypes.
Everything that returns a ``maml_status`` gets an ``errcheck`` that raises :class:`MamlError`
(see :mod:`mamlpp.errors`), so a failed call never goes unnoticed.

The library is found, in this order:

1. the environment variable ``MAMLPP_LIBRARY`` (a full path to ``libmamlpp.so.1``);
2. ``ctypes.util.find_library("mamlpp")`` (the system's library search, e.g. ``ldconfig``);
3. the plain SONAME ``libmamlpp.so.1`` (``LD_LIBRARY_PATH`` and the default paths).

At load the library's ABI version (``maml_abi_version()``) must equal :data:`ABI_VERSION`, the
ABI major this binding was written for; otherwise importing :mod:`mamlpp` raises ImportError.
"""

import ctypes
import ctypes.util
import os
import sys

from .errors import raise_for_status

#: The MAMLPP_ABI_VERSION of the header this binding mirrors.
ABI_VERSION = 1

# --------------------------------------------------------------------------------------------
# Constants (the #defines of mamlpp.h)
# --------------------------------------------------------------------------------------------

DEVICE_AUTO = 0  #: MAML_DEVICE_AUTO: CUDA when LibTorch sees a GPU, else CPU.
DEVICE_CPU = 1  #: MAML_DEVICE_CPU
DEVICE_CUDA = 2  #: MAML_DEVICE_CUDA

BN_RUNNING = 0  #: MAML_BN_RUNNING: per-step running statistics from meta-training (BNRS).
BN_TRANSDUCTIVE = 1  #: MAML_BN_TRANSDUCTIVE: statistics of the batch being evaluated.
BN_SUPPORT = 2  #: MAML_BN_SUPPORT: statistics of the support set, kept in the learner.

TASKS_AUTO = 0  #: MAML_TASKS_AUTO: the inner-loop path measured faster on the device.
TASKS_LOOP = 1  #: MAML_TASKS_LOOP: one task after another.
TASKS_BATCHED = 2  #: MAML_TASKS_BATCHED: all tasks at once (grouped convolutions).

DTYPE_FLOAT32 = 0  #: MAML_DTYPE_FLOAT32
DTYPE_FLOAT64 = 1  #: MAML_DTYPE_FLOAT64

SAVE_DEFAULT = 0  #: MAML_SAVE_DEFAULT: everything, also what resuming training needs.
SAVE_INFERENCE_ONLY = 1  #: MAML_SAVE_INFERENCE_ONLY: only what adapt and predict need.

# --------------------------------------------------------------------------------------------
# Struct mirrors. Field order and types must equal the C structs exactly; the layout test
# (tests/bindings/layout) compares sizeof/offsetof against a C program compiled from the header.
# --------------------------------------------------------------------------------------------

c_int32 = ctypes.c_int32
c_int64 = ctypes.c_int64
c_uint32 = ctypes.c_uint32
c_uint64 = ctypes.c_uint64
c_float = ctypes.c_float
c_void_p = ctypes.c_void_p
c_char_p = ctypes.c_char_p
c_size_t = ctypes.c_size_t


class maml_config(ctypes.Structure):
    """Mirror of ``maml_config`` (ABI 1). Fill with defaults through :func:`config_defaults`."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("n_way", c_int32),
        ("image_channels", c_int32),
        ("image_height", c_int32),
        ("image_width", c_int32),
        ("num_stages", c_int32),
        ("num_filters", c_int32),
        ("max_pool", c_int32),
        ("inner_steps", c_int32),
        ("eval_inner_steps", c_int32),
        ("inner_lr", c_float),
        ("learn_inner_lr", c_int32),
        ("per_step_bn", c_int32),
        ("bn_stats", c_int32),
        ("multi_step_loss", c_int32),
        ("msl_epochs", c_int32),
        ("second_order", c_int32),
        ("first_order_epochs", c_int32),
        ("meta_lr", c_float),
        ("meta_lr_min", c_float),
        ("adam_beta1", c_float),
        ("adam_beta2", c_float),
        ("grad_clip", c_float),
        ("epochs", c_int32),
        ("iters_per_epoch", c_int32),
        ("device_type", c_int32),
        ("device_index", c_int32),
        ("reserved0", c_int32),
        ("seed", c_uint64),
        ("task_batching", c_int32),
        ("num_threads", c_int32),
        ("dtype", c_int32),
        ("reserved1", c_int32),
    ]


class maml_tasks(ctypes.Structure):
    """Mirror of ``maml_tasks``: a meta-batch in host memory (pointers read during the call)."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("num_tasks", c_int32),
        ("support_size", c_int32),
        ("query_size", c_int32),
        ("support_x", ctypes.POINTER(c_float)),
        ("support_y", ctypes.POINTER(c_int32)),
        ("query_x", ctypes.POINTER(c_float)),
        ("query_y", ctypes.POINTER(c_int32)),
    ]


class maml_metrics(ctypes.Structure):
    """Mirror of ``maml_metrics``: what a training or evaluation call measured."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("loss", c_float),
        ("accuracy", c_float),
        ("meta_lr", c_float),
        ("second_order", c_int32),
        ("reserved0", c_int32),
        ("step", c_int64),
        ("epoch", c_int64),
    ]


#: The documentation of every maml_config field (from mamlpp.h), used for Config's properties.
CONFIG_FIELD_DOCS = {
    "n_way": "classes per task, N (default 5)",
    "image_channels": "C, image channels (1)",
    "image_height": "H, image rows (28)",
    "image_width": "W, image columns (28)",
    "num_stages": "conv blocks: 3x3 conv -> BN -> LeakyReLU -> 2x2 max-pool (4)",
    "num_filters": "channels of every conv (64; 48 for Mini-ImageNet)",
    "max_pool": "1: max-pool after each conv; 0: stride-2 convs + global average pool",
    "inner_steps": "S, adaptation steps in meta-training (5)",
    "eval_inner_steps": "adaptation steps in evaluation and adapt (5)",
    "inner_lr": "initial inner learning rate alpha (0.1)",
    "learn_inner_lr": "LSLR: learn one rate per adapted tensor per step (1)",
    "per_step_bn": "BNRS + BNWB: one BN row (gamma, beta, statistics) per step (1)",
    "bn_stats": "BN_RUNNING / BN_TRANSDUCTIVE / BN_SUPPORT (BN_RUNNING)",
    "multi_step_loss": "MSL: weighted query losses of every step (1)",
    "msl_epochs": "MSL is annealed over, and used for, this many epochs (10)",
    "second_order": "1: second-order meta-gradients (after DA); 0: first order (1)",
    "first_order_epochs": "DA: first order for this many epochs, then second (50)",
    "meta_lr": "Adam learning rate at epoch 0 (0.001)",
    "meta_lr_min": "CA: cosine-annealed down to this at the last epoch (1e-5)",
    "adam_beta1": "Adam beta1 (0.9)",
    "adam_beta2": "Adam beta2 (0.99)",
    "grad_clip": "clamp each meta-gradient element to [-v, v]; 0 = off (0)",
    "epochs": "schedule horizon in epochs (150)",
    "iters_per_epoch": "meta-train steps per epoch (500); epoch = step / this",
    "device_type": "DEVICE_AUTO / DEVICE_CPU / DEVICE_CUDA (DEVICE_AUTO)",
    "device_index": "CUDA device ordinal (0)",
    "seed": "initialisation seed (0)",
    "task_batching": "TASKS_AUTO / TASKS_LOOP / TASKS_BATCHED (TASKS_AUTO)",
    "num_threads": "CPU worker threads for tasks of a meta-batch; 0 = cores (0)",
    "dtype": "DTYPE_FLOAT32 / DTYPE_FLOAT64 (DTYPE_FLOAT32)",
}

# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def _candidates():
    """The library names/paths to try, in order, with where each came from."""
    out = []
    env = os.environ.get("MAMLPP_LIBRARY")
    if env:
        out.append((env, "MAMLPP_LIBRARY"))
        return out  # an explicit choice is never silently replaced by another library
    found = ctypes.util.find_library("mamlpp")
    if found:
        out.append((found, "ctypes.util.find_library('mamlpp')"))
    out.append(("libmamlpp.so.%d" % ABI_VERSION, "the default library search path"))
    return out


def _load():
    errors = []
    for name, origin in _candidates():
        try:
            return ctypes.CDLL(name), name
        except OSError as e:
            errors.append("  %s (from %s): %s" % (name, origin, e))
    raise ImportError(
        "mamlpp: cannot load libmamlpp. Tried:\n%s\n"
        "Set MAMLPP_LIBRARY to the full path of libmamlpp.so.%d, or add its folder to "
        "LD_LIBRARY_PATH." % ("\n".join(errors), ABI_VERSION)
    )


lib, library_path = _load()

lib.maml_abi_version.restype = c_int32
lib.maml_abi_version.argtypes = []
_abi = lib.maml_abi_version()
if _abi != ABI_VERSION:
    raise ImportError(
        "mamlpp: %s has ABI version %d, but this Python binding was written for ABI version %d; "
        "install a matching libmamlpp (libmamlpp.so.%d) or a binding for ABI %d."
        % (library_path, _abi, ABI_VERSION, ABI_VERSION, _abi)
    )

# --------------------------------------------------------------------------------------------
# Prototypes
# --------------------------------------------------------------------------------------------


def _errcheck(result, func, args):
    if result != 0:
        raise_for_status(result, lib.maml_last_error().decode("utf-8", "replace"), func.__name__)
    return result


def _proto(name, restype, argtypes, checked=None):
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = argtypes
    if checked or (checked is None and restype is c_int32):
        f.errcheck = _errcheck
    return f


_P = ctypes.POINTER

# Data pointers are passed as c_void_p (integer addresses from array.array/numpy/ctypes buffers).
_proto("maml_version_string", c_char_p, [])
_proto("maml_version_number", c_int32, [], checked=False)
_proto("maml_last_error", c_char_p, [])
_proto("maml_status_string", c_char_p, [c_int32])
_proto("maml_cuda_device_count", c_int32, [], checked=False)
_proto("maml_cuda_memory", c_int32, [c_int32, c_int32, _P(c_int64), _P(c_int64)])
_proto("maml_config_init", None, [_P(maml_config)])
_proto("maml_config_init_sized", c_int32, [_P(maml_config), c_uint32])
_proto("maml_create", c_int32, [_P(maml_config), _P(c_void_p)])
_proto("maml_free", None, [c_void_p])
_proto("maml_meta_train_step", c_int32, [c_void_p, _P(maml_tasks), _P(maml_metrics)])
_proto("maml_evaluate", c_int32, [c_void_p, _P(maml_tasks), _P(maml_metrics)])
_proto("maml_get_config", c_int32, [c_void_p, _P(maml_config)])
_proto("maml_get_step", c_int32, [c_void_p, _P(c_int64)])
_proto("maml_get_device", c_int32, [c_void_p, _P(c_int32), _P(c_int32)])
_proto("maml_num_parameters", c_int32, [c_void_p, _P(c_int64)])
_proto("maml_adapt", c_int32, [c_void_p, c_void_p, c_void_p, c_int32, _P(c_void_p)])
_proto("maml_adapt_tasks", c_int32, [c_void_p, _P(maml_tasks), c_void_p])
_proto("maml_predict", c_int32, [c_void_p, c_void_p, c_int32, c_void_p, c_void_p])
_proto("maml_learner_n_way", c_int32, [c_void_p, _P(c_int32)])
_proto("maml_learner_free", None, [c_void_p])
_proto("maml_inner_lr_shape", c_int32, [c_void_p, _P(c_int32), _P(c_int32)])
_proto("maml_get_inner_lrs", c_int32, [c_void_p, c_void_p, c_int64])
_proto("maml_inner_lr_name", c_int32, [c_void_p, c_int32, _P(c_char_p)])
_proto("maml_save", c_int32, [c_void_p, c_char_p])
_proto("maml_save_ex", c_int32, [c_void_p, c_char_p, c_int32])
_proto("maml_load", c_int32, [c_char_p, c_int32, c_int32, _P(c_void_p)])
_proto("maml_save_buffer", c_int32, [c_void_p, _P(c_void_p), _P(c_size_t)])
_proto("maml_save_buffer_ex", c_int32, [c_void_p, c_int32, _P(c_void_p), _P(c_size_t)])
_proto("maml_load_buffer", c_int32, [c_void_p, c_size_t, c_int32, c_int32, _P(c_void_p)])
_proto("maml_buffer_free", None, [c_void_p])


def config_defaults():
    """A new :class:`maml_config` holding the library's defaults (maml_config_init_sized with
    this mirror's size, so it stays correct against a newer library with a larger struct)."""
    cfg = maml_config()
    lib.maml_config_init_sized(ctypes.byref(cfg), ctypes.sizeof(cfg))
    return cfg


def new_metrics():
    """A zeroed :class:`maml_metrics` with struct_size set."""
    m = maml_metrics()
    m.struct_size = ctypes.sizeof(m)
    return m


def new_tasks():
    """A zeroed :class:`maml_tasks` with struct_size set."""
    t = maml_tasks()
    t.struct_size = ctypes.sizeof(t)
    return t


LITTLE_ENDIAN = sys.byteorder == "little"
