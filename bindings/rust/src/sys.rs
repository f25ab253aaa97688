//! Raw declarations of `include/mamlpp/mamlpp.h` (ABI version 1), written by hand.
//!
//! Every function and struct of the header is mirrored here one to one. The structs are
//! `#[repr(C)]` copies of the 1.3 structs; each begins with `struct_size`, so a library newer than
//! this crate accepts them (fields they lack take their defaults). Structs only grow at their end:
//! a field a later header adds is appended here, and `tests/layout.rs` checks sizes and offsets
//! against the C compiler's.
//!
//! Everything here is `unsafe` to call; the safe API is in the crate root.
#![allow(non_camel_case_types)]

use std::os::raw::{c_char, c_void};

/// The result of every fallible call (`int32_t`).
pub type maml_status = i32;

pub const MAMLPP_VERSION_MAJOR: i32 = 1;
pub const MAMLPP_VERSION_MINOR: i32 = 3;
pub const MAMLPP_VERSION_PATCH: i32 = 0;
pub const MAMLPP_VERSION_STRING: &str = "1.3.0";
pub const MAMLPP_VERSION_NUMBER: i32 =
    MAMLPP_VERSION_MAJOR * 10000 + MAMLPP_VERSION_MINOR * 100 + MAMLPP_VERSION_PATCH;
/// The ABI these declarations were written against.
pub const MAMLPP_ABI_VERSION: i32 = 1;

pub const MAML_OK: maml_status = 0;
pub const MAML_E_INVALID_ARGUMENT: maml_status = -1;
pub const MAML_E_IO: maml_status = -2;
pub const MAML_E_FORMAT: maml_status = -3;
pub const MAML_E_DEVICE: maml_status = -4;
pub const MAML_E_OUT_OF_MEMORY: maml_status = -5;
pub const MAML_E_NUMERICAL: maml_status = -6;
pub const MAML_E_UNSUPPORTED: maml_status = -7;
pub const MAML_E_INTERNAL: maml_status = -8;
/// Since 1.1.
pub const MAML_E_DISTRIBUTED: maml_status = -9;

pub const MAML_DEVICE_AUTO: i32 = 0;
pub const MAML_DEVICE_CPU: i32 = 1;
pub const MAML_DEVICE_CUDA: i32 = 2;

pub const MAML_BN_RUNNING: i32 = 0;
pub const MAML_BN_TRANSDUCTIVE: i32 = 1;
pub const MAML_BN_SUPPORT: i32 = 2;

pub const MAML_TASKS_AUTO: i32 = 0;
pub const MAML_TASKS_LOOP: i32 = 1;
pub const MAML_TASKS_BATCHED: i32 = 2;

pub const MAML_DTYPE_FLOAT32: i32 = 0;
pub const MAML_DTYPE_FLOAT64: i32 = 1;

/// Since 1.3.
pub const MAML_BACKBONE_CONV: i32 = 0;
/// Since 1.3.
pub const MAML_BACKBONE_MLP: i32 = 1;
/// The length of `maml_config::hidden_sizes`. Since 1.3.
pub const MAML_MAX_HIDDEN_LAYERS: usize = 8;

/// Since 1.3.
pub const MAML_ACTIVATION_LEAKY_RELU: i32 = 0;
/// Since 1.3.
pub const MAML_ACTIVATION_RELU: i32 = 1;

/// Since 1.3.
pub const MAML_TASK_CLASSIFICATION: i32 = 0;
/// Since 1.3.
pub const MAML_TASK_REGRESSION: i32 = 1;

pub const MAML_SAVE_DEFAULT: i32 = 0;
pub const MAML_SAVE_INFERENCE_ONLY: i32 = 1;

/// The timeout, in seconds, that a group timeout of 0 means. Since 1.1.
pub const MAML_GROUP_DEFAULT_TIMEOUT: f64 = 300.0;

