//! [`Config`]: everything that defines a model and its meta-training.
use std::mem::size_of;

use crate::error::{check, Error, Result, Status};
use crate::sys;

macro_rules! c_enum {
    ($(#[$m:meta])* $name:ident, $what:literal { $($(#[$vm:meta])* $v:ident = $c:path),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vm])* $v),+ }
        impl $name {
            /// The C constant.
            pub fn raw(self) -> i32 { match self { $($name::$v => $c),+ } }
            /// From the C constant; an error for a value this crate does not know.
            pub fn from_raw(v: i32) -> Result<$name> {
                match v {
                    $(x if x == $c => Ok($name::$v),)+
                    other => Err(Error::new(Status::Unsupported,
                        format!(concat!("unknown ", $what, " value {} (newer libmamlpp?)"), other))),
                }
            }
        }
    };
}

c_enum!(
    /// Where tensors live (`MAML_DEVICE_*`).
    DeviceType, "device_type" {
        /// CUDA when LibTorch sees a GPU, else CPU.
        Auto = sys::MAML_DEVICE_AUTO,
        Cpu = sys::MAML_DEVICE_CPU,
        Cuda = sys::MAML_DEVICE_CUDA,
    }
);

c_enum!(
    /// Which statistics batch norm uses at evaluation and prediction (`MAML_BN_*`).
    BnStats, "bn_stats" {
        /// Per-step running statistics from meta-training (BNRS).
        Running = sys::MAML_BN_RUNNING,
        /// Statistics of the batch being evaluated (the reference implementation).
        Transductive = sys::MAML_BN_TRANSDUCTIVE,
        /// Statistics of the support set, kept in the learner.
        Support = sys::MAML_BN_SUPPORT,
    }
);

c_enum!(
    /// How the inner loop runs the tasks of a meta-batch (`MAML_TASKS_*`).
    TaskBatching, "task_batching" {
        /// The path measured faster on the model's device.
        Auto = sys::MAML_TASKS_AUTO,
        /// One task after another.
        Loop = sys::MAML_TASKS_LOOP,
        /// All tasks at once (grouped convolutions).
        Batched = sys::MAML_TASKS_BATCHED,
    }
);

c_enum!(
    /// Precision of parameters and arithmetic (`MAML_DTYPE_*`); inputs are always `f32`.
    Dtype, "dtype" {
        Float32 = sys::MAML_DTYPE_FLOAT32,
        Float64 = sys::MAML_DTYPE_FLOAT64,
    }
);

c_enum!(
    /// What one example is and what processes it (`MAML_BACKBONE_*`). Since 1.3.
    Backbone, "backbone" {
        /// Images of `C * H * W` floats through `num_stages` 3x3 conv stages.
        Conv = sys::MAML_BACKBONE_CONV,
        /// Vectors of `input_features` floats through `hidden_layers` linear layers.
        Mlp = sys::MAML_BACKBONE_MLP,
    }
);

c_enum!(
    /// The activation after every conv stage or hidden layer (`MAML_ACTIVATION_*`). Since 1.3.
    Activation, "activation" {
        /// Slope 0.01 below zero (the MAML++ reference's).
        LeakyRelu = sys::MAML_ACTIVATION_LEAKY_RELU,
        /// The MAML paper's sinusoid network.
        Relu = sys::MAML_ACTIVATION_RELU,
    }
);

c_enum!(
    /// What a model predicts (`MAML_TASK_*`). Since 1.3.
    TaskKind, "task_kind" {
        /// `n_way` classes: `i32` labels, cross-entropy, accuracy.
        Classification = sys::MAML_TASK_CLASSIFICATION,
        /// `n_outputs` real values per example: `f32` targets, mean squared error; the accuracy
        /// of [`Metrics`](crate::Metrics) is NaN (not applicable).
        Regression = sys::MAML_TASK_REGRESSION,
    }
);

/// Everything that defines a model and its meta-training: `maml_config` with Rust types
/// (flags as `bool`, `MAML_*` constants as enums). Each field's default is in parentheses; the C
/// header gives its range, and `Model::new` checks it.
///
/// `Config::default()` is the MAML++ Omniglot 5-way 1-shot configuration, filled by the library
/// (`maml_config_init_sized`), so the defaults are always the linked library's. Fields are added
/// in later versions: build a `Config` with `..Config::default()` so that code keeps compiling.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Classes per task, N (5).
    pub n_way: i32,
    /// C, image channels (1).
    pub image_channels: i32,
    /// H, image rows (28).
    pub image_height: i32,
    /// W, image columns (28).
    pub image_width: i32,
    /// Conv blocks: 3x3 conv -> BN -> LeakyReLU -> 2x2 max-pool (4).
    pub num_stages: i32,
    /// Channels of every conv (64; 48 for Mini-ImageNet).
    pub num_filters: i32,
    /// `true`: max-pool after each conv; `false`: stride-2 convs + global average pool (`true`).
    pub max_pool: bool,
    /// S, adaptation steps in meta-training (5).
    pub inner_steps: i32,
    /// Adaptation steps in evaluation and `adapt`; steps past `inner_steps` reuse the last
    /// step's rates and BN row (5).
    pub eval_inner_steps: i32,
    /// Initial inner learning rate alpha (0.1).
    pub inner_lr: f32,
    /// LSLR: learn one rate per adapted tensor per step (`true`).
    pub learn_inner_lr: bool,
    /// BNRS + BNWB: one BN row (gamma, beta, statistics) per step (`true`).
    pub per_step_bn: bool,
    /// The statistics BN normalises queries and predictions with (`BnStats::Support`).
    pub bn_stats: BnStats,
    /// MSL: weighted query losses of every step (`true`).
    pub multi_step_loss: bool,
    /// MSL is annealed over, and used for, this many epochs (10).
    pub msl_epochs: i32,
    /// Second-order meta-gradients after DA; `false`: first order (`true`).
    pub second_order: bool,
    /// DA: first order for this many epochs, then second (50).
    pub first_order_epochs: i32,
    /// Adam learning rate at epoch 0 (0.001).
    pub meta_lr: f32,
    /// CA: cosine-annealed down to this at the last epoch (1e-5).
    pub meta_lr_min: f32,
    /// Adam beta1 (0.9).
    pub adam_beta1: f32,
    /// Adam beta2 (0.99).
    pub adam_beta2: f32,
    /// Clamp each meta-gradient element of the network (weights, biases, BN gamma and beta) to
    /// `[-v, v]`, as the reference does; 0 = off; see `grad_clip_lslr` (0).
    pub grad_clip: f32,
    /// Schedule horizon in epochs (150).
    pub epochs: i32,
    /// Meta-train steps per epoch; epoch = step / this (500).
    pub iters_per_epoch: i32,
    /// Where tensors live (`DeviceType::Auto`).
    pub device_type: DeviceType,
    /// CUDA device ordinal (0).
    pub device_index: i32,
    /// Initialisation seed (0).
    pub seed: u64,
    /// How the inner loop runs the tasks of a meta-batch (`TaskBatching::Auto`).
    pub task_batching: TaskBatching,
    /// CPU worker threads for tasks of a meta-batch; 0 = cores (0).
    pub num_threads: i32,
    /// Precision of parameters and arithmetic (`Dtype::Float32`).
    pub dtype: Dtype,
    /// `grad_clip` also clamps the inner rates' meta-gradients, libmamlpp 1.0's behaviour; the
    /// reference never clamps them (`false`). Since 1.1.
    pub grad_clip_lslr: bool,
    /// ANIL (head-only adaptation): the inner loop, in meta-training and in `Model::adapt`,
    /// adapts only the last k layers (1: only the linear head; every conv stage and the head
    /// count one layer each) and the layers before keep the meta-weights; `Model::inner_lrs`
    /// then has rows only for the adapted tensors (k = 1: `backbone.head.weight` and
    /// `backbone.head.bias`). 0 = every layer; valid range `0..=num_stages + 1`, others are
    /// `Status::InvalidArgument` (0). Since 1.2; a 1.1 library refuses a non-zero value with
    /// `Status::Unsupported`.
    pub adapt_last_layers: i32,
    /// What one example is: images through conv stages, or vectors through an MLP
    /// (`Backbone::Conv`). Since 1.3, as are the fields below (a library older than 1.3 refuses
    /// a value other than the zero of each with `Status::Unsupported`).
    pub backbone: Backbone,
    /// MLP: features per example, D; an example is D floats; `1..=1048576` (1).
    pub input_features: i32,
    /// MLP: hidden layers L, each linear -> BN -> activation; `1..=MAML_MAX_HIDDEN_LAYERS` (2).
    pub hidden_layers: i32,
    /// MLP: units of hidden layers `0..L`, each in `1..=65536`; the entries from L on must be 0
    /// (`[40, 40, 0, 0, 0, 0, 0, 0]`: the MAML paper's sinusoid network).
    pub hidden_sizes: [i32; sys::MAML_MAX_HIDDEN_LAYERS],
    /// The activation after every conv stage or hidden layer (`Activation::LeakyRelu`).
    pub activation: Activation,
    /// Classification (labels) or regression (float targets) (`TaskKind::Classification`).
    pub task_kind: TaskKind,
    /// Regression: real-valued outputs per example, M; `1..=100000`. Classification uses
    /// `n_way` (1).
    pub n_outputs: i32,
    /// Batch norm after every conv stage or hidden layer (per step with `per_step_bn`);
    /// `false`: none, as the MAML paper's sinusoid MLP, and then `per_step_bn` and `bn_stats`
    /// have no effect (`true`).
    pub batch_norm: bool,
}

