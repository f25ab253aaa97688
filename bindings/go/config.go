package mamlpp

/*
#include <mamlpp/mamlpp.h>
*/
import "C"

import "fmt"

// DeviceType is where tensors live (MAML_DEVICE_*).
type DeviceType int32

const (
	DeviceAuto DeviceType = C.MAML_DEVICE_AUTO // CUDA when LibTorch sees a GPU, else CPU
	DeviceCPU  DeviceType = C.MAML_DEVICE_CPU
	DeviceCUDA DeviceType = C.MAML_DEVICE_CUDA
)

// BNStats selects which statistics batch norm uses at evaluation and prediction (MAML_BN_*).
type BNStats int32

const (
	BNRunning      BNStats = C.MAML_BN_RUNNING      // per-step running statistics (BNRS)
	BNTransductive BNStats = C.MAML_BN_TRANSDUCTIVE // statistics of the batch being evaluated
	BNSupport      BNStats = C.MAML_BN_SUPPORT      // statistics of the support set
)

// TaskBatching selects how the inner loop runs the tasks of a meta-batch (MAML_TASKS_*).
type TaskBatching int32

const (
	TasksAuto    TaskBatching = C.MAML_TASKS_AUTO
	TasksLoop    TaskBatching = C.MAML_TASKS_LOOP
	TasksBatched TaskBatching = C.MAML_TASKS_BATCHED
)

// Dtype is the precision of parameters and arithmetic (MAML_DTYPE_*); inputs are float32.
type Dtype int32

const (
	DtypeFloat32 Dtype = C.MAML_DTYPE_FLOAT32
	DtypeFloat64 Dtype = C.MAML_DTYPE_FLOAT64
)

// Backbone is what one example is and what processes it (MAML_BACKBONE_*). Since 1.3.
type Backbone int32

const (
	BackboneConv Backbone = C.MAML_BACKBONE_CONV // images (C*H*W floats) through conv stages
	BackboneMLP  Backbone = C.MAML_BACKBONE_MLP  // vectors (InputFeatures floats), linear layers
)

// MaxHiddenLayers is the length of Config.HiddenSizes (MAML_MAX_HIDDEN_LAYERS). Since 1.3.
const MaxHiddenLayers = C.MAML_MAX_HIDDEN_LAYERS

// Config.HiddenSizes is [8]int32: these fail to compile if the header's length differs.
var (
	_ [MaxHiddenLayers - 8]struct{}
	_ [8 - MaxHiddenLayers]struct{}
)

// Activation follows every conv stage or hidden layer (MAML_ACTIVATION_*). Since 1.3.
type Activation int32

const (
	ActivationLeakyReLU Activation = C.MAML_ACTIVATION_LEAKY_RELU // slope 0.01 below zero
	ActivationReLU      Activation = C.MAML_ACTIVATION_RELU       // the MAML paper's sinusoid net
)

// TaskKind is what a model predicts (MAML_TASK_*). Since 1.3.
type TaskKind int32

const (
	// TaskClassification: NWay classes, int32 labels, cross-entropy, accuracy.
	TaskClassification TaskKind = C.MAML_TASK_CLASSIFICATION
	// TaskRegression: NOutputs real values per example, float32 targets, mean squared error;
	// Metrics.Accuracy is NaN (not applicable).
	TaskRegression TaskKind = C.MAML_TASK_REGRESSION
)

