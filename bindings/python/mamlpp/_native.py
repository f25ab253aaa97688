"""The raw C interface of libmamlpp through ctypes: library loading, struct mirrors, prototypes.

Nothing here is MAML++ logic; this module only describes ``include/mamlpp/mamlpp.h`` to ctypes.
Everything that returns a ``maml_status`` gets an ``errcheck`` that raises :class:`MamlError`
(see :mod:`mamlpp.errors`), so a failed call never goes unnoticed.

The library is found, in this order:

1. the environment variable ``MAMLPP_LIBRARY`` (a full path to ``libmamlpp.so.1``);
2. ``ctypes.util.find_library("mamlpp")`` (the system's library search, e.g. ``ldconfig``);
3. the plain SONAME ``libmamlpp.so.1`` (``LD_LIBRARY_PATH`` and the default paths).

At load the library's ABI version (``maml_abi_version()``) must equal :data:`ABI_VERSION`, the
ABI major this binding was written for, and its version must be at least
:data:`MIN_LIBRARY_VERSION` (the release that added the newest call or field mirrored here);
otherwise importing :mod:`mamlpp` raises ImportError.
"""

import ctypes
import ctypes.util
import os
import sys

from .errors import raise_for_status

#: The MAMLPP_ABI_VERSION of the header this binding mirrors.
ABI_VERSION = 1

#: The oldest library this binding works with, as maml_version_number() counts (major*10000 +
#: minor*100 + patch): the release of the newest call it needs (1.1.0:
#: maml_set_cuda_deterministic, maml_config.grad_clip_lslr, maml_*_metadata, maml_group_*).
#: The mirror follows the 1.3 header. 1.2's maml_config.adapt_last_layers sits in the slot 1.1
#: named reserved2: a 1.1 library accepts its default 0 and refuses any other value with
#: MAML_E_UNSUPPORTED. 1.3 appended the MLP and regression fields to maml_config and the target
#: pointers to maml_tasks: an older library reads only the struct it knows and refuses a
#: non-zero byte past it with MAML_E_UNSUPPORTED, so conv classifiers keep working on it. The
#: one 1.3 call, maml_adapt_regression, is looked up when used (Model.adapt_regression raises
#: UnsupportedError on an older library), so 1.1 stays enough.
MIN_LIBRARY_VERSION = 10100

#: The library version that added maml_adapt_regression, the MLP backbone and regression.
REGRESSION_LIBRARY_VERSION = 10300

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

BACKBONE_CONV = 0  #: MAML_BACKBONE_CONV: images (C x H x W floats) through conv stages. Since 1.3.
BACKBONE_MLP = 1  #: MAML_BACKBONE_MLP: vectors (input_features floats), linear layers. Since 1.3.
MAX_HIDDEN_LAYERS = 8  #: MAML_MAX_HIDDEN_LAYERS: the length of maml_config.hidden_sizes. Since 1.3.

ACTIVATION_LEAKY_RELU = 0  #: MAML_ACTIVATION_LEAKY_RELU: slope 0.01 below zero. Since 1.3.
ACTIVATION_RELU = 1  #: MAML_ACTIVATION_RELU: the MAML paper's sinusoid network. Since 1.3.

TASK_CLASSIFICATION = 0  #: MAML_TASK_CLASSIFICATION: n_way classes, int32 labels. Since 1.3.
#: MAML_TASK_REGRESSION: n_outputs real values per example, float targets, mean squared error;
#: accuracy is not applicable (NaN). Since 1.3.
TASK_REGRESSION = 1

SAVE_DEFAULT = 0  #: MAML_SAVE_DEFAULT: everything, also what resuming training needs.
SAVE_INFERENCE_ONLY = 1  #: MAML_SAVE_INFERENCE_ONLY: only what adapt and predict need.

#: MAML_GROUP_DEFAULT_TIMEOUT: the seconds a group timeout of 0 means (rendezvous and every
#: collective). Since 1.1.
GROUP_DEFAULT_TIMEOUT = 300.0

# --------------------------------------------------------------------------------------------
# Struct mirrors. Field order and types must equal the C structs exactly; the layout test
# (tests/bindings/layout) compares sizeof/offsetof against a C program compiled from the header.
# --------------------------------------------------------------------------------------------

c_int32 = ctypes.c_int32
c_int64 = ctypes.c_int64
c_uint32 = ctypes.c_uint32
c_uint64 = ctypes.c_uint64
c_float = ctypes.c_float
c_double = ctypes.c_double
c_void_p = ctypes.c_void_p
c_char_p = ctypes.c_char_p
c_size_t = ctypes.c_size_t


