"""Config, Model, Learner, Metrics and Group: thin, Pythonic objects over the libmamlpp C calls.

Array conventions (see :mod:`mamlpp._buffers` for every accepted input type):

* Images are float32 in NCHW order (example, channel, row, column), given flat or shaped; the
  number of examples is inferred as ``len(all values) / (C*H*W)`` of the model's config, or given
  explicitly (``n=...``), in which case the buffer must hold at least that many examples.
* Labels are int32 in ``[0, n_way)``.
* Meta-batches: images laid out task after task. The number of tasks is ``num_tasks=`` if given,
  else the first dimension of 2-D support labels (shape ``(num_tasks, support_size)``), else 1.
  Examples per task are inferred from the label counts.
* Outputs are numpy arrays when the images passed in were a numpy array (logits shaped
  ``(n, n_way)`` float32, labels ``(n,)`` int32), otherwise flat ``array.array`` (``'f'`` logits
  of ``n * n_way`` values, row-major, and ``'i'`` labels).
"""

import collections
import collections.abc
import ctypes
import os
import weakref

from . import _buffers
from . import _native as N
from ._native import lib

_CONFIG_FIELDS = tuple(name for name, _ in N.maml_config._fields_ if name != "struct_size")

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
    you). The binding does not validate values: :class:`Model` creation does, through the library.
    Float fields are stored as float32, as the library sees them.
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
        setattr(self._c, name, value)

    @staticmethod
    def field_names():
        """The names of the config fields, in the C struct's order (without struct_size)."""
        return _CONFIG_FIELDS

    def to_dict(self):
        """The fields as a plain dict, in the C struct's order."""
        return dict((name, getattr(self._c, name)) for name in _CONFIG_FIELDS)

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
        """(C, H, W) of one image."""
        return (self._c.image_channels, self._c.image_height, self._c.image_width)

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


