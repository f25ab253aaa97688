"""Turning Python array-likes into (address, element count) for the C calls, and making outputs.

Accepted inputs, tried in this order (images become float32, labels int32):

* numpy arrays (only if numpy is importable): converted with ``numpy.ascontiguousarray(x,
  dtype=float32 / int32)``, which copies only when the dtype or layout differs;
* ``array.array``: typecode ``'f'`` (images) / a 4-byte ``'i'`` or ``'l'`` (labels) is used in
  place; other typecodes are converted;
* any other buffer-protocol object (memoryview, bytes, bytearray, ctypes arrays, ...): a buffer of
  format ``'f'`` / 4-byte integers is used in place (copied if read-only or not C-contiguous);
  a buffer of raw bytes (format ``'B'``, ``'b'`` or ``'c'``: bytes, bytearray) is taken as the
  native-endian float32 / int32 values themselves; other numeric formats are converted;
* any other sequence, flat or nested (lists of lists): its numbers are converted.

Nothing here validates values (NaN, label ranges, ...): that is the library's job. What the binding
does check is the element count, because the C calls receive bare pointers and would otherwise read
past the end of a short buffer.
"""

import array
import ctypes

from ._native import LITTLE_ENDIAN

try:  # numpy is optional
    import numpy as _np
except ImportError:  # pragma: no cover - depends on the interpreter
    _np = None

HAVE_NUMPY = _np is not None

_RAW_BYTE_FORMATS = ("B", "b", "c")
_INT32_TYPECODE = "i" if array.array("i").itemsize == 4 else "l"


def _native_format(fmt):
    """The struct format letter of a native-endian, single-item buffer format, or None."""
    if fmt[:1] in ("@", "="):
        fmt = fmt[1:]
    elif fmt[:1] == "<" and LITTLE_ENDIAN:
        fmt = fmt[1:]
    elif fmt[:1] in (">", "!") and not LITTLE_ENDIAN:
        fmt = fmt[1:]
    return fmt if len(fmt) == 1 else None


def _is_sequence(item):
    return isinstance(item, (list, tuple)) or (
        hasattr(item, "__len__") and hasattr(item, "__getitem__")
        and not isinstance(item, (str, bytes, bytearray))
    )


def _flatten(seq, out):
    for item in seq:
        if _is_sequence(item):
            _flatten(item, out)
        else:
            out.append(item)
    return out


def is_numpy(obj):
    """True if obj is a numpy array (False when numpy is not importable)."""
    return _np is not None and isinstance(obj, _np.ndarray)


def _from_memoryview(mv, typecode, itemformats, what):
    fmt = _native_format(mv.format)
    if fmt is None:
        raise TypeError("%s: unsupported buffer format %r" % (what, mv.format))
    if fmt in itemformats and mv.itemsize == 4:
        if mv.c_contiguous and not mv.readonly:
            holder = (ctypes.c_char * mv.nbytes).from_buffer(mv) if mv.nbytes else None
            return holder, (ctypes.addressof(holder) if holder is not None else None), mv.nbytes // 4
        data = array.array(typecode)
        data.frombytes(mv.tobytes())
        return data, data.buffer_info()[0], len(data)
    if fmt in _RAW_BYTE_FORMATS:
        if mv.nbytes % 4:
            raise ValueError("%s: a raw byte buffer must hold whole 4-byte values, it has %d bytes"
                             % (what, mv.nbytes))
        if mv.c_contiguous and not mv.readonly:
            holder = (ctypes.c_char * mv.nbytes).from_buffer(mv) if mv.nbytes else None
            return holder, (ctypes.addressof(holder) if holder is not None else None), mv.nbytes // 4
        data = array.array(typecode)
        data.frombytes(mv.tobytes())
        return data, data.buffer_info()[0], len(data)
    # Another numeric format (double, int64, ...): convert element by element.
    try:
        flat = memoryview(mv.tobytes()).cast(fmt)
    except (TypeError, ValueError):
        raise TypeError("%s: unsupported buffer format %r" % (what, mv.format))
    data = array.array(typecode, flat)
    return data, data.buffer_info()[0], len(data)


