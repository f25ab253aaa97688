//! [`Model`]: a meta-learner (meta-parameters, LSLR table, per-step BN, Adam state, step).
use std::ffi::{CStr, CString};
use std::fmt;
use std::mem::size_of;
use std::os::raw::c_void;
use std::path::Path;
use std::ptr::{self, NonNull};

use crate::config::{Config, DeviceType};
use crate::error::{check, Error, Result};
use crate::group::Group;
use crate::learner::Learner;
use crate::{ensure_abi, sys};

/// A meta-batch of tasks in host memory, borrowed for the duration of one call.
///
/// Arrays are laid out task after task: `support_x` holds `num_tasks * support_size * E` floats
/// (E = `C * H * W`, NCHW, for the conv backbone; `input_features` for the MLP), `support_y`
/// holds `num_tasks * support_size` labels in `[0, n_way)`, and the same for the query set. A
/// regression model (since 1.3) takes `f32` targets instead of labels: `support_t` and `query_t`,
/// `n_outputs` per example, with `support_y` and `query_y` empty. An empty slice is passed as
/// NULL; which of labels and targets a model takes, the library decides (a classifier refuses
/// targets, a regression model labels, with `Status::InvalidArgument`). The binding checks every
/// non-empty length against the model's example size before calling the library.
///
/// Since 1.3 the struct has the two target fields: build it with [`Tasks::classification`],
/// [`Tasks::regression`], [`Tasks::support_only`], or a literal ending in
/// `..Default::default()`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tasks<'a> {
    pub num_tasks: usize,
    /// Support examples per task (N*K).
    pub support_size: usize,
    /// Query examples per task (N*Q); may be 0 for [`Model::adapt_tasks`].
    pub query_size: usize,
    pub support_x: &'a [f32],
    pub support_y: &'a [i32],
    pub query_x: &'a [f32],
    pub query_y: &'a [i32],
    /// Regression targets of the support sets, `num_tasks * support_size * n_outputs`; empty for
    /// a classifier. Since 1.3.
    pub support_t: &'a [f32],
    /// Regression targets of the query sets, `num_tasks * query_size * n_outputs`; empty for a
    /// classifier. Since 1.3.
    pub query_t: &'a [f32],
}

impl<'a> Tasks<'a> {
    /// A classifier's meta-batch: examples and `i32` labels.
    pub fn classification(
        num_tasks: usize,
        support_size: usize,
        query_size: usize,
        support_x: &'a [f32],
        support_y: &'a [i32],
        query_x: &'a [f32],
        query_y: &'a [i32],
    ) -> Tasks<'a> {
        Tasks {
            num_tasks,
            support_size,
            query_size,
            support_x,
            support_y,
            query_x,
            query_y,
            ..Default::default()
        }
    }

    /// A regression model's meta-batch: examples and `f32` targets (`n_outputs` per example).
    /// Since 1.3.
    pub fn regression(
        num_tasks: usize,
        support_size: usize,
        query_size: usize,
        support_x: &'a [f32],
        support_t: &'a [f32],
        query_x: &'a [f32],
        query_t: &'a [f32],
    ) -> Tasks<'a> {
        Tasks {
            num_tasks,
            support_size,
            query_size,
            support_x,
            support_t,
            query_x,
            query_t,
            ..Default::default()
        }
    }

    /// Support sets with regression targets only, for [`Model::adapt_tasks`]. Since 1.3.
    pub fn support_only_regression(
        num_tasks: usize,
        support_size: usize,
        support_x: &'a [f32],
        support_t: &'a [f32],
    ) -> Tasks<'a> {
        Tasks { num_tasks, support_size, support_x, support_t, ..Default::default() }
    }

    /// Support sets only, for [`Model::adapt_tasks`].
    pub fn support_only(
        num_tasks: usize,
        support_size: usize,
        support_x: &'a [f32],
        support_y: &'a [i32],
    ) -> Tasks<'a> {
        Tasks { num_tasks, support_size, support_x, support_y, ..Default::default() }
    }
}

