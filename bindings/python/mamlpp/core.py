"""Config, Model, Learner, Metrics and Group: thin, Pythonic objects over the libmamlpp C calls.

Array conventions (see :mod:`mamlpp._buffers` for every accepted input type):

* Examples are float32: images in NCHW order (example, channel, row, column) for the conv
  backbone, vectors of ``input_features`` values for the MLP backbone (since 1.3), given flat or
  shaped. The number of examples is inferred as ``len(all values) / E`` (E = C*H*W, or
  input_features), or given explicitly (``n=...``), in which case the buffer must hold at least
  that many examples. A numpy array's shape must end in one example's shape (``(C, H, W)`` or
  ``(C*H*W,)`` for a conv model, ``(input_features,)`` for an MLP): an image-shaped array given
  to an MLP model, or an array of vectors given to a conv model, raises ValueError before the
  library is called (the library sees only a pointer).
* Labels are int32 in ``[0, n_way)``; a regression model (``task_kind=TASK_REGRESSION``, since
  1.3) takes float32 targets instead, ``n_outputs`` per example, through the ``support_t`` /
  ``query_t`` arguments and :meth:`Model.adapt_regression`.
* Meta-batches: examples laid out task after task. The number of tasks is ``num_tasks=`` if
  given, else the first dimension of 2-D support labels (shape ``(num_tasks, support_size)``) or
  of support targets shaped ``(num_tasks, support_size, n_outputs)`` (or ``(num_tasks,
  support_size)`` when n_outputs is 1), else 1. Examples per task are inferred from the label or
  target counts.
* Outputs are numpy arrays when the examples passed in were a numpy array (logits shaped
  ``(n, n_way)`` float32, labels ``(n,)`` int32, regression values ``(n, n_outputs)`` float32),
  otherwise flat ``array.array`` (``'f'`` logits or values, row-major, and ``'i'`` labels).
"""

import collections
import collections.abc
import ctypes
import operator
import os
import weakref

from . import _buffers
from . import _native as N
from ._native import lib

_CONFIG_FIELDS = tuple(name for name, _ in N.maml_config._fields_ if name != "struct_size")
#: The array fields of maml_config (hidden_sizes): a list of ints in Python.
_ARRAY_FIELDS = dict((name, ctype) for name, ctype in N.maml_config._fields_
                     if issubclass(ctype, ctypes.Array))


def _get_field(c, name):
    """A maml_config field as Python sees it: an int or float, or a list for an array field."""
    value = getattr(c, name)
    return list(value) if name in _ARRAY_FIELDS else value


def _set_field(c, name, value):
    """Sets a maml_config field; an array field takes a sequence of at most its length of ints,
    padded with zeros (the header's rule for hidden_sizes: entries past hidden_layers are 0)."""
    array_type = _ARRAY_FIELDS.get(name)
    if array_type is None:
        setattr(c, name, value)
        return
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise TypeError("%s takes a sequence of ints, not %s" % (name, type(value).__name__))
    values = list(value)
    if len(values) > array_type._length_:
        raise ValueError("%s holds at most %d values, got %d"
                         % (name, array_type._length_, len(values)))
    try:
        values = [operator.index(v) for v in values]  # ints (numpy's too); a float is refused
    except TypeError as e:
        raise TypeError("%s takes ints (%s)" % (name, e))
    setattr(c, name, array_type(*(values + [0] * (array_type._length_ - len(values)))))

# --------------------------------------------------------------------------------------------
# Devices
# --------------------------------------------------------------------------------------------

_DEVICE_NAMES = {"auto": N.DEVICE_AUTO, "cpu": N.DEVICE_CPU, "cuda": N.DEVICE_CUDA}


def parse_device(device, device_index=0):
    """(device_type, device_index) from ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or a
    DEVICE_* int. Unknown names raise ValueError; numbers are passed to the library unchecked."""
    if isinstance(device, str):
        name, _, index = device.strip().lower().partition(":")
        if name not in _DEVICE_NAMES:
            raise ValueError("unknown device %r (use 'auto', 'cpu', 'cuda' or 'cuda:N')" % device)
        return _DEVICE_NAMES[name], int(index) if index else int(device_index)
    return int(device), int(device_index)


def _device_name(device_type, device_index):
    if device_type == N.DEVICE_CUDA:
        return "cuda:%d" % device_index
    if device_type == N.DEVICE_CPU:
        return "cpu"
    return "device%d:%d" % (device_type, device_index)


# --------------------------------------------------------------------------------------------
# Config
# --------------------------------------------------------------------------------------------


