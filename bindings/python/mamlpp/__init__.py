"""mamlpp: Python bindings for libmamlpp, MAML++ meta-learning behind a stable C ABI.

A thin ctypes wrapper (standard library only; numpy is used when importable, never required) over
``include/mamlpp/mamlpp.h``. Every C call maps to one method; the library does all the work and
all the validation, and every failure raises a :class:`MamlError` carrying the status and the
library's message.

Example::

    import mamlpp
    cfg = mamlpp.Config(n_way=5, num_filters=32, device_type=mamlpp.DEVICE_CPU)
    with mamlpp.Model(cfg) as model:
        m = model.meta_train_step(support_x, support_y, query_x, query_y)   # -> Metrics
        model.save("omniglot.maml", inference_only=True)
    with mamlpp.Model.load("omniglot.maml", device="cpu") as model, \\
         model.adapt(support_x, support_y) as learner:
        labels, logits = learner.predict(query_x)

Regression (since 1.3) on vectors, e.g. the MAML paper's sinusoid network::

    cfg = mamlpp.Config(backbone=mamlpp.BACKBONE_MLP, input_features=1, hidden_layers=2,
                        hidden_sizes=[40, 40], activation=mamlpp.ACTIVATION_RELU, batch_norm=0,
                        task_kind=mamlpp.TASK_REGRESSION, n_outputs=1)
    with mamlpp.Model(cfg) as model:
        model.meta_train_step(support_x, query_x=query_x, support_t=support_t, query_t=query_t)
        with model.adapt_regression(x, t) as learner:
            values = learner.predict(new_x)      # n * n_outputs floats

The shared library is found through ``MAMLPP_LIBRARY`` (a full path), else the system's library
search (``libmamlpp.so.1``); importing fails with ImportError if it is missing or its ABI version
is not :data:`ABI_VERSION`.
"""

import ctypes

from . import _native
from ._buffers import HAVE_NUMPY
from ._native import (
    ABI_VERSION,
    ACTIVATION_LEAKY_RELU,
    ACTIVATION_RELU,
    BACKBONE_CONV,
    BACKBONE_MLP,
    MAX_HIDDEN_LAYERS,
    TASK_CLASSIFICATION,
    TASK_REGRESSION,
    BN_RUNNING,
    BN_SUPPORT,
    BN_TRANSDUCTIVE,
    DEVICE_AUTO,
    DEVICE_CPU,
    DEVICE_CUDA,
    DTYPE_FLOAT32,
    DTYPE_FLOAT64,
    GROUP_DEFAULT_TIMEOUT,
    SAVE_DEFAULT,
    SAVE_INFERENCE_ONLY,
    TASKS_AUTO,
    TASKS_BATCHED,
    TASKS_LOOP,
    library_path,
)
from .core import Config, Group, Learner, Metadata, Metrics, Model, Prediction, parse_device
from .errors import (
    E_DEVICE,
    E_DISTRIBUTED,
    E_FORMAT,
    E_INTERNAL,
    E_INVALID_ARGUMENT,
    E_IO,
    E_NUMERICAL,
    E_OUT_OF_MEMORY,
    E_UNSUPPORTED,
    OK,
    DeviceError,
    DistributedError,
    FormatError,
    InternalError,
    InvalidArgumentError,
    MamlError,
    MamlIOError,
    NumericalError,
    OutOfMemoryError,
    UnsupportedError,
)

__version__ = "1.3.0"


def version():
    """The library's version string, e.g. ``"1.3.0"`` (``maml_version_string``)."""
    return _native.lib.maml_version_string().decode("ascii")


def version_number():
    """The library's version as major*10000 + minor*100 + patch (``maml_version_number``)."""
    return _native.lib.maml_version_number()


def abi_version():
    """The library's ABI version (``maml_abi_version``); equal to :data:`ABI_VERSION`."""
    return _native.lib.maml_abi_version()


def cuda_device_count():
    """How many CUDA devices LibTorch sees (``maml_cuda_device_count``)."""
    return _native.lib.maml_cuda_device_count()


def set_cuda_deterministic(deterministic):
    """Chooses reproducible (True, the default) or fastest (False: cuDNN's nondeterministic
    algorithms allowed) GPU arithmetic for every CUDA model of the process
    (``maml_set_cuda_deterministic``). Process-wide and immediate: set it before starting work.
    No effect on CPU models; never fails. Since libmamlpp 1.1."""
    _native.lib.maml_set_cuda_deterministic(1 if deterministic else 0)


def cuda_memory(device_index=0, reset_peak=False):
    """``(current_bytes, peak_bytes)``: GPU memory held by LibTorch tensors on one CUDA device, for
    the whole process; the peak since start or the last reset, which ``reset_peak=True`` starts
    anew after reading (``maml_cuda_memory``). Raises :class:`DeviceError` where there is no such
    GPU (every CPU-only build)."""
    current, peak = ctypes.c_int64(), ctypes.c_int64()
    _native.lib.maml_cuda_memory(int(device_index), 1 if reset_peak else 0, ctypes.byref(current),
                                 ctypes.byref(peak))
    return current.value, peak.value


def status_string(status):
    """The constant's name for a status, e.g. ``"MAML_E_IO"`` (``maml_status_string``)."""
    return _native.lib.maml_status_string(int(status)).decode("ascii")


__all__ = [
    "ABI_VERSION", "HAVE_NUMPY", "library_path", "version", "version_number", "abi_version",
    "cuda_device_count", "cuda_memory", "set_cuda_deterministic", "status_string", "parse_device",
    "Config", "Model", "Learner", "Metadata", "Metrics", "Prediction", "Group",
    "MamlError", "InvalidArgumentError", "MamlIOError", "FormatError", "DeviceError",
    "OutOfMemoryError", "NumericalError", "UnsupportedError", "InternalError", "DistributedError",
    "OK", "E_INVALID_ARGUMENT", "E_IO", "E_FORMAT", "E_DEVICE", "E_OUT_OF_MEMORY",
    "E_NUMERICAL", "E_UNSUPPORTED", "E_INTERNAL", "E_DISTRIBUTED",
    "DEVICE_AUTO", "DEVICE_CPU", "DEVICE_CUDA", "BN_RUNNING", "BN_TRANSDUCTIVE", "BN_SUPPORT",
    "TASKS_AUTO", "TASKS_LOOP", "TASKS_BATCHED", "DTYPE_FLOAT32", "DTYPE_FLOAT64",
    "SAVE_DEFAULT", "SAVE_INFERENCE_ONLY", "GROUP_DEFAULT_TIMEOUT",
    "BACKBONE_CONV", "BACKBONE_MLP", "MAX_HIDDEN_LAYERS", "ACTIVATION_LEAKY_RELU",
    "ACTIVATION_RELU", "TASK_CLASSIFICATION", "TASK_REGRESSION",
]
