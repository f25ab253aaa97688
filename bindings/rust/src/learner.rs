//! [`Learner`]: a model adapted to one task.
use std::fmt;
use std::ptr::{self, NonNull};

use crate::error::{check, Error, Result, Status};
use crate::sys;

/// Labels and logits for a batch of examples.
#[derive(Clone, Debug, PartialEq)]
pub struct Prediction {
    /// One label in `[0, n_way)` per example (the argmax of its logits).
    pub labels: Vec<i32>,
    /// Row-major `[example][class]`, `labels.len() * n_way` logits.
    pub logits: Vec<f32>,
    pub n_way: usize,
}

impl Prediction {
    /// The logits of example `i`.
    pub fn logits_of(&self, i: usize) -> &[f32] {
        &self.logits[i * self.n_way..(i + 1) * self.n_way]
    }
}

/// An adapted model (`maml_learner*`): fast weights for one task, freed on drop. Independent of
/// the [`Model`](crate::Model) it came from, which may be dropped first.
///
/// `Learner` is `Send` and `Sync`: `maml_predict` may run on one learner from many threads at
/// once, and it is the only call that uses the handle besides `maml_learner_free` (in `Drop`,
/// which needs ownership).
pub struct Learner {
    ptr: NonNull<sys::maml_learner>,
    example_len: usize,
    n_way: usize,
}

// SAFETY: see the type's documentation.
unsafe impl Send for Learner {}
unsafe impl Sync for Learner {}

impl Drop for Learner {
    fn drop(&mut self) {
        // SAFETY: we own the handle.
        unsafe { sys::maml_learner_free(self.ptr.as_ptr()) }
    }
}

impl fmt::Debug for Learner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Learner")
            .field("n_way", &self.n_way)
            .field("example_len", &self.example_len)
            .finish()
    }
}

impl Learner {
    pub(crate) fn from_handle(p: *mut sys::maml_learner, example_len: usize) -> Result<Learner> {
        let ptr = NonNull::new(p)
            .ok_or_else(|| Error::new(Status::Internal, "library returned a NULL learner"))?;
        let mut l = Learner { ptr, example_len, n_way: 0 };
        let mut n = 0i32;
        // SAFETY: valid handle and out-pointer; on error l drops and frees the handle.
        check(unsafe { sys::maml_learner_n_way(l.ptr.as_ptr(), &mut n) })?;
        l.n_way = n.max(0) as usize;
        Ok(l)
    }

    fn checked_count(&self, x: &[f32]) -> Result<i32> {
        if self.example_len == 0 || x.len() % self.example_len != 0 {
            return Err(Error::invalid(format!(
                "x has {} floats, not a multiple of the example length {} (C*H*W, or \
                 input_features for an MLP)",
                x.len(),
                self.example_len
            )));
        }
        let n = x.len() / self.example_len;
        i32::try_from(n).map_err(|_| Error::invalid(format!("{n} examples do not fit in int32")))
    }

    /// Classifies the examples in `x` (`k * C * H * W` floats, NCHW; `k * input_features` for
    /// the MLP backbone) (`maml_predict`). A regression learner refuses this call with
    /// `Status::InvalidArgument`: use [`Learner::predict_values`].
    pub fn predict(&self, x: &[f32]) -> Result<Prediction> {
        let n = self.checked_count(x)?;
        let mut labels = vec![0i32; n as usize];
        let mut logits = vec![0f32; n as usize * self.n_way];
        // SAFETY: x holds n examples; the outputs have room for n labels and n*n_way logits.
        check(unsafe {
            sys::maml_predict(
                self.ptr.as_ptr(),
                x.as_ptr(),
                n,
                logits.as_mut_ptr(),
                labels.as_mut_ptr(),
            )
        })?;
        Ok(Prediction { labels, logits, n_way: self.n_way })
    }

    /// Only the labels of [`Learner::predict`].
    pub fn predict_labels(&self, x: &[f32]) -> Result<Vec<i32>> {
        let n = self.checked_count(x)?;
        let mut labels = vec![0i32; n as usize];
        // SAFETY: as predict; logits is NULL (allowed).
        check(unsafe {
            sys::maml_predict(
                self.ptr.as_ptr(),
                x.as_ptr(),
                n,
                ptr::null_mut(),
                labels.as_mut_ptr(),
            )
        })?;
        Ok(labels)
    }

    /// The values a regression learner predicts for the examples in `x` (`maml_predict` with
    /// `labels` NULL): `n_outputs` per example, row-major `[example][output]`. On a classifier
    /// it gives the logits. Since 1.3.
    pub fn predict_values(&self, x: &[f32]) -> Result<Vec<f32>> {
        let n = self.checked_count(x)?;
        let mut values = vec![0f32; n as usize * self.n_way];
        // SAFETY: x holds n examples; values has room for n * width floats; labels is NULL.
        check(unsafe {
            sys::maml_predict(
                self.ptr.as_ptr(),
                x.as_ptr(),
                n,
                values.as_mut_ptr(),
                ptr::null_mut(),
            )
        })?;
        Ok(values)
    }

    /// The width of a prediction row (`maml_learner_n_way`): the classes this learner predicts,
    /// or for a regression learner its `n_outputs`.
    pub fn n_way(&self) -> usize {
        self.n_way
    }

    /// Floats per example: `C * H * W`, or `input_features` for the MLP backbone.
    pub fn example_len(&self) -> usize {
        self.example_len
    }

    /// The raw handle, for calling `sys` functions directly. It stays owned by `self`.
    pub fn as_ptr(&self) -> *const sys::maml_learner {
        self.ptr.as_ptr()
    }
}