#: maml_config, one row per field in the C struct's order: (name, ctypes type, documentation
#: from mamlpp.h ending in the library's default in parentheses; None for struct_size and the
#: reserved* padding, which are not user settings). The C struct only grows at its end, so a
#: field a later header adds is appended here; the ctypes mirror, the Config attributes and their
#: docstrings all come from this table.
CONFIG_FIELDS = (
    ("struct_size", c_uint32, None),
    # task and images
    ("n_way", c_int32, "classes per task, N (5)"),
    ("image_channels", c_int32, "C, image channels (1)"),
    ("image_height", c_int32, "H, image rows (28)"),
    ("image_width", c_int32, "W, image columns (28)"),
    # backbone
    ("num_stages", c_int32, "conv blocks: 3x3 conv -> BN -> LeakyReLU -> 2x2 max-pool (4)"),
    ("num_filters", c_int32, "channels of every conv (64; 48 for Mini-ImageNet)"),
    ("max_pool", c_int32,
     "1: max-pool after each conv; 0: stride-2 convs + global average pool (1)"),
    # inner loop
    ("inner_steps", c_int32, "S, adaptation steps in meta-training (5)"),
    ("eval_inner_steps", c_int32,
     "adaptation steps in evaluation and adapt; steps past inner_steps reuse the last step's "
     "rates and BN row (5)"),
    ("inner_lr", c_float, "initial inner learning rate alpha (0.1)"),
    ("learn_inner_lr", c_int32, "LSLR: learn one rate per adapted tensor per step (1)"),
    ("per_step_bn", c_int32, "BNRS + BNWB: one BN row (gamma, beta, statistics) per step (1)"),
    ("bn_stats", c_int32,
     "statistics BN normalises queries and predictions with: BN_RUNNING / BN_TRANSDUCTIVE / "
     "BN_SUPPORT (BN_SUPPORT)"),
    # outer loop
    ("multi_step_loss", c_int32, "MSL: weighted query losses of every step (1)"),
    ("msl_epochs", c_int32, "MSL is annealed over, and used for, this many epochs (10)"),
    ("second_order", c_int32, "1: second-order meta-gradients (after DA); 0: first order (1)"),
    ("first_order_epochs", c_int32, "DA: first order for this many epochs, then second (50)"),
    ("meta_lr", c_float, "Adam learning rate at epoch 0 (0.001)"),
    ("meta_lr_min", c_float, "CA: cosine-annealed down to this at the last epoch (1e-5)"),
    ("adam_beta1", c_float, "Adam beta1 (0.9)"),
    ("adam_beta2", c_float, "Adam beta2 (0.99)"),
    ("grad_clip", c_float,
     "clamp each meta-gradient element of the network (weights, biases, BN gamma and beta) to "
     "[-v, v], as the reference does; 0 = off; see grad_clip_lslr (0)"),
    ("epochs", c_int32, "schedule horizon in epochs (150)"),
    ("iters_per_epoch", c_int32, "meta-train steps per epoch; epoch = step / this (500)"),
    # execution
    ("device_type", c_int32, "DEVICE_AUTO / DEVICE_CPU / DEVICE_CUDA (DEVICE_AUTO)"),
    ("device_index", c_int32, "CUDA device ordinal (0)"),
    ("reserved0", c_int32, None),
    ("seed", c_uint64, "initialisation seed (0)"),
    ("task_batching", c_int32, "TASKS_AUTO / TASKS_LOOP / TASKS_BATCHED (TASKS_AUTO)"),
    ("num_threads", c_int32, "CPU worker threads for tasks of a meta-batch; 0 = cores (0)"),
    ("dtype", c_int32, "DTYPE_FLOAT32 / DTYPE_FLOAT64 (DTYPE_FLOAT32)"),
    ("reserved1", c_int32, None),
    # ---- the 1.0 struct ends here (136 bytes) ----
    ("grad_clip_lslr", c_int32,
     "1: grad_clip also clamps the inner rates' meta-gradients, libmamlpp 1.0's behaviour; the "
     "reference never clamps them; since 1.1 (0)"),
    ("adapt_last_layers", c_int32,
     "ANIL: the inner loop (meta-training and adapt) adapts only the last k layers (1: the "
     "linear head; each conv stage and the head count one layer), the layers before keep the "
     "meta-weights, and the inner-rate table has rows only for the adapted tensors; 0 = every "
     "layer; valid range [0, num_stages + 1]; since 1.2, the field 1.1 named reserved2 (0)"),
    # ---- the 1.2 struct ends here (144 bytes) ----
    ("backbone", c_int32,
     "what an example is: BACKBONE_CONV (images of C x H x W floats through num_stages conv "
     "stages) or BACKBONE_MLP (vectors of input_features floats through hidden_layers linear "
     "layers); since 1.3 (BACKBONE_CONV)"),
    ("input_features", c_int32,
     "MLP: features per example, D; an example is D floats; valid range [1, 1048576]; since 1.3 "
     "(1)"),
    ("hidden_layers", c_int32,
     "MLP: hidden layers L, each linear -> BN -> activation; valid range [1, "
     "MAX_HIDDEN_LAYERS]; since 1.3 (2)"),
    ("hidden_sizes", c_int32 * MAX_HIDDEN_LAYERS,
     "MLP: units of hidden layers 0..L-1, each in [1, 65536], as a list of MAX_HIDDEN_LAYERS ints "
     "whose entries from L on are 0 (a shorter list is padded with zeros); the MAML paper's "
     "sinusoid network; since 1.3 (40, 40, 0, 0, 0, 0, 0, 0)"),
    ("activation", c_int32,
     "ACTIVATION_LEAKY_RELU or ACTIVATION_RELU, after every conv stage or hidden layer; since 1.3 "
     "(ACTIVATION_LEAKY_RELU)"),
    ("task_kind", c_int32,
     "TASK_CLASSIFICATION (n_way classes, int32 labels, cross-entropy) or TASK_REGRESSION "
     "(n_outputs floats per example, float targets, mean squared error, accuracy NaN); since 1.3 "
     "(TASK_CLASSIFICATION)"),
    ("n_outputs", c_int32,
     "regression: real-valued outputs per example, M; classification uses n_way; valid range "
     "[1, 100000]; since 1.3 (1)"),
    ("batch_norm", c_int32,
     "1: batch norm after every conv stage or hidden layer (per step with per_step_bn); 0: none, "
     "as the MAML paper's sinusoid MLP, and then per_step_bn and bn_stats have no effect; since "
     "1.3 (1)"),
    ("reserved3", c_int32, None),
    # ---- the 1.3 struct ends here (208 bytes) ----
)