/// What a training or evaluation call measured (`maml_metrics`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Metrics {
    /// Meta-loss: mean over tasks of the (MSL-weighted) query loss; for regression, the mean
    /// squared error.
    pub loss: f32,
    /// Query accuracy after the last inner step, mean over tasks; NaN for a regression model
    /// (not applicable).
    pub accuracy: f32,
    /// The Adam learning rate the step used.
    pub meta_lr: f32,
    /// Whether the step used second-order meta-gradients.
    pub second_order: bool,
    /// Meta-train steps completed by the model after the call.
    pub step: i64,
    /// The epoch the step belonged to.
    pub epoch: i64,
}

/// The learned inner learning rates (LSLR table): one row of `num_steps` rates per adapted
/// tensor, named as in the file format (e.g. `"backbone.head.bias"`).
#[derive(Clone, Debug, PartialEq)]
pub struct InnerLrs {
    pub names: Vec<String>,
    pub num_steps: usize,
    /// Row-major `[tensor][step]`, `names.len() * num_steps` rates.
    pub rates: Vec<f32>,
}

impl InnerLrs {
    /// The rates of tensor `i`, one per inner step.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.rates[i * self.num_steps..(i + 1) * self.num_steps]
    }

    /// `(name, rates)` for every adapted tensor.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[f32])> + '_ {
        self.names.iter().enumerate().map(move |(i, n)| (n.as_str(), self.row(i)))
    }
}

/// A meta-learner handle (`maml_model*`), freed on drop.
///
/// # Threads
/// The C contract: training calls (`maml_meta_train_step`, `maml_evaluate`) need exclusive use of
/// the model; `maml_adapt`, the getters and `maml_save*` may run from many threads at once while
/// no training call runs. This type expresses exactly that: training methods take `&mut self`,
/// everything else takes `&self`. The borrow checker then guarantees that while any `&Model`
/// exists (e.g. shared by [`std::thread::scope`]) no training can run, and that training has the
/// model to itself. Hence `Model: Send` (no thread affinity) and `Model: Sync` (shared references
/// only reach the calls that are safe concurrently).
pub struct Model {
    ptr: NonNull<sys::maml_model>,
    /// Floats of one example (C * H * W, or input_features for the MLP), for checking slice
    /// lengths before calling C.
    example_len: usize,
    n_way: usize,
    /// Regression targets per example (the config's n_outputs; 0 from a library older than 1.3).
    n_outputs: usize,
    regression: bool,
}

// SAFETY: see the type's documentation; the library has no thread affinity, `&self` methods
// only call the functions the header allows from many threads at once, and `&mut self` methods
// are the exclusive (training) calls.
unsafe impl Send for Model {}
unsafe impl Sync for Model {}

impl Drop for Model {
    fn drop(&mut self) {
        // SAFETY: we own the handle; learners adapted from it stay valid (header).
        unsafe { sys::maml_free(self.ptr.as_ptr()) }
    }
}

impl fmt::Debug for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Model")
            .field("n_way", &self.n_way)
            .field("example_len", &self.example_len)
            .field("regression", &self.regression)
            .field("step", &self.step().ok())
            .finish()
    }
}

fn to_i32(v: usize, what: &str) -> Result<i32> {
    i32::try_from(v).map_err(|_| Error::invalid(format!("{what} = {v} does not fit in int32")))
}

fn expect_len(actual: usize, count: Option<usize>, what: &str) -> Result<()> {
    match count {
        Some(n) if n == actual => Ok(()),
        Some(n) => Err(Error::invalid(format!("{what} has {actual} elements, expected {n}"))),
        None => Err(Error::invalid(format!("{what}: size overflows"))),
    }
}

/// The slice's pointer, or NULL when it is empty (labels or targets a set does not use).
fn non_empty<T>(s: &[T]) -> *const T {
    if s.is_empty() {
        ptr::null()
    } else {
        s.as_ptr()
    }
}

fn c_path(path: &Path) -> Result<CString> {
    #[cfg(unix)]
    let bytes = {
        use std::os::unix::ffi::OsStrExt;
        path.as_os_str().as_bytes().to_vec()
    };
    #[cfg(not(unix))]
    let bytes =
        path.to_str().ok_or_else(|| Error::invalid("path is not valid UTF-8"))?.as_bytes().to_vec();
    CString::new(bytes).map_err(|_| Error::invalid("path contains a NUL byte"))
}