impl Default for Config {
    fn default() -> Config {
        let mut raw = sys::maml_config::default();
        // SAFETY: raw is a valid maml_config of exactly the size we pass.
        check(unsafe {
            sys::maml_config_init_sized(&mut raw, size_of::<sys::maml_config>() as u32)
        })
        .and_then(|()| Config::from_raw(&raw))
        .expect("maml_config_init_sized failed for this crate's maml_config")
    }
}

impl Config {
    /// The floats of one example: `C * H * W` for the conv backbone, `input_features` for the
    /// MLP (0 if a dimension is not positive).
    pub fn example_len(&self) -> usize {
        let dim = |d: i32| usize::try_from(d).unwrap_or(0);
        match self.backbone {
            Backbone::Mlp => dim(self.input_features),
            Backbone::Conv => [self.image_channels, self.image_height, self.image_width]
                .iter()
                .map(|&d| dim(d))
                .product(),
        }
    }

    /// The width of a prediction row: `n_way` for a classifier, `n_outputs` for regression.
    pub fn output_len(&self) -> usize {
        let dim = |d: i32| usize::try_from(d).unwrap_or(0);
        match self.task_kind {
            TaskKind::Classification => dim(self.n_way),
            TaskKind::Regression => dim(self.n_outputs),
        }
    }