#: The documentation of every user-settable maml_config field, for Config's properties.
CONFIG_FIELD_DOCS = dict((name, doc) for name, _, doc in CONFIG_FIELDS if doc is not None)


class maml_config(ctypes.Structure):
    """Mirror of ``maml_config`` (ABI 1, as of 1.3). Fill with defaults through
    :func:`config_defaults`."""

    _fields_ = [(name, ctype) for name, ctype, _ in CONFIG_FIELDS]


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
        # ---- the 1.0 struct ends here (48 bytes) ----
        ("support_t", ctypes.POINTER(c_float)),  # regression targets (since 1.3), else NULL
        ("query_t", ctypes.POINTER(c_float)),
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


def _split_version(number):
    return number // 10000, number // 100 % 100, number % 100


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
lib.maml_version_number.restype = c_int32
lib.maml_version_number.argtypes = []
_version = lib.maml_version_number()
if _version < MIN_LIBRARY_VERSION:
    raise ImportError(
        "mamlpp: %s is libmamlpp %d.%d.%d, but this Python binding needs %d.%d.%d or later; "
        "install a newer libmamlpp or an older binding."
        % ((library_path,) + _split_version(_version) + _split_version(MIN_LIBRARY_VERSION))
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
_proto("maml_set_cuda_deterministic", None, [c_int32])
# Not maml_config_init: the exported symbol of that name writes exactly the 1.0 struct (the header
# maps the name to maml_config_init_sized(cfg, sizeof(maml_config))); this mirror passes its size.
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
#: maml_adapt_regression (since 1.3), or None when the library is older: looked up here rather
#: than required, so that the binding still loads libmamlpp 1.1 and 1.2.
adapt_regression = (_proto("maml_adapt_regression", c_int32,
                           [c_void_p, c_void_p, c_void_p, c_int32, _P(c_void_p)])
                    if hasattr(lib, "maml_adapt_regression") else None)
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
_proto("maml_set_metadata", c_int32, [c_void_p, c_char_p, c_char_p])
# char** outputs as void pointers: the strings are copied out, then released with maml_buffer_free.
_proto("maml_get_metadata", c_int32, [c_void_p, c_char_p, _P(c_void_p)])
_proto("maml_list_metadata", c_int32, [c_void_p, _P(c_void_p), _P(c_size_t)])
# Process groups (since 1.1); maml_group* handles are void pointers like the others.
_proto("maml_group_join_env", c_int32, [c_double, _P(c_void_p)])
_proto("maml_group_join", c_int32,
       [c_char_p, c_int32, c_int32, c_int32, c_int32, c_double, _P(c_void_p)])
_proto("maml_group_rank", c_int32, [c_void_p, _P(c_int32), _P(c_int32), _P(c_int32)])
_proto("maml_group_attach", c_int32, [c_void_p, c_void_p])
_proto("maml_group_detach", c_int32, [c_void_p])
_proto("maml_group_allreduce_sum", c_int32, [c_void_p, c_void_p, c_int64])
_proto("maml_group_free", None, [c_void_p])


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
