//! Safe Rust bindings to **libmamlpp**, a MAML++ meta-learning library behind a stable C ABI.
//!
//! The crate has no dependencies: [`sys`] declares the C header by hand, and the rest is a thin,
//! checked wrapper over it (no logic of its own beyond checking slice lengths, so that no safe
//! call can make the library read or write out of bounds).
//!
//! ```no_run
//! use mamlpp::{Model, Result};
//!
//! fn run(support_x: &[f32], support_y: &[i32], query_x: &[f32]) -> Result<()> {
//!     let model = Model::load("omniglot.maml")?;          // a meta-initialisation file
//!     let learner = model.adapt(support_x, support_y)?;   // 5 labelled examples
//!     let pred = learner.predict(query_x)?;               // k * C*H*W floats, NCHW
//!     for (i, label) in pred.labels.iter().enumerate() {
//!         println!("{i}: {label} {:?}", pred.logits_of(i));
//!     }
//!     Ok(())
//! }
//! ```
//!
//! # Threads
//! [`Model`] training methods take `&mut self`; adaptation, saving and getters take `&self` and
//! may run from many threads on one shared `&Model`. [`Learner::predict`] takes `&self` and may run
//! from many threads on one `&Learner`. Both types are `Send + Sync`; the borrow rules enforce the
//! C header's threading contract.
//!
//! # Regression (since 1.3)
//! A model with `backbone: Backbone::Mlp` takes vectors of `input_features` floats, and one with
//! `task_kind: TaskKind::Regression` learns `n_outputs` real values per example from `f32`
//! targets: [`Tasks::regression`] for meta-training, [`Model::adapt_regression`] to adapt and
//! [`Learner::predict_values`] to predict.
//!
//! ```no_run
//! use mamlpp::{Activation, Backbone, Config, Model, Result, TaskKind};
//!
//! fn sinusoid(support_x: &[f32], support_t: &[f32], new_x: &[f32]) -> Result<Vec<f32>> {
//!     let model = Model::new(&Config {
//!         backbone: Backbone::Mlp,
//!         input_features: 1,
//!         hidden_layers: 2,
//!         hidden_sizes: [40, 40, 0, 0, 0, 0, 0, 0],
//!         activation: Activation::Relu,
//!         batch_norm: false,
//!         task_kind: TaskKind::Regression,
//!         n_outputs: 1,
//!         ..Config::default()
//!     })?;
//!     // ... meta-train with Model::meta_train_step(&Tasks::regression(...)) ...
//!     let learner = model.adapt_regression(support_x, support_t)?; // K (x, t) pairs
//!     learner.predict_values(new_x)                              // one value per x
//! }
//! ```
//!
//! # Several processes
//! A [`Group`] (since 1.1) joins a process group (c10d, e.g. under `torchrun`);
//! [`Model::attach`] makes the model's training steps collective over it, each rank passing its
//! share of every meta-batch.
//!
//! # Versions
//! The first call that makes a handle checks `maml_abi_version()` against the ABI this crate was
//! written for ([`sys::MAMLPP_ABI_VERSION`]) and fails with [`Status::Unsupported`] on a mismatch.

pub mod sys;

mod config;
mod error;
mod group;
mod learner;
mod model;

use std::ffi::CStr;

pub use config::{
    Activation, Backbone, BnStats, Config, DeviceType, Dtype, TaskBatching, TaskKind,
};
pub use error::{Error, Result, Status};
pub use group::{Group, GROUP_DEFAULT_TIMEOUT};
pub use learner::{Learner, Prediction};
pub use model::{InnerLrs, Metrics, Model, Tasks};

/// The linked library's version, e.g. `"1.3.0"` (`maml_version_string`).
pub fn version() -> &'static str {
    // SAFETY: static storage, never NULL.
    unsafe { CStr::from_ptr(sys::maml_version_string()) }.to_str().unwrap_or("?")
}

/// The linked library's version as `major*10000 + minor*100 + patch`.
pub fn version_number() -> i32 {
    // SAFETY: no arguments.
    unsafe { sys::maml_version_number() }
}

/// The linked library's ABI version (`maml_abi_version`).
pub fn abi_version() -> i32 {
    // SAFETY: no arguments.
    unsafe { sys::maml_abi_version() }
}

/// How many CUDA devices the library sees (0 on CPU-only builds or machines).
pub fn cuda_device_count() -> i32 {
    // SAFETY: no arguments.
    unsafe { sys::maml_cuda_device_count() }
}

/// Chooses reproducible (`true`, the default) or fastest (`false`: cuDNN's nondeterministic
/// algorithms allowed) GPU arithmetic for every CUDA model of the process
/// (`maml_set_cuda_deterministic`). Process-wide and immediate: set it before starting work. No
/// effect on CPU models; never fails. Since libmamlpp 1.1.
pub fn set_cuda_deterministic(deterministic: bool) {
    // SAFETY: a plain integer argument; the call never fails.
    unsafe { sys::maml_set_cuda_deterministic(i32::from(deterministic)) }
}

/// `(current_bytes, peak_bytes)` of GPU memory held by LibTorch tensors on one CUDA device, for
/// the whole process; the peak is since start or the last reset, and `reset_peak` starts a new
/// window after reading (`maml_cuda_memory`). `Status::Device` where there is no such GPU.
pub fn cuda_memory(device_index: i32, reset_peak: bool) -> Result<(i64, i64)> {
    let (mut current, mut peak) = (0i64, 0i64);
    // SAFETY: two valid out-pointers for the duration of the call.
    error::check(unsafe {
        sys::maml_cuda_memory(device_index, i32::from(reset_peak), &mut current, &mut peak)
    })?;
    Ok((current, peak))
}

/// Checks the linked library's ABI; every constructor calls it (one cheap C call).
pub fn ensure_abi() -> Result<()> {
    let found = abi_version();
    if found == sys::MAMLPP_ABI_VERSION {
        Ok(())
    } else {
        Err(Error::new(
            Status::Unsupported,
            format!(
                "libmamlpp ABI version {found} (library {}), but the mamlpp crate needs ABI {}",
                version(),
                sys::MAMLPP_ABI_VERSION
            ),
        ))
    }
}