fn c_text(text: &str, what: &str) -> Result<CString> {
    CString::new(text).map_err(|_| Error::invalid(format!("{} contains a NUL byte", what)))
}

fn metrics_from(m: &sys::maml_metrics) -> Metrics {
    Metrics {
        loss: m.loss,
        accuracy: m.accuracy,
        meta_lr: m.meta_lr,
        second_order: m.second_order != 0,
        step: m.step,
        epoch: m.epoch,
    }
}

impl Model {
    /// Wraps a fresh handle and caches the shape facts the binding checks slices against.
    fn from_handle(ptr: *mut sys::maml_model) -> Result<Model> {
        let ptr = NonNull::new(ptr)
            .ok_or_else(|| Error::new(crate::Status::Internal, "library returned a NULL model"))?;
        let mut m = Model { ptr, example_len: 0, n_way: 0, n_outputs: 0, regression: false };
        // The raw struct, not Config: a newer library's enum values must not stop a load.
        let raw = m.raw_config()?; // on error, m drops and frees the handle
        let dim = |d: i32| usize::try_from(d).unwrap_or(0);
        m.example_len = if raw.backbone == sys::MAML_BACKBONE_MLP {
            dim(raw.input_features)
        } else {
            dim(raw.image_channels) * dim(raw.image_height) * dim(raw.image_width)
        };
        m.n_way = dim(raw.n_way);
        // A library older than 1.3 zeroes the fields it does not know: a conv classifier.
        m.regression = raw.task_kind == sys::MAML_TASK_REGRESSION;
        m.n_outputs = dim(raw.n_outputs);
        Ok(m)
    }

    fn raw_config(&self) -> Result<sys::maml_config> {
        let mut raw = sys::maml_config {
            struct_size: size_of::<sys::maml_config>() as u32,
            ..Default::default()
        };
        // SAFETY: raw is a maml_config with struct_size set.
        check(unsafe { sys::maml_get_config(self.ptr.as_ptr(), &mut raw) })?;
        Ok(raw)
    }

    /// Creates a freshly initialised model (`maml_create`). Fails if the linked library's ABI
    /// is not the one this crate was written for.
    pub fn new(config: &Config) -> Result<Model> {
        ensure_abi()?;
        let raw = config.to_raw();
        let mut out = ptr::null_mut();
        // SAFETY: raw is a complete maml_config; out is a valid out-pointer.
        check(unsafe { sys::maml_create(&raw, &mut out) })?;
        Model::from_handle(out)
    }

    /// Loads a meta-initialisation file onto the default device (CUDA if present, else CPU).
    pub fn load(path: impl AsRef<Path>) -> Result<Model> {
        Model::load_on(path, DeviceType::Auto, 0)
    }

    /// Loads a meta-initialisation file onto the given device (`maml_load`).
    pub fn load_on(path: impl AsRef<Path>, device: DeviceType, device_index: i32) -> Result<Model> {
        ensure_abi()?;
        let p = c_path(path.as_ref())?;
        let mut out = ptr::null_mut();
        // SAFETY: p is NUL-terminated and lives through the call.
        check(unsafe { sys::maml_load(p.as_ptr(), device.raw(), device_index, &mut out) })?;
        Model::from_handle(out)
    }

    /// Loads a model from bytes produced by [`Model::to_bytes`] (or a file's contents).
    pub fn from_bytes(bytes: &[u8]) -> Result<Model> {
        Model::from_bytes_on(bytes, DeviceType::Auto, 0)
    }

    /// [`Model::from_bytes`] onto the given device (`maml_load_buffer`).
    pub fn from_bytes_on(bytes: &[u8], device: DeviceType, device_index: i32) -> Result<Model> {
        ensure_abi()?;
        let mut out = ptr::null_mut();
        // SAFETY: the slice is valid for bytes.len() bytes during the call.
        check(unsafe {
            sys::maml_load_buffer(
                bytes.as_ptr() as *const c_void,
                bytes.len(),
                device.raw(),
                device_index,
                &mut out,
            )
        })?;
        Model::from_handle(out)
    }