class Config(object):
    """Everything that defines a model and its meta-training (``maml_config``).

    ``Config()`` holds the library's MAML++ defaults (Omniglot 5-way 1-shot); keyword arguments
    override fields by name, e.g. ``Config(n_way=5, num_filters=32, device_type=DEVICE_CPU)``.
    Every field of the C struct is an attribute of the same name (``struct_size`` is managed for
    you); the array field ``hidden_sizes`` is a list of :data:`MAX_HIDDEN_LAYERS` ints, set from
    any shorter sequence, which is padded with zeros (``Config(backbone=BACKBONE_MLP,
    hidden_layers=2, hidden_sizes=[40, 40], task_kind=TASK_REGRESSION)``). The binding does not
    validate values: :class:`Model` creation does, through the library. Float fields are stored
    as float32, as the library sees them.
    """

    __slots__ = ("_c",)

    def __init__(self, **fields):
        object.__setattr__(self, "_c", N.config_defaults())
        for name, value in fields.items():
            setattr(self, name, value)

    @classmethod
    def _from_struct(cls, c):
        self = cls.__new__(cls)
        copy = N.maml_config()
        ctypes.memmove(ctypes.byref(copy), ctypes.byref(c), ctypes.sizeof(copy))
        copy.struct_size = ctypes.sizeof(copy)
        object.__setattr__(self, "_c", copy)
        return self

    def __setattr__(self, name, value):
        if name not in _CONFIG_FIELDS:
            raise AttributeError("maml_config has no field %r" % name)
        _set_field(self._c, name, value)

    @staticmethod
    def field_names():
        """The names of the config fields, in the C struct's order (without struct_size)."""
        return _CONFIG_FIELDS

    def to_dict(self):
        """The fields as a plain dict, in the C struct's order."""
        return dict((name, _get_field(self._c, name)) for name in _CONFIG_FIELDS)

    def replace(self, **fields):
        """A copy with some fields changed."""
        out = Config._from_struct(self._c)
        for name, value in fields.items():
            setattr(out, name, value)
        return out

    def copy(self):
        """An independent copy."""
        return Config._from_struct(self._c)

    @property
    def image_shape(self):
        """(C, H, W) of one image (the conv backbone's example)."""
        return (self._c.image_channels, self._c.image_height, self._c.image_width)

    @property
    def example_shape(self):
        """The shape of one example: ``image_shape`` for the conv backbone, ``(input_features,)``
        for the MLP backbone."""
        return _example_shape(self._c)

    def __reduce__(self):
        return (_config_from_dict, (self.to_dict(),))

    def __eq__(self, other):
        if not isinstance(other, Config):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __ne__(self, other):
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    __hash__ = None

    def __repr__(self):
        return "Config(%s)" % ", ".join("%s=%r" % kv for kv in self.to_dict().items())


def _example_shape(c):
    """One example's shape under a maml_config struct."""
    if c.backbone == N.BACKBONE_MLP:
        return (c.input_features,)
    return (c.image_channels, c.image_height, c.image_width)


def _config_property(name):
    def get(self):
        return _get_field(self._c, name)

    def set_(self, value):
        _set_field(self._c, name, value)

    return property(get, set_, doc=N.CONFIG_FIELD_DOCS.get(name, name))


for _name in _CONFIG_FIELDS:
    setattr(Config, _name, _config_property(_name))
del _name


def _config_from_dict(fields):
    """Config(**fields), for pickle."""
    return Config(**fields)

# --------------------------------------------------------------------------------------------
# Metrics and predictions
# --------------------------------------------------------------------------------------------


class Metrics(collections.namedtuple("Metrics", "loss accuracy meta_lr second_order step epoch")):
    """What a training or evaluation call measured (``maml_metrics``).

    Attributes: ``loss`` (meta-loss: mean over tasks of the, MSL-weighted, query loss; for a
    regression model the mean squared error), ``accuracy`` (query accuracy after the last inner
    step, mean over tasks; NaN for a regression model, where it does not apply), ``meta_lr`` (the Adam
    learning rate the step used), ``second_order`` (bool), ``step`` (meta-train steps completed
    after the call), ``epoch`` (the epoch the step belonged to).
    """

    __slots__ = ()

    @classmethod
    def _from_struct(cls, m):
        return cls(m.loss, m.accuracy, m.meta_lr, bool(m.second_order), m.step, m.epoch)


class Prediction(collections.namedtuple("Prediction", "labels logits")):
    """The result of :meth:`Learner.predict`: ``labels`` (n int32 class indices, the argmax of the
    logits) and ``logits`` (n * n_way float32 scores, row-major; shaped (n, n_way) for numpy)."""

    __slots__ = ()


# --------------------------------------------------------------------------------------------
# Handles
# --------------------------------------------------------------------------------------------


class _Handle(object):
    """Owns one C handle; frees it exactly once, on close() or when garbage-collected."""

    __slots__ = ("_ptr", "_finalizer", "__weakref__")
    _free = None  # the C free function, set by subclasses
    _kind = "handle"

    def _adopt(self, ptr):
        self._ptr = ctypes.c_void_p(ptr.value)
        # The finalizer references the pointer only, never self, so the object can be collected.
        self._finalizer = weakref.finalize(self, type(self)._free, self._ptr)

    def close(self):
        """Frees the C handle now. Idempotent; later method calls raise ValueError."""
        fin = getattr(self, "_finalizer", None)
        if fin is not None:
            fin()

    @property
    def closed(self):
        """True once the handle has been freed."""
        fin = getattr(self, "_finalizer", None)
        return fin is None or not fin.alive

    def _h(self):
        if self.closed:
            raise ValueError("operation on a closed %s" % self._kind)
        return self._ptr

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def _ensure_count(what, have, need):
    if have < need:
        raise ValueError("%s holds %d values, %d are needed" % (what, have, need))


def _example_name(example_shape):
    """How an example's size is spelled in messages: "C*H*W" or "input_features"."""
    return "input_features" if len(example_shape) == 1 else "C*H*W"


def _examples(what, count, per_example, explicit, per_name="C*H*W"):
    """The number of examples in count values (explicit if given, checked against the buffer)."""
    if explicit is not None:
        explicit = int(explicit)
        _ensure_count(what, count, explicit * per_example)
        return explicit
    if per_example <= 0 or count % per_example:
        raise ValueError("%s holds %d values, not a whole number of examples of %d values "
                         "(%s); pass the count explicitly or fix the shape"
                         % (what, count, per_example, per_name))
    return count // per_example


