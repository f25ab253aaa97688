"""Exceptions raised for libmamlpp's status codes.

Every failing C call raises a :class:`MamlError` subclass chosen by its status. The exception
carries the status (``.status``, an int such as -1), its constant name (``.status_name``, such as
``"MAML_E_INVALID_ARGUMENT"``), the library's message (``.message``, from ``maml_last_error()``)
and the C function that failed (``.function``). Some subclasses also derive from the closest
built-in exception, so ``except ValueError`` / ``except OSError`` / ``except MemoryError`` work:

=====================================  ==========  =======================  ==================
status                                 value       class                    also a
=====================================  ==========  =======================  ==================
MAML_E_INVALID_ARGUMENT                -1          InvalidArgumentError     ValueError
MAML_E_IO                              -2          MamlIOError              OSError
MAML_E_FORMAT                          -3          FormatError
MAML_E_DEVICE                          -4          DeviceError
MAML_E_OUT_OF_MEMORY                   -5          OutOfMemoryError         MemoryError
MAML_E_NUMERICAL                       -6          NumericalError           ArithmeticError
MAML_E_UNSUPPORTED                     -7          UnsupportedError
MAML_E_INTERNAL                        -8          InternalError
MAML_E_DISTRIBUTED                     -9          DistributedError
any other negative value               ...         MamlError
=====================================  ==========  =======================  ==================
"""

OK = 0
E_INVALID_ARGUMENT = -1
E_IO = -2
E_FORMAT = -3
E_DEVICE = -4
E_OUT_OF_MEMORY = -5
E_NUMERICAL = -6
E_UNSUPPORTED = -7
E_INTERNAL = -8
E_DISTRIBUTED = -9  # since 1.1

STATUS_NAMES = {
    OK: "MAML_OK",
    E_INVALID_ARGUMENT: "MAML_E_INVALID_ARGUMENT",
    E_IO: "MAML_E_IO",
    E_FORMAT: "MAML_E_FORMAT",
    E_DEVICE: "MAML_E_DEVICE",
    E_OUT_OF_MEMORY: "MAML_E_OUT_OF_MEMORY",
    E_NUMERICAL: "MAML_E_NUMERICAL",
    E_UNSUPPORTED: "MAML_E_UNSUPPORTED",
    E_INTERNAL: "MAML_E_INTERNAL",
    E_DISTRIBUTED: "MAML_E_DISTRIBUTED",
}


class MamlError(Exception):
    """A libmamlpp call failed.

    Attributes:
        status: the ``maml_status`` (a negative int).
        status_name: its constant's name, e.g. ``"MAML_E_FORMAT"``.
        message: the library's message (``maml_last_error()``) for this failure.
        function: the C function that failed, e.g. ``"maml_load"`` (may be empty).
    """

    def __init__(self, status, message="", function=""):
        self.status = int(status)
        self.status_name = STATUS_NAMES.get(self.status, "unknown status")
        self.message = message
        self.function = function
        where = "%s: " % function if function else ""
        super().__init__("%s%s (%s, status %d)" % (where, message or "(no message)",
                                                   self.status_name, self.status))

    def __reduce__(self):
        return (self.__class__, (self.status, self.message, self.function))


class InvalidArgumentError(MamlError, ValueError):
    """MAML_E_INVALID_ARGUMENT: a NULL pointer, a size <= 0, a label outside [0, n_way), a config
    that makes no sense."""


class MamlIOError(MamlError, OSError):
    """MAML_E_IO: a file could not be opened, read, written, synced or renamed."""


class FormatError(MamlError):
    """MAML_E_FORMAT: a file or buffer is not a valid meta-initialisation."""


class DeviceError(MamlError):
    """MAML_E_DEVICE: the requested device does not exist, or tensors live elsewhere."""


class OutOfMemoryError(MamlError, MemoryError):
    """MAML_E_OUT_OF_MEMORY: host or device memory ran out."""


class NumericalError(MamlError, ArithmeticError):
    """MAML_E_NUMERICAL: NaN or infinity in an input, a loss or a gradient; nothing changed."""


class UnsupportedError(MamlError):
    """MAML_E_UNSUPPORTED: a valid request this build or configuration does not support."""


class InternalError(MamlError):
    """MAML_E_INTERNAL: a bug in libmamlpp or LibTorch; please report it with the message."""


class DistributedError(MamlError):
    """MAML_E_DISTRIBUTED: a collective of a process group failed: a peer process exited or timed
    out, the ranks disagree (config, model, library version), or another rank refused the step.
    Since libmamlpp 1.1."""


ERROR_CLASSES = {
    E_INVALID_ARGUMENT: InvalidArgumentError,
    E_IO: MamlIOError,
    E_FORMAT: FormatError,
    E_DEVICE: DeviceError,
    E_OUT_OF_MEMORY: OutOfMemoryError,
    E_NUMERICAL: NumericalError,
    E_UNSUPPORTED: UnsupportedError,
    E_INTERNAL: InternalError,
    E_DISTRIBUTED: DistributedError,
}


def raise_for_status(status, message="", function=""):
    """Raises the :class:`MamlError` subclass for a non-zero status; returns for MAML_OK."""
    if status == OK:
        return
    raise ERROR_CLASSES.get(status, MamlError)(status, message, function)