    /// Checks the labels and targets of one set (support or query) and returns their pointers:
    /// a non-empty slice must have its exact length; an empty one is NULL. With both empty, the
    /// one the model takes is reported missing.
    fn set_pointers(
        &self,
        count: Option<usize>,
        labels: &[i32],
        targets: &[f32],
        which: &str,
    ) -> Result<(*const i32, *const f32)> {
        let check_labels = !labels.is_empty() || (targets.is_empty() && !self.regression);
        let check_targets = !targets.is_empty() || (labels.is_empty() && self.regression);
        if check_labels {
            expect_len(labels.len(), count, &format!("{which}_y"))?;
        }
        if check_targets {
            let per = self.n_outputs.max(1);
            expect_len(
                targets.len(),
                count.and_then(|n| n.checked_mul(per)),
                &format!("{which}_t"),
            )?;
        }
        Ok((non_empty(labels), non_empty(targets)))
    }

    /// Builds the C view of `t`, checking every slice length first.
    fn raw_tasks(&self, t: &Tasks<'_>, with_query: bool) -> Result<sys::maml_tasks> {
        let per = |size: usize| t.num_tasks.checked_mul(size);
        let s = per(t.support_size);
        let (sy, st) = self.set_pointers(s, t.support_y, t.support_t, "support")?;
        expect_len(
            t.support_x.len(),
            s.and_then(|n| n.checked_mul(self.example_len)),
            "support_x",
        )?;
        let (query_size, qx, qy, qt) = if with_query {
            let q = per(t.query_size);
            let (qy, qt) = self.set_pointers(q, t.query_y, t.query_t, "query")?;
            expect_len(
                t.query_x.len(),
                q.and_then(|n| n.checked_mul(self.example_len)),
                "query_x",
            )?;
            (to_i32(t.query_size, "query_size")?, t.query_x.as_ptr(), qy, qt)
        } else {
            (0, ptr::null(), ptr::null(), ptr::null())
        };
        Ok(sys::maml_tasks {
            struct_size: size_of::<sys::maml_tasks>() as u32,
            num_tasks: to_i32(t.num_tasks, "num_tasks")?,
            support_size: to_i32(t.support_size, "support_size")?,
            query_size,
            support_x: t.support_x.as_ptr(),
            support_y: sy,
            query_x: qx,
            query_y: qy,
            support_t: st,
            query_t: qt,
        })
    }

    /// One meta-train step (`maml_meta_train_step`): adapts every task, takes one Adam step on
    /// the meta-parameters. On error (e.g. [`Status::Numerical`](crate::Status)) the model is
    /// unchanged. Needs exclusive access.
    pub fn meta_train_step(&mut self, tasks: &Tasks<'_>) -> Result<Metrics> {
        let raw = self.raw_tasks(tasks, true)?;
        let mut m = sys::maml_metrics {
            struct_size: size_of::<sys::maml_metrics>() as u32,
            ..Default::default()
        };
        // SAFETY: raw's pointers borrow slices whose lengths were checked; &mut self is exclusive.
        check(unsafe { sys::maml_meta_train_step(self.ptr.as_ptr(), &raw, &mut m) })?;
        Ok(metrics_from(&m))
    }

    /// Adapts every task and measures query loss and accuracy without changing the model
    /// (`maml_evaluate`). Like `adapt`, it may run from many threads at once, hence `&self`.
    pub fn evaluate(&self, tasks: &Tasks<'_>) -> Result<Metrics> {
        let raw = self.raw_tasks(tasks, true)?;
        let mut m = sys::maml_metrics {
            struct_size: size_of::<sys::maml_metrics>() as u32,
            ..Default::default()
        };
        // SAFETY: as meta_train_step.
        check(unsafe { sys::maml_evaluate(self.ptr.as_ptr(), &raw, &mut m) })?;
        Ok(metrics_from(&m))
    }

    /// Adapts to one task from labelled examples (`maml_adapt`): `support_y.len()` examples,
    /// `support_x` holding `support_y.len() * E` floats (E = [`Model::example_len`]). The model
    /// is not changed; safe from many threads at once on one `&Model`. A regression model refuses
    /// this call with `Status::InvalidArgument` (use [`Model::adapt_regression`]).
    pub fn adapt(&self, support_x: &[f32], support_y: &[i32]) -> Result<Learner> {
        let n = support_y.len();
        expect_len(support_x.len(), n.checked_mul(self.example_len), "support_x")?;
        let n = to_i32(n, "n_support")?;
        let mut out = ptr::null_mut();
        // SAFETY: slice lengths checked above; the call reads them only.
        check(unsafe {
            sys::maml_adapt(self.ptr.as_ptr(), support_x.as_ptr(), support_y.as_ptr(), n, &mut out)
        })?;
        Learner::from_handle(out, self.example_len)
    }