/// `maml_config` as of libmamlpp 1.3 (208 bytes; the 1.2 and 1.1 struct was the first 144, the
/// 1.0 struct the first 136).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct maml_config {
    pub struct_size: u32,
    pub n_way: i32,
    pub image_channels: i32,
    pub image_height: i32,
    pub image_width: i32,
    pub num_stages: i32,
    pub num_filters: i32,
    pub max_pool: i32,
    pub inner_steps: i32,
    pub eval_inner_steps: i32,
    pub inner_lr: f32,
    pub learn_inner_lr: i32,
    pub per_step_bn: i32,
    pub bn_stats: i32,
    pub multi_step_loss: i32,
    pub msl_epochs: i32,
    pub second_order: i32,
    pub first_order_epochs: i32,
    pub meta_lr: f32,
    pub meta_lr_min: f32,
    pub adam_beta1: f32,
    pub adam_beta2: f32,
    pub grad_clip: f32,
    pub epochs: i32,
    pub iters_per_epoch: i32,
    pub device_type: i32,
    pub device_index: i32,
    pub reserved0: i32,
    pub seed: u64,
    pub task_batching: i32,
    pub num_threads: i32,
    pub dtype: i32,
    pub reserved1: i32,
    // ---- the 1.0 struct ends here (136 bytes) ----
    /// Since 1.1.
    pub grad_clip_lslr: i32,
    /// ANIL: adapt only the last k layers in the inner loop; 0 = every layer. Since 1.2 (1.1
    /// named this slot `reserved2`, which had to be 0: a 1.1 library refuses any other value
    /// with `MAML_E_UNSUPPORTED`).
    pub adapt_last_layers: i32,
    // ---- the 1.2 struct ends here (144 bytes) ----
    /// `MAML_BACKBONE_*`. Since 1.3 (as are the fields below; a library older than 1.3 refuses
    /// a non-zero value in any of them with `MAML_E_UNSUPPORTED`).
    pub backbone: i32,
    /// MLP: features per example.
    pub input_features: i32,
    /// MLP: hidden layers, `1..=MAML_MAX_HIDDEN_LAYERS`.
    pub hidden_layers: i32,
    /// MLP: units of hidden layers `0..hidden_layers`; the entries after them are 0.
    pub hidden_sizes: [i32; MAML_MAX_HIDDEN_LAYERS],
    /// `MAML_ACTIVATION_*`.
    pub activation: i32,
    /// `MAML_TASK_*`.
    pub task_kind: i32,
    /// Regression: outputs per example.
    pub n_outputs: i32,
    /// 1: batch norm after every conv stage or hidden layer; 0: none.
    pub batch_norm: i32,
    pub reserved3: i32,
}

/// `maml_tasks` as of 1.3: a meta-batch in host memory, read during the call only (the 1.0
/// struct was the first 48 bytes; 1.3 appended the regression targets).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct maml_tasks {
    pub struct_size: u32,
    pub num_tasks: i32,
    pub support_size: i32,
    pub query_size: i32,
    pub support_x: *const f32,
    pub support_y: *const i32,
    pub query_x: *const f32,
    pub query_y: *const i32,
    // ---- the 1.0 struct ends here (48 bytes) ----
    /// Regression targets of the support set (`n_outputs` per example), or NULL. Since 1.3.
    pub support_t: *const f32,
    /// Regression targets of the query set, or NULL. Since 1.3.
    pub query_t: *const f32,
}

/// `maml_metrics` as of ABI 1.0.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct maml_metrics {
    pub struct_size: u32,
    pub loss: f32,
    pub accuracy: f32,
    pub meta_lr: f32,
    pub second_order: i32,
    pub reserved0: i32,
    pub step: i64,
    pub epoch: i64,
}

/// Opaque meta-learner handle.
#[repr(C)]
pub struct maml_model {
    _private: [u8; 0],
    _not_send_sync: core::marker::PhantomData<(*mut u8, core::marker::PhantomPinned)>,
}

/// Opaque adapted-learner handle.
#[repr(C)]
pub struct maml_learner {
    _private: [u8; 0],
    _not_send_sync: core::marker::PhantomData<(*mut u8, core::marker::PhantomPinned)>,
}

/// Opaque process-group membership handle. Since 1.1.
#[repr(C)]
pub struct maml_group {
    _private: [u8; 0],
    _not_send_sync: core::marker::PhantomData<(*mut u8, core::marker::PhantomPinned)>,
}