def _check_shape(obj, what, example_shape, max_leading):
    """For a numpy array: its shape must end in one example's shape, after at most max_leading
    dimensions (examples; tasks and examples for a meta-batch). A conv model also takes images
    flattened to C*H*W values (and, with one channel, H x W); an MLP with one input feature also
    takes (num_tasks, n) without the feature dimension. Flat arrays and other inputs are only
    counted. The library cannot tell an image from a vector, so this is the binding's
    one check of what the values are."""
    shape = _buffers.numpy_shape(obj)
    if shape is None or len(shape) <= 1:
        return
    mlp = len(example_shape) == 1
    if mlp and example_shape[0] == 1 and len(shape) <= max_leading:
        return  # one feature: the feature dimension may be left out, (num_tasks, n)
    accepted = [tuple(example_shape)]
    if not mlp:
        c, h, w = example_shape
        accepted.append((c * h * w,))
        if c == 1:
            accepted.append((h, w))
    for ex in accepted:
        k = len(ex)
        if len(shape) >= k and tuple(shape[len(shape) - k:]) == ex and len(shape) - k <= max_leading:
            return
    lead = "(n, " if max_leading == 1 else "(num_tasks, n, "
    if mlp:
        d = example_shape[0]
        kind = "an image-shaped array" if len(shape) > 1 + max_leading else "an array"
        raise ValueError("%s has shape %s: %s, but this MLP model takes vectors of %d "
                         "feature%s (input_features): give shape %s%d) or a flat array"
                         % (what, tuple(shape), kind, d, "" if d == 1 else "s", lead, d))
    c, h, w = example_shape
    kind = ("an array of vectors of %d values" % shape[-1]) if len(shape) <= 1 + max_leading \
        else "an array"
    raise ValueError("%s has shape %s: %s, but this conv model takes images of C x H x W = "
                     "%d x %d x %d: give shape %s%d, %d, %d), %s%d) or a flat array"
                     % (what, tuple(shape), kind, c, h, w, lead, c, h, w, lead, c * h * w))


def _require_regression_call():
    """maml_adapt_regression, or UnsupportedError naming the library that lacks it."""
    if N.adapt_regression is None:
        from .errors import UnsupportedError, E_UNSUPPORTED
        raise UnsupportedError(
            E_UNSUPPORTED, "maml_adapt_regression needs libmamlpp %d.%d or later; %s is %s"
            % (N.REGRESSION_LIBRARY_VERSION // 10000, N.REGRESSION_LIBRARY_VERSION // 100 % 100,
               N.library_path, lib.maml_version_string().decode("ascii")),
            "maml_adapt_regression")
    return N.adapt_regression