// Config is maml_config with Go types (flags as bool, MAML_* constants as named types). Each
// field's default is in parentheses; the C header gives its range, and NewModel checks it.
// DefaultConfig returns the MAML++ Omniglot 5-way 1-shot configuration, filled by the library.
// Later versions add fields: start from DefaultConfig rather than a Config literal.
type Config struct {
	NWay             int32        // classes per task, N (5)
	ImageChannels    int32        // C (1)
	ImageHeight      int32        // H (28)
	ImageWidth       int32        // W (28)
	NumStages        int32        // conv blocks: 3x3 conv, BN, LeakyReLU, 2x2 max-pool (4)
	NumFilters       int32        // channels of every conv (64; 48 for Mini-ImageNet)
	MaxPool          bool         // true: max-pool after each conv; false: stride-2 convs (true)
	InnerSteps       int32        // S, adaptation steps in meta-training (5)
	EvalInnerSteps   int32        // adaptation steps in evaluation and Adapt (5)
	InnerLR          float32      // initial inner learning rate alpha (0.1)
	LearnInnerLR     bool         // LSLR: learn one rate per adapted tensor per step (true)
	PerStepBN        bool         // BNRS + BNWB: one BN row per step (true)
	BNStats          BNStats      // statistics BN normalises queries and predictions with (BNSupport)
	MultiStepLoss    bool         // MSL: weighted query losses of every step (true)
	MSLEpochs        int32        // MSL is annealed over, and used for, this many epochs (10)
	SecondOrder      bool         // second-order meta-gradients after DA; false: first order (true)
	FirstOrderEpochs int32        // DA: first order for this many epochs, then second (50)
	MetaLR           float32      // Adam learning rate at epoch 0 (0.001)
	MetaLRMin        float32      // CA: cosine-annealed down to this at the last epoch (1e-5)
	AdamBeta1        float32      // Adam beta1 (0.9)
	AdamBeta2        float32      // Adam beta2 (0.99)
	GradClip         float32      // clamp each network meta-gradient element to [-v, v]; 0 = off (0)
	Epochs           int32        // schedule horizon in epochs (150)
	ItersPerEpoch    int32        // meta-train steps per epoch; epoch = step / this (500)
	DeviceType       DeviceType   // where tensors live (DeviceAuto)
	DeviceIndex      int32        // CUDA device ordinal (0)
	Seed             uint64       // initialisation seed (0)
	TaskBatching     TaskBatching // how the inner loop runs a meta-batch's tasks (TasksAuto)
	NumThreads       int32        // CPU worker threads for tasks of a meta-batch; 0 = cores (0)
	Dtype            Dtype        // precision of parameters and arithmetic (DtypeFloat32)
	// GradClipLSLR makes GradClip clamp the inner rates' meta-gradients too, libmamlpp 1.0's
	// behaviour; the reference never clamps them (false). Since 1.1.
	GradClipLSLR bool
	// AdaptLastLayers is ANIL (head-only adaptation): the inner loop, in meta-training and in
	// Adapt, adapts only the last k layers (1: only the linear head; every conv stage and the
	// head count one layer each) and the layers before keep the meta-weights; InnerLRs then has
	// rows only for the adapted tensors (k = 1: backbone.head.weight and backbone.head.bias).
	// 0 = every layer; valid range [0, NumStages+1], others are ErrInvalidArgument (0).
	// Since 1.2, in the slot 1.1 named reserved2: a 1.1 library refuses a non-zero value with
	// ErrUnsupported.
	AdaptLastLayers int32
	// Since 1.3 (a library older than 1.3 refuses a non-zero value in any of the fields below
	// with ErrUnsupported): the MLP backbone and regression.
	Backbone      Backbone   // what one example is: images (conv) or vectors (MLP) (BackboneConv)
	InputFeatures int32      // MLP: features per example, D; [1, 1048576] (1)
	HiddenLayers  int32      // MLP: hidden layers L, each linear, BN, activation; [1, 8] (2)
	HiddenSizes   [8]int32   // MLP: units of layers 0..L-1, each [1, 65536]; then 0 ({40, 40, 0...})
	Activation    Activation // after every conv stage or hidden layer (ActivationLeakyReLU)
	TaskKind      TaskKind   // classification (labels) or regression (targets) (TaskClassification)
	NOutputs      int32      // regression: values per example, M; [1, 100000] (1)
	BatchNorm     bool       // BN after every conv stage or hidden layer; false: none (true)
}

// defaultsC is the library's defaults for the maml_config this package was compiled with
// (maml_config_init_sized with its size: cgo cannot call the header's maml_config_init macro,
// and the exported function of that name writes only the 1.0 struct).
func defaultsC() C.maml_config {
	var c C.maml_config
	if st := C.maml_config_init_sized(&c, C.uint32_t(C.sizeof_maml_config)); st != C.MAML_OK {
		// Only a NULL pointer or a struct smaller than 1.0's can fail: a broken build.
		panic(fmt.Sprintf("mamlpp: maml_config_init_sized(%d bytes) failed with status %d",
			C.sizeof_maml_config, int(st)))
	}
	return c
}

// DefaultConfig is the library's defaults (maml_config_init_sized).
func DefaultConfig() Config {
	c := defaultsC()
	return configFromC(&c)
}

// ExampleLen is the float32 values of one example: C*H*W of an image, or InputFeatures for the
// MLP backbone (0 if a dimension is not positive).
func (c Config) ExampleLen() int {
	if c.Backbone == BackboneMLP {
		if c.InputFeatures <= 0 {
			return 0
		}
		return int(c.InputFeatures)
	}
	if c.ImageChannels <= 0 || c.ImageHeight <= 0 || c.ImageWidth <= 0 {
		return 0
	}
	return int(c.ImageChannels) * int(c.ImageHeight) * int(c.ImageWidth)
}

// OutputLen is the width of a prediction row: NWay for a classifier, NOutputs for regression.
func (c Config) OutputLen() int {
	if c.TaskKind == TaskRegression {
		return int(c.NOutputs)
	}
	return int(c.NWay)
}

func cbool(b bool) C.int32_t {
	if b {
		return 1
	}
	return 0
}