    /// Adapts a regression model to one task from examples and their `f32` targets
    /// (`maml_adapt_regression`): `support_t.len() / n_outputs` examples, `support_x` holding
    /// that many times [`Model::example_len`] floats. Predict with [`Learner::predict_values`].
    /// A classifier refuses this call with `Status::InvalidArgument` (use [`Model::adapt`]).
    /// Since libmamlpp 1.3, the one call of this crate that needs it: with an older library it
    /// returns `Status::Unsupported` (or, where the dynamic loader resolves symbols at start-up,
    /// a program calling it does not start).
    pub fn adapt_regression(&self, support_x: &[f32], support_t: &[f32]) -> Result<Learner> {
        if crate::version_number() < 10300 {
            return Err(Error::new(
                crate::Status::Unsupported,
                format!(
                    "maml_adapt_regression needs libmamlpp 1.3 or later; the linked library is {}",
                    crate::version()
                ),
            ));
        }
        let per = self.n_outputs.max(1);
        if support_t.len() % per != 0 {
            return Err(Error::invalid(format!(
                "support_t has {} floats, not a multiple of n_outputs = {per}",
                support_t.len()
            )));
        }
        let n = support_t.len() / per;
        expect_len(support_x.len(), n.checked_mul(self.example_len), "support_x")?;
        let n = to_i32(n, "n_support")?;
        let mut out = ptr::null_mut();
        // SAFETY: slice lengths checked above; the call reads them only.
        check(unsafe {
            sys::maml_adapt_regression(
                self.ptr.as_ptr(),
                support_x.as_ptr(),
                support_t.as_ptr(),
                n,
                &mut out,
            )
        })?;
        Learner::from_handle(out, self.example_len)
    }

    /// Adapts several tasks at once (`maml_adapt_tasks`; query fields are ignored), one learner
    /// per task. All or nothing.
    pub fn adapt_tasks(&self, tasks: &Tasks<'_>) -> Result<Vec<Learner>> {
        let raw = self.raw_tasks(tasks, false)?;
        let mut out: Vec<*mut sys::maml_learner> = vec![ptr::null_mut(); tasks.num_tasks];
        // SAFETY: out has room for num_tasks handles; raw was checked.
        check(unsafe { sys::maml_adapt_tasks(self.ptr.as_ptr(), &raw, out.as_mut_ptr()) })?;
        // Wrap every handle first, so each one is freed even if a later wrap fails.
        let wrapped: Vec<Result<Learner>> =
            out.into_iter().map(|p| Learner::from_handle(p, self.example_len)).collect();
        wrapped.into_iter().collect()
    }

    fn save_with(&self, path: &Path, flags: i32) -> Result<()> {
        let p = c_path(path)?;
        // SAFETY: p is NUL-terminated and lives through the call.
        check(unsafe { sys::maml_save_ex(self.ptr.as_ptr(), p.as_ptr(), flags) })
    }