def _convert(obj, typecode, itemformats, np_dtype, what):
    """Returns (keepalive, address or None, count, was_numpy)."""
    if obj is None:
        raise TypeError("%s must not be None" % what)
    if _np is not None and isinstance(obj, _np.ndarray):
        a = _np.ascontiguousarray(obj, dtype=np_dtype)
        return a, (a.ctypes.data if a.size else None), int(a.size), True
    if isinstance(obj, array.array):
        if obj.typecode in itemformats and obj.itemsize == 4:
            addr, n = obj.buffer_info()
            return obj, (addr if n else None), n, False
        data = array.array(typecode, obj)
        addr, n = data.buffer_info()
        return data, (addr if n else None), n, False
    try:
        mv = memoryview(obj)
    except TypeError:
        mv = None
    if mv is not None:
        keep, addr, n = _from_memoryview(mv, typecode, itemformats, what)
        return (keep, obj), addr, n, False
    try:
        data = array.array(typecode, _flatten(obj, []))
    except TypeError as e:
        raise TypeError("%s: expected a numpy array, a buffer or a sequence of numbers (%s)"
                        % (what, e))
    addr, n = data.buffer_info()
    return data, (addr if n else None), n, False


def floats(obj, what="x"):
    """(keepalive, address, count, was_numpy) of obj as float32 values."""
    return _convert(obj, "f", ("f",), "float32", what)


def int32s(obj, what="y"):
    """(keepalive, address, count, was_numpy) of obj as int32 values."""
    return _convert(obj, _INT32_TYPECODE, ("i", "l"), "int32", what)


def leading_dim(obj):
    """The first dimension of a 2-D (or more) array-like, else None. Used to infer num_tasks from
    labels shaped (num_tasks, examples)."""
    if _np is not None and isinstance(obj, _np.ndarray):
        return int(obj.shape[0]) if obj.ndim >= 2 else None
    if isinstance(obj, (list, tuple)):
        return len(obj) if obj and _is_sequence(obj[0]) else None
    if isinstance(obj, array.array):
        return None
    try:
        mv = memoryview(obj)
    except TypeError:
        return None
    return int(mv.shape[0]) if mv.ndim >= 2 else None


def numpy_shape(obj):
    """The shape of a numpy array, else None (other inputs are only counted)."""
    if _np is not None and isinstance(obj, _np.ndarray):
        return tuple(int(d) for d in obj.shape)
    return None


def ndim(obj):
    """The number of dimensions of an array-like: a numpy array's or memoryview's, the nesting
    depth of lists and tuples (along their first items), 1 for anything else."""
    if _np is not None and isinstance(obj, _np.ndarray):
        return obj.ndim
    if isinstance(obj, (list, tuple)):
        depth, item = 1, obj
        while isinstance(item, (list, tuple)) and item and _is_sequence(item[0]):
            depth, item = depth + 1, item[0]
        return depth
    if isinstance(obj, array.array):
        return 1
    try:
        return memoryview(obj).ndim
    except TypeError:
        return 1


def new_floats(count, as_numpy, shape=None):
    """A zeroed float32 output of count values: numpy (reshaped to shape) or array.array('f')."""
    if as_numpy:
        out = _np.zeros(shape if shape is not None else (count,), dtype=_np.float32)
        return out, (out.ctypes.data if count else None)
    out = array.array("f", bytes(4 * count))
    return out, (out.buffer_info()[0] if count else None)


def new_int32s(count, as_numpy):
    """A zeroed int32 output of count values: numpy or array.array('i')."""
    if as_numpy:
        out = _np.zeros((count,), dtype=_np.int32)
        return out, (out.ctypes.data if count else None)
    out = array.array(_INT32_TYPECODE, bytes(4 * count))
    return out, (out.buffer_info()[0] if count else None)


def float64s(obj, what="values"):
    """A fresh, C-contiguous float64 copy of obj: (copy, address or None, count, was_numpy).

    For :meth:`Group.allreduce_sum`, which sums in place: the caller's object is never written.
    A numpy array gives a numpy array of the same shape; anything else (a sequence of numbers,
    flat or nested, an ``array.array``, a memoryview) an ``array.array('d')``. Text and raw bytes
    are refused (TypeError): they are not numbers."""
    if obj is None or isinstance(obj, (str, bytes, bytearray)):
        raise TypeError("%s: expected numbers (a sequence, array.array or numpy array), not %s"
                        % (what, type(obj).__name__))
    if _np is not None and isinstance(obj, _np.ndarray):
        out = _np.array(obj, dtype=_np.float64, order="C", copy=True)
        return out, (out.ctypes.data if out.size else None), int(out.size), True
    if isinstance(obj, memoryview):
        obj = obj.tolist()
    try:
        data = array.array("d", _flatten(obj, []))
    except TypeError as e:
        raise TypeError("%s: expected a sequence of numbers (%s)" % (what, e))
    addr, n = data.buffer_info()
    return data, (addr if n else None), n, False