// toC starts from the library's defaults, so fields the header has and Config does not (the
// reserved ones, or a field not yet exposed) keep their defaults.
func (c Config) toC() C.maml_config {
	o := defaultsC()
	o.n_way = C.int32_t(c.NWay)
	o.image_channels = C.int32_t(c.ImageChannels)
	o.image_height = C.int32_t(c.ImageHeight)
	o.image_width = C.int32_t(c.ImageWidth)
	o.num_stages = C.int32_t(c.NumStages)
	o.num_filters = C.int32_t(c.NumFilters)
	o.max_pool = cbool(c.MaxPool)
	o.inner_steps = C.int32_t(c.InnerSteps)
	o.eval_inner_steps = C.int32_t(c.EvalInnerSteps)
	o.inner_lr = C.float(c.InnerLR)
	o.learn_inner_lr = cbool(c.LearnInnerLR)
	o.per_step_bn = cbool(c.PerStepBN)
	o.bn_stats = C.int32_t(c.BNStats)
	o.multi_step_loss = cbool(c.MultiStepLoss)
	o.msl_epochs = C.int32_t(c.MSLEpochs)
	o.second_order = cbool(c.SecondOrder)
	o.first_order_epochs = C.int32_t(c.FirstOrderEpochs)
	o.meta_lr = C.float(c.MetaLR)
	o.meta_lr_min = C.float(c.MetaLRMin)
	o.adam_beta1 = C.float(c.AdamBeta1)
	o.adam_beta2 = C.float(c.AdamBeta2)
	o.grad_clip = C.float(c.GradClip)
	o.epochs = C.int32_t(c.Epochs)
	o.iters_per_epoch = C.int32_t(c.ItersPerEpoch)
	o.device_type = C.int32_t(c.DeviceType)
	o.device_index = C.int32_t(c.DeviceIndex)
	o.seed = C.uint64_t(c.Seed)
	o.task_batching = C.int32_t(c.TaskBatching)
	o.num_threads = C.int32_t(c.NumThreads)
	o.dtype = C.int32_t(c.Dtype)
	o.grad_clip_lslr = cbool(c.GradClipLSLR)
	o.adapt_last_layers = C.int32_t(c.AdaptLastLayers)
	o.backbone = C.int32_t(c.Backbone)
	o.input_features = C.int32_t(c.InputFeatures)
	o.hidden_layers = C.int32_t(c.HiddenLayers)
	for i := range o.hidden_sizes {
		o.hidden_sizes[i] = C.int32_t(c.HiddenSizes[i])
	}
	o.activation = C.int32_t(c.Activation)
	o.task_kind = C.int32_t(c.TaskKind)
	o.n_outputs = C.int32_t(c.NOutputs)
	o.batch_norm = cbool(c.BatchNorm)
	return o
}

func configFromC(o *C.maml_config) Config {
	var hidden [8]int32
	for i := range hidden {
		hidden[i] = int32(o.hidden_sizes[i])
	}
	return Config{
		NWay:             int32(o.n_way),
		ImageChannels:    int32(o.image_channels),
		ImageHeight:      int32(o.image_height),
		ImageWidth:       int32(o.image_width),
		NumStages:        int32(o.num_stages),
		NumFilters:       int32(o.num_filters),
		MaxPool:          o.max_pool != 0,
		InnerSteps:       int32(o.inner_steps),
		EvalInnerSteps:   int32(o.eval_inner_steps),
		InnerLR:          float32(o.inner_lr),
		LearnInnerLR:     o.learn_inner_lr != 0,
		PerStepBN:        o.per_step_bn != 0,
		BNStats:          BNStats(o.bn_stats),
		MultiStepLoss:    o.multi_step_loss != 0,
		MSLEpochs:        int32(o.msl_epochs),
		SecondOrder:      o.second_order != 0,
		FirstOrderEpochs: int32(o.first_order_epochs),
		MetaLR:           float32(o.meta_lr),
		MetaLRMin:        float32(o.meta_lr_min),
		AdamBeta1:        float32(o.adam_beta1),
		AdamBeta2:        float32(o.adam_beta2),
		GradClip:         float32(o.grad_clip),
		Epochs:           int32(o.epochs),
		ItersPerEpoch:    int32(o.iters_per_epoch),
		DeviceType:       DeviceType(o.device_type),
		DeviceIndex:      int32(o.device_index),
		Seed:             uint64(o.seed),
		TaskBatching:     TaskBatching(o.task_batching),
		NumThreads:       int32(o.num_threads),
		Dtype:            Dtype(o.dtype),
		GradClipLSLR:     o.grad_clip_lslr != 0,
		AdaptLastLayers:  int32(o.adapt_last_layers),
		Backbone:         Backbone(o.backbone),
		InputFeatures:    int32(o.input_features),
		HiddenLayers:     int32(o.hidden_layers),
		HiddenSizes:      hidden,
		Activation:       Activation(o.activation),
		TaskKind:         TaskKind(o.task_kind),
		NOutputs:         int32(o.n_outputs),
		BatchNorm:        o.batch_norm != 0,
	}
}