class Model(_Handle):
    """A meta-learner (``maml_model``): meta-parameters, LSLR table, per-step BN, Adam state, step.

    Create one from a :class:`Config` (``Model(Config(n_way=5))`` or ``Model(n_way=5)``), or with
    :meth:`load` / :meth:`from_bytes`. Use it as a context manager or call :meth:`close`; it is
    also freed when garbage-collected. Training calls (:meth:`meta_train_step`, :meth:`evaluate`)
    need exclusive use of the model; :meth:`adapt`, the queries and the saves may run from many
    threads at once while no training call runs (the GIL is released during C calls).
    """

    __slots__ = ("_per_example", "_image_shape", "_example_shape", "_regression", "_n_outputs")
    _free = lib.maml_free
    _kind = "Model"

    def __init__(self, config=None, **fields):
        """Creates a freshly initialised model (``maml_create``) from config (a :class:`Config`;
        defaults if None) with fields overridden by keyword arguments."""
        if config is None:
            config = Config(**fields)
        elif not isinstance(config, Config):
            raise TypeError("config must be a mamlpp.Config, not %s" % type(config).__name__)
        elif fields:
            config = config.replace(**fields)
        out = ctypes.c_void_p()
        lib.maml_create(ctypes.byref(config._c), ctypes.byref(out))
        self._init_from(out)

    def _init_from(self, ptr):
        self._adopt(ptr)
        c = self._get_config_struct()
        self._image_shape = (c.image_channels, c.image_height, c.image_width)
        self._example_shape = _example_shape(c)
        self._per_example = 1
        for d in self._example_shape:
            self._per_example *= d
        # A library older than 1.3 reports 0 (it zeroes the fields it does not know): a classifier.
        self._regression = c.task_kind == N.TASK_REGRESSION
        self._n_outputs = c.n_outputs

    @classmethod
    def _from_ptr(cls, ptr):
        self = cls.__new__(cls)
        try:
            self._init_from(ptr)
        except BaseException:
            lib.maml_free(ptr)
            raise
        return self

    # -- files and bytes ---------------------------------------------------------------------

    @classmethod
    def load(cls, path, device="auto", device_index=0):
        """Loads a model saved by :meth:`save` (``maml_load``) onto device: ``"auto"``,
        ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or a DEVICE_* constant."""
        dtype, dindex = parse_device(device, device_index)
        out = ctypes.c_void_p()
        lib.maml_load(os.fsencode(os.fspath(path)), dtype, dindex, ctypes.byref(out))
        return cls._from_ptr(out)

    @classmethod
    def from_bytes(cls, data, device="auto", device_index=0):
        """Loads a model from the bytes :meth:`to_bytes` returned (any bytes-like object)
        (``maml_load_buffer``)."""
        dtype, dindex = parse_device(device, device_index)
        if isinstance(data, bytes):
            holder, size = data, len(data)
            addr = ctypes.cast(ctypes.c_char_p(data), ctypes.c_void_p).value
        else:
            mv = memoryview(data)
            size = mv.nbytes
            if mv.c_contiguous and not mv.readonly and size:
                holder = (ctypes.c_char * size).from_buffer(mv)
                addr = ctypes.addressof(holder)
            else:
                holder = mv.tobytes()
                addr = ctypes.cast(ctypes.c_char_p(holder), ctypes.c_void_p).value
        out = ctypes.c_void_p()
        lib.maml_load_buffer(addr, size, dtype, dindex, ctypes.byref(out))
        del holder
        return cls._from_ptr(out)

    def save(self, path, inference_only=False):
        """Writes the model to path, atomically (``maml_save_ex``). With inference_only, only
        what adapt and predict need is written (no Adam moments: the file cannot resume
        training)."""
        flags = N.SAVE_INFERENCE_ONLY if inference_only else N.SAVE_DEFAULT
        lib.maml_save_ex(self._h(), os.fsencode(os.fspath(path)), flags)

    def to_bytes(self, inference_only=False):
        """The bytes :meth:`save` would write (``maml_save_buffer_ex``), as a ``bytes``."""
        flags = N.SAVE_INFERENCE_ONLY if inference_only else N.SAVE_DEFAULT
        data = ctypes.c_void_p()
        size = ctypes.c_size_t()
        lib.maml_save_buffer_ex(self._h(), flags, ctypes.byref(data), ctypes.byref(size))
        try:
            return ctypes.string_at(data, size.value)
        finally:
            lib.maml_buffer_free(data)

    # -- user metadata ---------------------------------------------------------------------------

    def set_metadata(self, key, value):
        """Sets the metadata entry key (str) to value (str), or removes it when value is None
        (``maml_set_metadata``). It is saved with the model. Raises InvalidArgumentError for a
        reserved or malformed key or value, or past the limits (docs/FILE_FORMAT.md)."""
        if value is not None and not isinstance(value, str):
            raise TypeError("metadata values are str, not %s" % type(value).__name__)
        if value is not None and "\0" in value:
            raise ValueError("metadata value of %r: embedded null character" % key)
        lib.maml_set_metadata(self._h(), _metadata_key(key),
                              None if value is None else value.encode("utf-8"))

    def get_metadata(self, key, default=None):
        """The value of the metadata entry key (``maml_get_metadata``), or default when the model
        has no such entry."""
        out = ctypes.c_void_p()
        lib.maml_get_metadata(self._h(), _metadata_key(key), ctypes.byref(out))
        if not out.value:
            return default
        try:
            return ctypes.string_at(out).decode("utf-8")
        finally:
            lib.maml_buffer_free(out)

    def metadata_keys(self):
        """The keys of the metadata entries, sorted (``maml_list_metadata``)."""
        data = ctypes.c_void_p()
        size = ctypes.c_size_t()
        lib.maml_list_metadata(self._h(), ctypes.byref(data), ctypes.byref(size))
        if not data.value:
            return []
        try:
            raw = ctypes.string_at(data, size.value)
        finally:
            lib.maml_buffer_free(data)
        return [k.decode("ascii") for k in raw.split(b"\0")[:-1]]

    @property
    def metadata(self):
        """The user metadata as a mutable mapping of str to str (``model.metadata["author"] =
        "me"``, ``del``, ``in``, iteration in key order, ``dict(model.metadata)``): a live view
        over :meth:`get_metadata`, :meth:`set_metadata` and :meth:`metadata_keys`."""
        return Metadata(self)

    # -- process groups (since 1.1) ---------------------------------------------------------------

    def attach(self, group):
        """Attaches the model to a process group (``maml_group_attach``; collective: every rank
        attaches its model). The ranks must agree on the library version, device type, dtype and
        config (all but device_index, num_threads and task_batching), and every rank whose model
        has trained must hold exactly rank 0's model; otherwise every rank raises
        :class:`DistributedError` naming the first rank and field that differ, and nothing is
        attached. Then rank 0's model is broadcast, so the ranks start identical. From then on
        :meth:`meta_train_step` is collective: each rank passes its own share of the meta-batch
        and every rank takes the same step. Attaching again replaces the group; the model keeps
        the group's membership alive while attached (closing the :class:`Group` is fine). Needs
        exclusive use of the model."""
        if not isinstance(group, Group):
            raise TypeError("group must be a mamlpp.Group, not %s" % type(group).__name__)
        lib.maml_group_attach(self._h(), group._h())

    def detach(self):
        """Makes the model local again (``maml_group_detach``): :meth:`meta_train_step` stops
        being collective. Not attached is not an error. Needs exclusive use of the model."""
        lib.maml_group_detach(self._h())

    # -- training ------------------------------------------------------------------------------

    def _tasks(self, support_x, support_y, query_x, query_y, num_tasks, support_size,
               query_size, support_t=None, query_t=None):
        """A maml_tasks for the given arrays plus the objects that must stay alive. Labels (_y)
        and targets (_t) are both passed on when given: which one a model takes, the library
        decides (a classifier refuses targets, a regression model labels)."""
        t = N.new_tasks()
        keep = []
        per_target = max(self._n_outputs, 1)
        if support_y is None and support_t is None:
            raise TypeError("support_y (labels) or support_t (regression targets) is needed")
        if num_tasks is None:
            if support_y is not None:
                num_tasks = _buffers.leading_dim(support_y)
            elif _buffers.ndim(support_t) >= (3 if per_target > 1 else 2):
                num_tasks = _buffers.leading_dim(support_t)
            num_tasks = num_tasks or 1
        num_tasks = int(num_tasks)
        if num_tasks <= 0:
            raise ValueError("num_tasks must be positive, got %d" % num_tasks)
        parts = [("support", support_x, support_y, support_t, support_size)]
        if query_x is not None or query_y is not None or query_t is not None:
            if query_y is None and query_t is None:
                raise TypeError("query_y (labels) or query_t (regression targets) is needed")
            parts.append(("query", query_x, query_y, query_t, query_size))
        per_name = _example_name(self._example_shape)
        for which, x, y, tg, size in parts:
            y_addr = tg_addr = None
            if y is not None:
                yk, y_addr, y_n, _ = _buffers.int32s(y, which + "_y")
                keep.append(yk)
            if tg is not None:
                tk, tg_addr, tg_n, _ = _buffers.floats(tg, which + "_t")
                keep.append(tk)
            explicit = size is not None
            if not explicit:
                if y is not None:
                    if y_n % num_tasks:
                        raise ValueError("%s_y holds %d labels, not a multiple of num_tasks=%d"
                                         % (which, y_n, num_tasks))
                    size = y_n // num_tasks
                else:
                    if tg_n % (num_tasks * per_target):
                        raise ValueError("%s_t holds %d targets, not a multiple of num_tasks=%d x "
                                         "n_outputs=%d" % (which, tg_n, num_tasks, per_target))
                    size = tg_n // (num_tasks * per_target)
            size = int(size)
            if y is not None:
                _ensure_count(which + "_y", y_n, num_tasks * size)
            if tg is not None:
                _ensure_count(which + "_t", tg_n, num_tasks * size * per_target)
            if x is None:
                raise TypeError("%s_x must not be None" % which)
            _check_shape(x, which + "_x", self._example_shape, 2)
            xk, x_addr, x_n, _ = _buffers.floats(x, which + "_x")
            need = num_tasks * size * self._per_example
            if x_n < need or (x_n != need and not explicit):
                raise ValueError("%s_x holds %d values; %d tasks x %d examples x %d (%s) = %d "
                                 "are needed" % (which, x_n, num_tasks, size,
                                                 self._per_example, per_name, need))
            keep.append(xk)
            setattr(t, which + "_size", size)
            setattr(t, which + "_x", ctypes.cast(x_addr, ctypes.POINTER(ctypes.c_float)))
            setattr(t, which + "_y", ctypes.cast(y_addr, ctypes.POINTER(ctypes.c_int32)))
            setattr(t, which + "_t", ctypes.cast(tg_addr, ctypes.POINTER(ctypes.c_float)))
        t.num_tasks = num_tasks
        return t, keep

    def meta_train_step(self, support_x, support_y=None, query_x=None, query_y=None,
                        num_tasks=None, support_size=None, query_size=None, support_t=None,
                        query_t=None):
        """One meta-train step on a meta-batch (``maml_meta_train_step``) -> :class:`Metrics`.

        Arrays are laid out task after task; num_tasks defaults to the first dimension of 2-D
        support_y, else 1; support_size and query_size (examples per task) default to the label
        counts divided by num_tasks. A regression model (since 1.3) takes float targets instead
        of labels: ``support_t`` and ``query_t``, n_outputs per example, with support_y and
        query_y left None, e.g. ``model.meta_train_step(sx, query_x=qx, support_t=st,
        query_t=qt)``; then num_tasks defaults to the first dimension of support_t shaped
        ``(num_tasks, support_size, n_outputs)`` (or ``(num_tasks, support_size)`` when
        n_outputs is 1). A classifier refuses targets and a regression model labels, with the
        library's :class:`InvalidArgumentError`. A step whose loss or gradients are not finite
        raises :class:`NumericalError` and leaves the model unchanged. Needs exclusive use of the
        model.
        """
        t, keep = self._tasks(support_x, support_y, query_x, query_y, num_tasks, support_size,
                              query_size, support_t, query_t)
        m = N.new_metrics()
        lib.maml_meta_train_step(self._h(), ctypes.byref(t), ctypes.byref(m))
        del keep
        return Metrics._from_struct(m)

    def evaluate(self, support_x, support_y=None, query_x=None, query_y=None, num_tasks=None,
                 support_size=None, query_size=None, support_t=None, query_t=None):
        """Adapts every task and measures query loss and accuracy without changing the model
        (``maml_evaluate``) -> :class:`Metrics`. Arguments as :meth:`meta_train_step`
        (regression: ``support_t`` and ``query_t``; the accuracy is then NaN)."""
        t, keep = self._tasks(support_x, support_y, query_x, query_y, num_tasks, support_size,
                              query_size, support_t, query_t)
        m = N.new_metrics()
        lib.maml_evaluate(self._h(), ctypes.byref(t), ctypes.byref(m))
        del keep
        return Metrics._from_struct(m)

    # -- adaptation ------------------------------------------------------------------------------

    def adapt(self, support_x, support_y, n_support=None):
        """Adapts the model to one task from labelled support examples (``maml_adapt``) ->
        :class:`Learner`. n_support defaults to the number of labels. The model is unchanged."""
        y, y_addr, y_n, _ = _buffers.int32s(support_y, "support_y")
        if n_support is None:
            n_support = y_n
        else:
            n_support = int(n_support)
            _ensure_count("support_y", y_n, n_support)
        _check_shape(support_x, "support_x", self._example_shape, 1)
        x, x_addr, x_n, _ = _buffers.floats(support_x, "support_x")
        _ensure_count("support_x", x_n, n_support * self._per_example)
        out = ctypes.c_void_p()
        lib.maml_adapt(self._h(), x_addr, y_addr, n_support, ctypes.byref(out))
        del x, y
        return Learner._from_ptr(out, self._example_shape, self._regression)

    def adapt_regression(self, support_x, support_t, n_support=None):
        """Adapts a regression model (``task_kind=TASK_REGRESSION``) to one task from support
        examples and their float targets, n_outputs per example (``maml_adapt_regression``,
        since libmamlpp 1.3; :class:`UnsupportedError` with an older library) ->
        :class:`Learner`, whose :meth:`Learner.predict` returns the predicted values. n_support
        defaults to the number of targets / n_outputs. A classifier refuses this call with the
        library's :class:`InvalidArgumentError` (use :meth:`adapt`). The model is unchanged."""
        h = self._h()
        fn = _require_regression_call()
        per_target = max(self._n_outputs, 1)
        tg, t_addr, t_n, _ = _buffers.floats(support_t, "support_t")
        if n_support is None:
            if t_n % per_target:
                raise ValueError("support_t holds %d targets, not a multiple of n_outputs=%d"
                                 % (t_n, per_target))
            n_support = t_n // per_target
        else:
            n_support = int(n_support)
            _ensure_count("support_t", t_n, n_support * per_target)
        _check_shape(support_x, "support_x", self._example_shape, 1)
        x, x_addr, x_n, _ = _buffers.floats(support_x, "support_x")
        _ensure_count("support_x", x_n, n_support * self._per_example)
        out = ctypes.c_void_p()
        fn(h, x_addr, t_addr, n_support, ctypes.byref(out))
        del x, tg
        return Learner._from_ptr(out, self._example_shape, self._regression)

    def adapt_tasks(self, support_x, support_y=None, num_tasks=None, support_size=None,
                    support_t=None):
        """Adapts several tasks at once (``maml_adapt_tasks``) -> a list of :class:`Learner`,
        one per task. Arrays and inference as :meth:`meta_train_step`'s support half (a
        regression model: ``support_t``)."""
        t, keep = self._tasks(support_x, support_y, None, None, num_tasks, support_size, None,
                              support_t, None)
        out = (ctypes.c_void_p * t.num_tasks)()
        lib.maml_adapt_tasks(self._h(), ctypes.byref(t), out)
        del keep
        learners = []
        try:
            for i in range(t.num_tasks):
                p = ctypes.c_void_p(out[i])
                out[i] = None
                learners.append(Learner._from_ptr(p, self._example_shape, self._regression))
        except BaseException:
            for i in range(t.num_tasks):
                lib.maml_learner_free(out[i])
            for learner in learners:
                learner.close()
            raise
        return learners

    # -- queries ------------------------------------------------------------------------------

    def _get_config_struct(self):
        c = N.maml_config()
        c.struct_size = ctypes.sizeof(c)
        lib.maml_get_config(self._h(), ctypes.byref(c))
        return c

    @property
    def config(self):
        """A copy of the model's :class:`Config` (``maml_get_config``)."""
        return Config._from_struct(self._get_config_struct())

    @property
    def step(self):
        """Meta-train steps taken so far (``maml_get_step``)."""
        v = ctypes.c_int64()
        lib.maml_get_step(self._h(), ctypes.byref(v))
        return v.value

    @property
    def device(self):
        """Where the tensors live: ``"cpu"`` or ``"cuda:N"`` (``maml_get_device``)."""
        t, i = ctypes.c_int32(), ctypes.c_int32()
        lib.maml_get_device(self._h(), ctypes.byref(t), ctypes.byref(i))
        return _device_name(t.value, i.value)

    @property
    def num_parameters(self):
        """The number of learnable meta-parameters (``maml_num_parameters``)."""
        v = ctypes.c_int64()
        lib.maml_num_parameters(self._h(), ctypes.byref(v))
        return v.value

    @property
    def image_shape(self):
        """(C, H, W) of the images this model takes (its config's, for the conv backbone)."""
        return self._image_shape

    @property
    def example_shape(self):
        """The shape of one example: (C, H, W) for the conv backbone, (input_features,) for the
        MLP backbone (since 1.3)."""
        return self._example_shape

    @property
    def regression(self):
        """True for a regression model (``task_kind == TASK_REGRESSION``, since 1.3)."""
        return self._regression

    def inner_lrs(self):
        """The learned inner learning rates (LSLR) as a dict (in the library's order): adapted tensor name (e.g.
        ``"backbone.stage0.conv.weight"``) -> list of one rate per inner step
        (``maml_inner_lr_shape``, ``maml_get_inner_lrs``, ``maml_inner_lr_name``)."""
        h = self._h()
        tensors, steps = ctypes.c_int32(), ctypes.c_int32()
        lib.maml_inner_lr_shape(h, ctypes.byref(tensors), ctypes.byref(steps))
        count = tensors.value * steps.value
        rates = (ctypes.c_float * max(count, 1))()
        lib.maml_get_inner_lrs(h, rates, count)
        table = {}
        name = ctypes.c_char_p()
        for i in range(tensors.value):
            lib.maml_inner_lr_name(h, i, ctypes.byref(name))
            row = rates[i * steps.value:(i + 1) * steps.value]
            table[name.value.decode("utf-8")] = list(row)
        return table

    def __repr__(self):
        if self.closed:
            return "<mamlpp.Model (closed)>"
        c = self._get_config_struct()
        task = ("regression, %d output%s" % (c.n_outputs, "" if c.n_outputs == 1 else "s")
                if self._regression else "%d-way" % c.n_way)
        if c.backbone == N.BACKBONE_MLP:
            net = "MLP %s" % "->".join(str(v) for v in [c.input_features]
                                       + list(c.hidden_sizes)[:max(c.hidden_layers, 0)])
        else:
            net = "%dx%dx%d" % (c.image_channels, c.image_height, c.image_width)
        return "<mamlpp.Model %s%s%s, step %d, %s>" % (task, ", " if self._regression else " ", net,
                                                      self.step, self.device)