    /// Writes everything, including what resuming training needs (`maml_save`). Atomic.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        self.save_with(path.as_ref(), sys::MAML_SAVE_DEFAULT)
    }

    /// Writes only what adapt and predict need (`MAML_SAVE_INFERENCE_ONLY`): what products ship.
    pub fn save_inference_only(&self, path: impl AsRef<Path>) -> Result<()> {
        self.save_with(path.as_ref(), sys::MAML_SAVE_INFERENCE_ONLY)
    }

    fn bytes_with(&self, flags: i32) -> Result<Vec<u8>> {
        let mut data: *mut c_void = ptr::null_mut();
        let mut size = 0usize;
        // SAFETY: valid out-pointers; on success data holds size bytes until maml_buffer_free.
        check(unsafe { sys::maml_save_buffer_ex(self.ptr.as_ptr(), flags, &mut data, &mut size) })?;
        let v = if size == 0 {
            Vec::new()
        } else {
            // SAFETY: see above.
            unsafe { std::slice::from_raw_parts(data as *const u8, size) }.to_vec()
        };
        // SAFETY: data came from maml_save_buffer_ex.
        unsafe { sys::maml_buffer_free(data) };
        Ok(v)
    }

    /// The file's bytes in memory (`maml_save_buffer`): byte for byte what [`Model::save`] writes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        self.bytes_with(sys::MAML_SAVE_DEFAULT)
    }

    /// [`Model::to_bytes`] with only what adapt and predict need.
    pub fn to_bytes_inference_only(&self) -> Result<Vec<u8>> {
        self.bytes_with(sys::MAML_SAVE_INFERENCE_ONLY)
    }

    /// Sets the user metadata entry `key` to `value`, replacing any previous value
    /// (`maml_set_metadata`). It is saved with the model. Errors: `InvalidArgument` for a
    /// reserved or malformed key or value, a NUL byte, or past the limits (docs/FILE_FORMAT.md).
    pub fn set_metadata(&mut self, key: &str, value: &str) -> Result<()> {
        let k = c_text(key, "metadata key")?;
        let v = c_text(value, "metadata value")?;
        // SAFETY: both strings are NUL-terminated and live through the call; &mut self gives
        // the exclusive access the call needs.
        check(unsafe { sys::maml_set_metadata(self.ptr.as_ptr(), k.as_ptr(), v.as_ptr()) })
    }

    /// Removes the user metadata entry `key` (`maml_set_metadata` with a NULL value); removing
    /// an absent key is not an error.
    pub fn remove_metadata(&mut self, key: &str) -> Result<()> {
        let k = c_text(key, "metadata key")?;
        // SAFETY: as in set_metadata.
        check(unsafe { sys::maml_set_metadata(self.ptr.as_ptr(), k.as_ptr(), ptr::null()) })
    }

    /// The value of the user metadata entry `key`, `None` when the model has none
    /// (`maml_get_metadata`).
    pub fn metadata(&self, key: &str) -> Result<Option<String>> {
        let k = c_text(key, "metadata key")?;
        let mut out: *mut std::os::raw::c_char = ptr::null_mut();
        // SAFETY: k is NUL-terminated; valid out-pointer.
        check(unsafe { sys::maml_get_metadata(self.ptr.as_ptr(), k.as_ptr(), &mut out) })?;
        if out.is_null() {
            return Ok(None);
        }
        // SAFETY: on success out is a NUL-terminated string until maml_buffer_free.
        let value = unsafe { CStr::from_ptr(out) }.to_string_lossy().into_owned();
        // SAFETY: out came from maml_get_metadata.
        unsafe { sys::maml_buffer_free(out as *mut c_void) };
        Ok(Some(value))
    }

    /// The keys of the user metadata entries, sorted (`maml_list_metadata`).
    pub fn metadata_keys(&self) -> Result<Vec<String>> {
        let mut data: *mut std::os::raw::c_char = ptr::null_mut();
        let mut size = 0usize;
        // SAFETY: valid out-pointers.
        check(unsafe { sys::maml_list_metadata(self.ptr.as_ptr(), &mut data, &mut size) })?;
        if data.is_null() {
            return Ok(Vec::new());
        }
        // SAFETY: on success data holds size bytes until maml_buffer_free.
        let bytes = unsafe { std::slice::from_raw_parts(data as *const u8, size) }.to_vec();
        // SAFETY: data came from maml_list_metadata.
        unsafe { sys::maml_buffer_free(data as *mut c_void) };
        Ok(bytes
            .split(|b| *b == 0)
            .filter(|k| !k.is_empty())
            .map(|k| String::from_utf8_lossy(k).into_owned())
            .collect())
    }

    /// Attaches the model to a process group (`maml_group_attach`; collective: every rank
    /// attaches its model). The ranks must agree on the library version, device type, dtype and
    /// config (all fields but `device_index`, `num_threads` and `task_batching`), and every rank
    /// whose model has trained must hold exactly rank 0's model; otherwise every rank returns
    /// [`Status::Distributed`](crate::Status) naming the first rank and field that differ, and
    /// nothing is attached. Then rank 0's model is broadcast, so the ranks start identical. From
    /// then on [`Model::meta_train_step`] is collective: each rank passes its own share of the
    /// meta-batch and every rank takes the same step. Attaching again replaces the group; the
    /// model keeps the membership alive while attached, so `group` may be dropped first.
    pub fn attach(&mut self, group: &Group) -> Result<()> {
        // SAFETY: both handles are valid; &mut self gives the exclusive use of the model the
        // call needs, and the library serialises collectives on one group.
        check(unsafe { sys::maml_group_attach(self.ptr.as_ptr(), group.raw()) })
    }

    /// Makes the model local again (`maml_group_detach`): [`Model::meta_train_step`] stops
    /// being collective. A model that is not attached is not an error.
    pub fn detach(&mut self) -> Result<()> {
        // SAFETY: valid handle; &mut self is exclusive.
        check(unsafe { sys::maml_group_detach(self.ptr.as_ptr()) })
    }

    /// The model's configuration (`maml_get_config`); for a loaded model, the file's config
    /// with the device it was loaded onto.
    pub fn config(&self) -> Result<Config> {
        Config::from_raw(&self.raw_config()?)
    }

    /// Meta-train steps taken so far (`maml_get_step`).
    pub fn step(&self) -> Result<i64> {
        let mut s = 0i64;
        // SAFETY: valid out-pointer.
        check(unsafe { sys::maml_get_step(self.ptr.as_ptr(), &mut s) })?;
        Ok(s)
    }

    /// Where the tensors live: `(DeviceType::Cpu, 0)` or `(DeviceType::Cuda, ordinal)`.
    pub fn device(&self) -> Result<(DeviceType, i32)> {
        let (mut t, mut i) = (0i32, 0i32);
        // SAFETY: valid out-pointers.
        check(unsafe { sys::maml_get_device(self.ptr.as_ptr(), &mut t, &mut i) })?;
        Ok((DeviceType::from_raw(t)?, i))
    }

    /// The number of learnable meta-parameters (`maml_num_parameters`).
    pub fn num_parameters(&self) -> Result<i64> {
        let mut n = 0i64;
        // SAFETY: valid out-pointer.
        check(unsafe { sys::maml_num_parameters(self.ptr.as_ptr(), &mut n) })?;
        Ok(n)
    }

    /// The learned inner learning rates with the names of the tensors they adapt.
    pub fn inner_lrs(&self) -> Result<InnerLrs> {
        let (mut tensors, mut steps) = (0i32, 0i32);
        // SAFETY: valid out-pointers.
        check(unsafe { sys::maml_inner_lr_shape(self.ptr.as_ptr(), &mut tensors, &mut steps) })?;
        let (tensors, steps) = (tensors.max(0) as usize, steps.max(0) as usize);
        let mut rates = vec![0f32; tensors * steps];
        // SAFETY: rates has exactly the count we pass.
        check(unsafe {
            sys::maml_get_inner_lrs(self.ptr.as_ptr(), rates.as_mut_ptr(), rates.len() as i64)
        })?;
        let mut names = Vec::with_capacity(tensors);
        for i in 0..tensors {
            let mut name = ptr::null();
            // SAFETY: valid out-pointer; the name is owned by the model and copied at once.
            check(unsafe { sys::maml_inner_lr_name(self.ptr.as_ptr(), i as i32, &mut name) })?;
            names.push(unsafe { CStr::from_ptr(name) }.to_string_lossy().into_owned());
        }
        Ok(InnerLrs { names, num_steps: steps, rates })
    }

    /// Classes per task (`n_way`).
    pub fn n_way(&self) -> usize {
        self.n_way
    }

    /// Whether the model does regression (`task_kind == TaskKind::Regression`, since 1.3).
    pub fn is_regression(&self) -> bool {
        self.regression
    }

    /// Regression: values per example (`n_outputs`).
    pub fn n_outputs(&self) -> usize {
        self.n_outputs
    }

    /// Floats per example: `C * H * W`, or `input_features` for the MLP backbone.
    pub fn example_len(&self) -> usize {
        self.example_len
    }

    /// The raw handle, for calling `sys` functions directly. It stays owned by `self`.
    pub fn as_ptr(&self) -> *const sys::maml_model {
        self.ptr.as_ptr()
    }
}