    /// The C struct (with `struct_size` set).
    pub fn to_raw(&self) -> sys::maml_config {
        let b = |v: bool| v as i32;
        sys::maml_config {
            struct_size: size_of::<sys::maml_config>() as u32,
            n_way: self.n_way,
            image_channels: self.image_channels,
            image_height: self.image_height,
            image_width: self.image_width,
            num_stages: self.num_stages,
            num_filters: self.num_filters,
            max_pool: b(self.max_pool),
            inner_steps: self.inner_steps,
            eval_inner_steps: self.eval_inner_steps,
            inner_lr: self.inner_lr,
            learn_inner_lr: b(self.learn_inner_lr),
            per_step_bn: b(self.per_step_bn),
            bn_stats: self.bn_stats.raw(),
            multi_step_loss: b(self.multi_step_loss),
            msl_epochs: self.msl_epochs,
            second_order: b(self.second_order),
            first_order_epochs: self.first_order_epochs,
            meta_lr: self.meta_lr,
            meta_lr_min: self.meta_lr_min,
            adam_beta1: self.adam_beta1,
            adam_beta2: self.adam_beta2,
            grad_clip: self.grad_clip,
            epochs: self.epochs,
            iters_per_epoch: self.iters_per_epoch,
            device_type: self.device_type.raw(),
            device_index: self.device_index,
            reserved0: 0,
            seed: self.seed,
            task_batching: self.task_batching.raw(),
            num_threads: self.num_threads,
            dtype: self.dtype.raw(),
            reserved1: 0,
            grad_clip_lslr: b(self.grad_clip_lslr),
            adapt_last_layers: self.adapt_last_layers,
            backbone: self.backbone.raw(),
            input_features: self.input_features,
            hidden_layers: self.hidden_layers,
            hidden_sizes: self.hidden_sizes,
            activation: self.activation.raw(),
            task_kind: self.task_kind.raw(),
            n_outputs: self.n_outputs,
            batch_norm: b(self.batch_norm),
            reserved3: 0,
        }
    }

    /// From the C struct; an error if an enum field holds a value this crate does not know.
    pub fn from_raw(c: &sys::maml_config) -> Result<Config> {
        let b = |v: i32| v != 0;
        Ok(Config {
            n_way: c.n_way,
            image_channels: c.image_channels,
            image_height: c.image_height,
            image_width: c.image_width,
            num_stages: c.num_stages,
            num_filters: c.num_filters,
            max_pool: b(c.max_pool),
            inner_steps: c.inner_steps,
            eval_inner_steps: c.eval_inner_steps,
            inner_lr: c.inner_lr,
            learn_inner_lr: b(c.learn_inner_lr),
            per_step_bn: b(c.per_step_bn),
            bn_stats: BnStats::from_raw(c.bn_stats)?,
            multi_step_loss: b(c.multi_step_loss),
            msl_epochs: c.msl_epochs,
            second_order: b(c.second_order),
            first_order_epochs: c.first_order_epochs,
            meta_lr: c.meta_lr,
            meta_lr_min: c.meta_lr_min,
            adam_beta1: c.adam_beta1,
            adam_beta2: c.adam_beta2,
            grad_clip: c.grad_clip,
            epochs: c.epochs,
            iters_per_epoch: c.iters_per_epoch,
            device_type: DeviceType::from_raw(c.device_type)?,
            device_index: c.device_index,
            seed: c.seed,
            task_batching: TaskBatching::from_raw(c.task_batching)?,
            num_threads: c.num_threads,
            dtype: Dtype::from_raw(c.dtype)?,
            grad_clip_lslr: b(c.grad_clip_lslr),
            adapt_last_layers: c.adapt_last_layers,
            backbone: Backbone::from_raw(c.backbone)?,
            input_features: c.input_features,
            hidden_layers: c.hidden_layers,
            hidden_sizes: c.hidden_sizes,
            activation: Activation::from_raw(c.activation)?,
            task_kind: TaskKind::from_raw(c.task_kind)?,
            n_outputs: c.n_outputs,
            batch_norm: b(c.batch_norm),
        })
    }
}