def _metadata_key(key):
    if not isinstance(key, str):
        raise TypeError("metadata keys are str, not %s" % type(key).__name__)
    if "\0" in key:
        raise ValueError("metadata key %r: embedded null character" % key)
    return key.encode("utf-8")


class Metadata(collections.abc.MutableMapping):
    """A model's user metadata as a mapping (see :attr:`Model.metadata`). Missing keys raise
    KeyError; invalid keys or values raise the library's InvalidArgumentError."""

    def __init__(self, model):
        self._model = model

    def __getitem__(self, key):
        value = self._model.get_metadata(key)
        if value is None:
            raise KeyError(key)
        return value

    def __setitem__(self, key, value):
        if value is None:
            raise TypeError("metadata values are str; use del to remove an entry")
        self._model.set_metadata(key, value)

    def __delitem__(self, key):
        if self._model.get_metadata(key) is None:
            raise KeyError(key)
        self._model.set_metadata(key, None)

    def __iter__(self):
        return iter(self._model.metadata_keys())

    def __len__(self):
        return len(self._model.metadata_keys())

    def __repr__(self):
        return "Metadata(%r)" % dict(self)


class Learner(_Handle):
    """A model adapted to one task (``maml_learner``), from :meth:`Model.adapt` (or
    :meth:`Model.adapt_regression`, whose learners predict values).

    Independent of its model (closing the model does not invalidate it). :meth:`predict` may run
    from many threads at once. Use it as a context manager or call :meth:`close`; it is also freed
    when garbage-collected.
    """

    __slots__ = ("_n_way", "_image_shape", "_per_example", "_regression")
    _free = lib.maml_learner_free
    _kind = "Learner"

    def __init__(self):
        raise TypeError("Learners come from Model.adapt() / Model.adapt_tasks()")

    @classmethod
    def _from_ptr(cls, ptr, image_shape, regression=False):
        self = cls.__new__(cls)
        try:
            self._adopt(ptr)
            n = ctypes.c_int32()
            lib.maml_learner_n_way(self._ptr, ctypes.byref(n))
        except BaseException:
            if getattr(self, "_finalizer", None) is None:
                lib.maml_learner_free(ptr)
            else:
                self.close()
            raise
        self._n_way = n.value
        self._image_shape = tuple(image_shape)
        self._regression = bool(regression)
        self._per_example = 1
        for d in self._image_shape:
            self._per_example *= d
        return self

    @property
    def n_way(self):
        """The width of a prediction row (``maml_learner_n_way``): the number of classes this
        learner predicts, or for a regression learner its n_outputs."""
        return self._n_way

    @property
    def n_outputs(self):
        """The values predicted per example by a regression learner (None for a classifier)."""
        return self._n_way if self._regression else None

    @property
    def regression(self):
        """True if the learner predicts values (a regression model's, since 1.3)."""
        return self._regression

    @property
    def image_shape(self):
        """The shape of one example this learner takes (the model's, at adaptation): (C, H, W)
        of an image, or (input_features,) for the MLP backbone."""
        return self._image_shape

    example_shape = image_shape

    def predict(self, x, n=None):
        """Classifies images (``maml_predict``) -> :class:`Prediction` ``(labels, logits)``; a
        regression learner returns its predicted values instead.

        x holds n examples of C*H*W float32 values (input_features for the MLP backbone; n
        inferred unless given). Outputs are numpy arrays if x is one (labels (n,), logits
        (n, n_way); regression values (n, n_outputs)), else array.array ('i' and 'f'; regression:
        one 'f' array of n * n_outputs values, row-major). The labels are the library's argmax of
        the logits; no other post-processing is done."""
        h = self._h()
        _check_shape(x, "x", self._image_shape, 1)
        xk, x_addr, x_n, as_np = _buffers.floats(x, "x")
        n = _examples("x", x_n, self._per_example, n, _example_name(self._image_shape))
        k = self._n_way
        if self._regression:
            values, v_addr = _buffers.new_floats(n * k, as_np, (n, k))
            lib.maml_predict(h, x_addr, n, v_addr, None)  # labels must be NULL for regression
            del xk
            return values
        logits, l_addr = _buffers.new_floats(n * k, as_np, (n, k))
        labels, y_addr = _buffers.new_int32s(n, as_np)
        lib.maml_predict(h, x_addr, n, l_addr, y_addr)
        del xk
        return Prediction(labels, logits)

    def __repr__(self):
        if self.closed:
            return "<mamlpp.Learner (closed)>"
        shape = "x".join(str(d) for d in self._image_shape)
        if len(self._image_shape) == 1:
            shape = "%s feature%s" % (shape, "" if self._image_shape[0] == 1 else "s")
        if self._regression:
            return "<mamlpp.Learner regression, %d output%s, %s>" % (
                self._n_way, "" if self._n_way == 1 else "s", shape)
        return "<mamlpp.Learner %d-way %s>" % (self._n_way, shape)


