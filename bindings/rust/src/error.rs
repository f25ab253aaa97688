//! Errors: a status code from the C ABI plus the library's message.
use std::ffi::CStr;
use std::fmt;

use crate::sys;

/// The kind of failure, one variant per `MAML_E_*` code (values frozen by the ABI).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Status {
    /// `MAML_E_INVALID_ARGUMENT`: a bad size, label, config field, or slice length.
    InvalidArgument,
    /// `MAML_E_IO`: a file could not be opened, read, written, synced or renamed.
    Io,
    /// `MAML_E_FORMAT`: not a valid meta-initialisation (corrupt, truncated, newer major).
    Format,
    /// `MAML_E_DEVICE`: the requested device does not exist.
    Device,
    /// `MAML_E_OUT_OF_MEMORY`: host or device memory ran out.
    OutOfMemory,
    /// `MAML_E_NUMERICAL`: NaN or infinity in an input, loss or gradient; nothing changed.
    Numerical,
    /// `MAML_E_UNSUPPORTED`: a valid request this build does not support (also: ABI mismatch).
    Unsupported,
    /// `MAML_E_INTERNAL`: a bug in libmamlpp or LibTorch.
    Internal,
    /// `MAML_E_DISTRIBUTED` (since 1.1): a collective of a process group failed: a peer process
    /// exited or timed out, the ranks disagree (config, model, library version), or another rank
    /// refused the step.
    Distributed,
    /// A code this crate does not know (from a newer library).
    Other(i32),
}

impl Status {
    /// Maps a C status code (not `MAML_OK`).
    pub fn from_code(code: i32) -> Status {
        match code {
            sys::MAML_E_INVALID_ARGUMENT => Status::InvalidArgument,
            sys::MAML_E_IO => Status::Io,
            sys::MAML_E_FORMAT => Status::Format,
            sys::MAML_E_DEVICE => Status::Device,
            sys::MAML_E_OUT_OF_MEMORY => Status::OutOfMemory,
            sys::MAML_E_NUMERICAL => Status::Numerical,
            sys::MAML_E_UNSUPPORTED => Status::Unsupported,
            sys::MAML_E_INTERNAL => Status::Internal,
            sys::MAML_E_DISTRIBUTED => Status::Distributed,
            other => Status::Other(other),
        }
    }

    /// The C status code.
    pub fn code(self) -> i32 {
        match self {
            Status::InvalidArgument => sys::MAML_E_INVALID_ARGUMENT,
            Status::Io => sys::MAML_E_IO,
            Status::Format => sys::MAML_E_FORMAT,
            Status::Device => sys::MAML_E_DEVICE,
            Status::OutOfMemory => sys::MAML_E_OUT_OF_MEMORY,
            Status::Numerical => sys::MAML_E_NUMERICAL,
            Status::Unsupported => sys::MAML_E_UNSUPPORTED,
            Status::Internal => sys::MAML_E_INTERNAL,
            Status::Distributed => sys::MAML_E_DISTRIBUTED,
            Status::Other(c) => c,
        }
    }

    /// The library's constant name for the code, e.g. `"MAML_E_IO"` (`maml_status_string`).
    pub fn name(self) -> &'static str {
        // SAFETY: maml_status_string returns static storage, never NULL.
        unsafe { CStr::from_ptr(sys::maml_status_string(self.code())) }
            .to_str()
            .unwrap_or("unknown status")
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A failed libmamlpp call: what kind of failure, and the library's message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub status: Status,
    pub message: String,
}

/// `std::result::Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An error raised by the binding itself (before the C call).
    pub(crate) fn new(status: Status, message: impl Into<String>) -> Error {
        Error { status, message: message.into() }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Error {
        Error::new(Status::InvalidArgument, message)
    }

    /// Builds the error for `code` from `maml_last_error()`. Must run on the thread that made
    /// the failing call, before any other libmamlpp call on it (the message is thread-local).
    pub(crate) fn from_last(code: i32) -> Error {
        // SAFETY: maml_last_error never returns NULL; the string is valid until the next
        // libmamlpp call on this thread, and we copy it at once.
        let message =
            unsafe { CStr::from_ptr(sys::maml_last_error()) }.to_string_lossy().into_owned();
        Error { status: Status::from_code(code), message }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            write!(f, "{}", self.status)
        } else {
            write!(f, "{}: {}", self.status, self.message)
        }
    }
}

impl std::error::Error for Error {}

/// `Ok(())` for `MAML_OK`, else the error with the calling thread's last message.
#[inline]
pub(crate) fn check(code: sys::maml_status) -> Result<()> {
    if code == sys::MAML_OK {
        Ok(())
    } else {
        Err(Error::from_last(code))
    }
}