def _config_property(name):
    def get(self):
        return getattr(self._c, name)

    def set_(self, value):
        setattr(self._c, name, value)

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

    Attributes: ``loss`` (meta-loss: mean over tasks of the, MSL-weighted, query loss),
    ``accuracy`` (query accuracy after the last inner step, mean over tasks), ``meta_lr`` (the Adam
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


def _examples(what, count, per_example, explicit):
    """The number of examples in count values (explicit if given, checked against the buffer)."""
    if explicit is not None:
        explicit = int(explicit)
        _ensure_count(what, count, explicit * per_example)
        return explicit
    if per_example <= 0 or count % per_example:
        raise ValueError("%s holds %d values, not a whole number of examples of %d values "
                         "(C*H*W); pass the count explicitly or fix the shape"
                         % (what, count, per_example))
    return count // per_example


class Model(_Handle):
    """A meta-learner (``maml_model``): meta-parameters, LSLR table, per-step BN, Adam state, step.

    Create one from a :class:`Config` (``Model(Config(n_way=5))`` or ``Model(n_way=5)``), or with
    :meth:`load` / :meth:`from_bytes`. Use it as a context manager or call :meth:`close`; it is
    also freed when garbage-collected. Training calls (:meth:`meta_train_step`, :meth:`evaluate`)
    need exclusive use of the model; :meth:`adapt`, the queries and the saves may run from many
    threads at once while no training call runs (the GIL is released during C calls).
    """

    __slots__ = ("_per_example", "_image_shape")
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
        self._per_example = c.image_channels * c.image_height * c.image_width

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
               query_size):
        """A maml_tasks for the given arrays plus the objects that must stay alive."""
        t = N.new_tasks()
        keep = []
        sy, sy_addr, sy_n, _ = _buffers.int32s(support_y, "support_y")
        if num_tasks is None:
            num_tasks = _buffers.leading_dim(support_y) or 1
        num_tasks = int(num_tasks)
        if num_tasks <= 0:
            raise ValueError("num_tasks must be positive, got %d" % num_tasks)
        parts = [("support", support_x, sy, sy_addr, sy_n, support_size)]
        if query_x is not None or query_y is not None:
            qy, qy_addr, qy_n, _ = _buffers.int32s(query_y, "query_y")
            parts.append(("query", query_x, qy, qy_addr, qy_n, query_size))
        for which, x, y, y_addr, y_n, size in parts:
            if size is None:
                if y_n % num_tasks:
                    raise ValueError("%s_y holds %d labels, not a multiple of num_tasks=%d"
                                     % (which, y_n, num_tasks))
                size = y_n // num_tasks
            else:
                size = int(size)
                _ensure_count(which + "_y", y_n, num_tasks * size)
            xk, x_addr, x_n, _ = _buffers.floats(x, which + "_x")
            need = num_tasks * size * self._per_example
            if x_n < need or (x_n != need and (support_size if which == "support"
                                                else query_size) is None):
                raise ValueError("%s_x holds %d values; %d tasks x %d examples x %d (C*H*W) = %d "
                                 "are needed" % (which, x_n, num_tasks, size,
                                                 self._per_example, need))
            keep += [xk, y]
            setattr(t, which + "_size", size)
            setattr(t, which + "_x", ctypes.cast(x_addr, ctypes.POINTER(ctypes.c_float)))
            setattr(t, which + "_y", ctypes.cast(y_addr, ctypes.POINTER(ctypes.c_int32)))
        t.num_tasks = num_tasks
        return t, keep

    def meta_train_step(self, support_x, support_y, query_x, query_y, num_tasks=None,
                        support_size=None, query_size=None):
        """One meta-train step on a meta-batch (``maml_meta_train_step``) -> :class:`Metrics`.

        Arrays are laid out task after task; num_tasks defaults to the first dimension of 2-D
        support_y, else 1; support_size and query_size (examples per task) default to the label
        counts divided by num_tasks. A step whose loss or gradients are not finite raises
        :class:`NumericalError` and leaves the model unchanged. Needs exclusive use of the model.
        """
        t, keep = self._tasks(support_x, support_y, query_x, query_y, num_tasks, support_size,
                              query_size)
        m = N.new_metrics()
        lib.maml_meta_train_step(self._h(), ctypes.byref(t), ctypes.byref(m))
        del keep
        return Metrics._from_struct(m)

    def evaluate(self, support_x, support_y, query_x, query_y, num_tasks=None,
                 support_size=None, query_size=None):
        """Adapts every task and measures query loss and accuracy without changing the model
        (``maml_evaluate``) -> :class:`Metrics`. Arguments as :meth:`meta_train_step`."""
        t, keep = self._tasks(support_x, support_y, query_x, query_y, num_tasks, support_size,
                              query_size)
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
        x, x_addr, x_n, _ = _buffers.floats(support_x, "support_x")
        _ensure_count("support_x", x_n, n_support * self._per_example)
        out = ctypes.c_void_p()
        lib.maml_adapt(self._h(), x_addr, y_addr, n_support, ctypes.byref(out))
        del x, y
        return Learner._from_ptr(out, self._image_shape)

    def adapt_tasks(self, support_x, support_y, num_tasks=None, support_size=None):
        """Adapts several tasks at once (``maml_adapt_tasks``) -> a list of :class:`Learner`,
        one per task. Arrays and inference as :meth:`meta_train_step`'s support half."""
        t, keep = self._tasks(support_x, support_y, None, None, num_tasks, support_size, None)
        out = (ctypes.c_void_p * t.num_tasks)()
        lib.maml_adapt_tasks(self._h(), ctypes.byref(t), out)
        del keep
        learners = []
        try:
            for i in range(t.num_tasks):
                p = ctypes.c_void_p(out[i])
                out[i] = None
                learners.append(Learner._from_ptr(p, self._image_shape))
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
        """(C, H, W) of the images this model takes."""
        return self._image_shape

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
        return "<mamlpp.Model %d-way %dx%dx%d, step %d, %s>" % (
            c.n_way, c.image_channels, c.image_height, c.image_width, self.step, self.device)


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
    """A model adapted to one task (``maml_learner``), from :meth:`Model.adapt`.

    Independent of its model (closing the model does not invalidate it). :meth:`predict` may run
    from many threads at once. Use it as a context manager or call :meth:`close`; it is also freed
    when garbage-collected.
    """

    __slots__ = ("_n_way", "_image_shape", "_per_example")
    _free = lib.maml_learner_free
    _kind = "Learner"

    def __init__(self):
        raise TypeError("Learners come from Model.adapt() / Model.adapt_tasks()")

    @classmethod
    def _from_ptr(cls, ptr, image_shape):
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
        c, h, w = self._image_shape
        self._per_example = c * h * w
        return self

    @property
    def n_way(self):
        """The number of classes this learner predicts (``maml_learner_n_way``)."""
        return self._n_way

    @property
    def image_shape(self):
        """(C, H, W) of the images this learner takes (the model's, at adaptation)."""
        return self._image_shape

    def predict(self, x, n=None):
        """Classifies images (``maml_predict``) -> :class:`Prediction` ``(labels, logits)``.

        x holds n images of C*H*W float32 values (n inferred unless given). Outputs are numpy
        arrays if x is one (labels (n,), logits (n, n_way)), else array.array ('i' and 'f').
        The labels are the library's argmax of the logits; no other post-processing is done."""
        h = self._h()
        xk, x_addr, x_n, as_np = _buffers.floats(x, "x")
        n = _examples("x", x_n, self._per_example, n)
        k = self._n_way
        logits, l_addr = _buffers.new_floats(n * k, as_np, (n, k))
        labels, y_addr = _buffers.new_int32s(n, as_np)
        lib.maml_predict(h, x_addr, n, l_addr, y_addr)
        del xk
        return Prediction(labels, logits)

    def __repr__(self):
        if self.closed:
            return "<mamlpp.Learner (closed)>"
        return "<mamlpp.Learner %d-way %dx%dx%d>" % ((self._n_way,) + self._image_shape)


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