# --------------------------------------------------------------------------------------------
# Process groups (since 1.1)
# --------------------------------------------------------------------------------------------


def _int32(value, what):
    value = int(value)
    if not -2 ** 31 <= value < 2 ** 31:
        raise ValueError("%s = %d does not fit in int32" % (what, value))
    return value


def _timeout(timeout):
    return 0.0 if timeout is None else float(timeout)


class Group(_Handle):
    """A membership in a process group (``maml_group``) for data-parallel meta-training over
    PyTorch's c10d: N processes (ranks) each adapt their share of every meta-batch, and each step
    pools their contributions into the step one process would take on the whole batch.

    Make one with :meth:`join_env` (under ``torchrun``, which sets RANK, WORLD_SIZE, MASTER_ADDR,
    MASTER_PORT and LOCAL_RANK) or :meth:`join`, then :meth:`Model.attach` a model::

        with mamlpp.Group.join_env() as group, mamlpp.Model(cfg) as model:
            model.attach(group)              # every rank now holds rank 0's model
            for sx, sy, qx, qy in my_share_of_each_batch(group.rank, group.world_size):
                model.meta_train_step(sx, sy, qx, qy)

    Collective calls (joining, :meth:`Model.attach`, :meth:`allreduce_sum` and
    :meth:`Model.meta_train_step` on an attached model) must be made by every rank in the same
    order; each returns once all ranks have made it. A failed collective raises
    :class:`DistributedError` (on the ranks that did not cause it); a rank that exits or stops
    responding makes the others fail within the timeout, after which the group is broken.

    Use it as a context manager or call :meth:`close`; it is also freed when garbage-collected.
    Closing leaves at once, waiting for no other rank; a model still attached keeps the
    membership until it is detached or closed.
    """

    __slots__ = ()
    _free = lib.maml_group_free
    _kind = "Group"

    def __init__(self):
        raise TypeError("Groups come from Group.join() / Group.join_env()")

    @classmethod
    def _from_ptr(cls, ptr):
        self = cls.__new__(cls)
        self._adopt(ptr)
        return self

    @classmethod
    def join_env(cls, timeout=0):
        """Joins the process group that torchrun describes in the environment: RANK, WORLD_SIZE,
        MASTER_ADDR, MASTER_PORT and LOCAL_RANK (optional; default RANK) (``maml_group_join_env``;
        collective: returns once all ranks have joined). timeout, in seconds, bounds the
        rendezvous and every later collective: 0 or None means :data:`GROUP_DEFAULT_TIMEOUT`
        (300), otherwise 0.1 to 86400. Raises :class:`InvalidArgumentError` naming a variable that
        is missing or malformed, :class:`DistributedError` if the rendezvous fails or times out,
        :class:`UnsupportedError` in a build without c10d's Gloo."""
        out = ctypes.c_void_p()
        lib.maml_group_join_env(_timeout(timeout), ctypes.byref(out))
        return cls._from_ptr(out)

    @classmethod
    def join(cls, master_addr, master_port, rank, world_size, local_rank=-1, timeout=0):
        """Joins a process group described explicitly (``maml_group_join``): rank 0 serves the
        rendezvous at master_addr:master_port (a str: host name or address) and every rank
        connects to it. rank in [0, world_size), local_rank this rank's index on its machine (-1:
        rank). Otherwise as :meth:`join_env`; the library checks every value."""
        if master_addr is None:
            addr = None  # the library refuses it: InvalidArgumentError
        elif not isinstance(master_addr, str):
            raise TypeError("master_addr must be a str, not %s" % type(master_addr).__name__)
        elif "\0" in master_addr:
            raise ValueError("master_addr %r: embedded null character" % master_addr)
        else:
            addr = master_addr.encode("utf-8")
        out = ctypes.c_void_p()
        lib.maml_group_join(addr, _int32(master_port, "master_port"), _int32(rank, "rank"),
                            _int32(world_size, "world_size"), _int32(local_rank, "local_rank"),
                            _timeout(timeout), ctypes.byref(out))
        return cls._from_ptr(out)

    def _ranks(self):
        rank, world, local = ctypes.c_int32(), ctypes.c_int32(), ctypes.c_int32()
        lib.maml_group_rank(self._h(), ctypes.byref(rank), ctypes.byref(world),
                            ctypes.byref(local))
        return rank.value, world.value, local.value

    @property
    def rank(self):
        """This process's rank, in [0, world_size) (``maml_group_rank``)."""
        return self._ranks()[0]

    @property
    def world_size(self):
        """The number of ranks (``maml_group_rank``)."""
        return self._ranks()[1]

    @property
    def local_rank(self):
        """This rank's index on its machine, e.g. the CUDA device to use (``maml_group_rank``)."""
        return self._ranks()[2]

    def allreduce_sum(self, values):
        """The sums of values over every rank, in double precision (``maml_group_allreduce_sum``;
        collective), e.g. for validation figures each rank computed on its share. values: 1 to
        2^24 numbers, as many on every rank; a numpy array gives a float64 numpy array of the same
        shape, anything else (a list, tuple, array.array, ...) a list of floats. values itself is
        not changed. An empty input raises :class:`InvalidArgumentError` (and this rank does not
        take part)."""
        h = self._h()
        data, addr, count, as_numpy = _buffers.float64s(values, "values")
        lib.maml_group_allreduce_sum(h, addr, count)
        return data if as_numpy else data.tolist()

    def __repr__(self):
        if self.closed:
            return "<mamlpp.Group (closed)>"
        rank, world, local = self._ranks()
        return "<mamlpp.Group rank %d of %d, local rank %d>" % (rank, world, local)