extern "C" {
    // Versions
    pub fn maml_version_string() -> *const c_char;
    pub fn maml_version_number() -> i32;
    pub fn maml_abi_version() -> i32;

    // Status codes and errors
    pub fn maml_last_error() -> *const c_char;
    pub fn maml_status_string(status: maml_status) -> *const c_char;

    // Configuration
    /// The exported 1.0 symbol: writes exactly the 1.0 struct (136 bytes) and sets `struct_size`
    /// to 136, leaving the rest of a larger struct untouched. (In C the header maps this name to
    /// `maml_config_init_sized(cfg, sizeof(maml_config))`.) Use `maml_config_init_sized`.
    pub fn maml_config_init(cfg: *mut maml_config);
    pub fn maml_config_init_sized(cfg: *mut maml_config, struct_size: u32) -> maml_status;

    // Models
    pub fn maml_create(cfg: *const maml_config, out: *mut *mut maml_model) -> maml_status;
    pub fn maml_free(model: *mut maml_model);
    pub fn maml_meta_train_step(
        model: *mut maml_model,
        batch: *const maml_tasks,
        metrics: *mut maml_metrics,
    ) -> maml_status;
    pub fn maml_evaluate(
        model: *const maml_model,
        batch: *const maml_tasks,
        metrics: *mut maml_metrics,
    ) -> maml_status;
    pub fn maml_get_config(model: *const maml_model, out: *mut maml_config) -> maml_status;
    pub fn maml_get_step(model: *const maml_model, out: *mut i64) -> maml_status;
    pub fn maml_get_device(
        model: *const maml_model,
        device_type: *mut i32,
        device_index: *mut i32,
    ) -> maml_status;
    pub fn maml_num_parameters(model: *const maml_model, out: *mut i64) -> maml_status;
    pub fn maml_cuda_device_count() -> i32;
    /// Since 1.1.
    pub fn maml_set_cuda_deterministic(deterministic: i32);
    pub fn maml_cuda_memory(
        device_index: i32,
        reset_peak: i32,
        current_bytes: *mut i64,
        peak_bytes: *mut i64,
    ) -> maml_status;

    // Adaptation and prediction
    pub fn maml_adapt(
        model: *const maml_model,
        support_x: *const f32,
        support_y: *const i32,
        n_support: i32,
        out: *mut *mut maml_learner,
    ) -> maml_status;
    pub fn maml_adapt_tasks(
        model: *const maml_model,
        batch: *const maml_tasks,
        out: *mut *mut maml_learner,
    ) -> maml_status;
    pub fn maml_predict(
        learner: *const maml_learner,
        x: *const f32,
        n: i32,
        logits: *mut f32,
        labels: *mut i32,
    ) -> maml_status;
    /// Since 1.3: `maml_adapt` for a regression model, with float targets.
    pub fn maml_adapt_regression(
        model: *const maml_model,
        support_x: *const f32,
        support_t: *const f32,
        n_support: i32,
        out: *mut *mut maml_learner,
    ) -> maml_status;
    pub fn maml_learner_n_way(learner: *const maml_learner, out: *mut i32) -> maml_status;
    pub fn maml_learner_get_config(
        learner: *const maml_learner,
        out: *mut maml_config,
    ) -> maml_status;
    pub fn maml_learner_free(learner: *mut maml_learner);

    // The LSLR table
    pub fn maml_inner_lr_shape(
        model: *const maml_model,
        num_tensors: *mut i32,
        num_steps: *mut i32,
    ) -> maml_status;
    pub fn maml_get_inner_lrs(model: *const maml_model, rates: *mut f32, count: i64)
        -> maml_status;
    pub fn maml_inner_lr_name(
        model: *const maml_model,
        index: i32,
        name: *mut *const c_char,
    ) -> maml_status;

    // Files and buffers
    pub fn maml_save(model: *const maml_model, path: *const c_char) -> maml_status;
    pub fn maml_save_ex(model: *const maml_model, path: *const c_char, flags: i32) -> maml_status;
    pub fn maml_load(
        path: *const c_char,
        device_type: i32,
        device_index: i32,
        out: *mut *mut maml_model,
    ) -> maml_status;
    pub fn maml_save_buffer(
        model: *const maml_model,
        data: *mut *mut c_void,
        size: *mut usize,
    ) -> maml_status;
    pub fn maml_save_buffer_ex(
        model: *const maml_model,
        flags: i32,
        data: *mut *mut c_void,
        size: *mut usize,
    ) -> maml_status;
    pub fn maml_load_buffer(
        data: *const c_void,
        size: usize,
        device_type: i32,
        device_index: i32,
        out: *mut *mut maml_model,
    ) -> maml_status;
    pub fn maml_buffer_free(data: *mut c_void);
    // User metadata (since 1.1); strings out are released with maml_buffer_free.
    pub fn maml_set_metadata(
        model: *mut maml_model,
        key: *const c_char,
        value: *const c_char,
    ) -> maml_status;
    pub fn maml_get_metadata(
        model: *const maml_model,
        key: *const c_char,
        value: *mut *mut c_char,
    ) -> maml_status;
    pub fn maml_list_metadata(
        model: *const maml_model,
        keys: *mut *mut c_char,
        size: *mut usize,
    ) -> maml_status;

    // Process groups: distributed meta-training (since 1.1)
    pub fn maml_group_join_env(timeout_seconds: f64, out: *mut *mut maml_group) -> maml_status;
    pub fn maml_group_join(
        master_addr: *const c_char,
        master_port: i32,
        rank: i32,
        world_size: i32,
        local_rank: i32,
        timeout_seconds: f64,
        out: *mut *mut maml_group,
    ) -> maml_status;
    pub fn maml_group_rank(
        group: *const maml_group,
        rank: *mut i32,
        world_size: *mut i32,
        local_rank: *mut i32,
    ) -> maml_status;
    pub fn maml_group_attach(model: *mut maml_model, group: *mut maml_group) -> maml_status;
    pub fn maml_group_detach(model: *mut maml_model) -> maml_status;
    pub fn maml_group_allreduce_sum(
        group: *mut maml_group,
        values: *mut f64,
        count: i64,
    ) -> maml_status;
    pub fn maml_group_free(group: *mut maml_group);
}
