package mamlpp

/*
#include <mamlpp/mamlpp.h>
*/
import "C"

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

// Config is maml_config with Go types (flags as bool). See the C header for each field.
// DefaultConfig returns the MAML++ Omniglot 5-way 1-shot configuration, filled by the library.
type Config struct {
	NWay             int32
	ImageChannels    int32
	ImageHeight      int32
	ImageWidth       int32
	NumStages        int32
	NumFilters       int32
	MaxPool          bool
	InnerSteps       int32
	EvalInnerSteps   int32
	InnerLR          float32
	LearnInnerLR     bool
	PerStepBN        bool
	BNStats          BNStats
	MultiStepLoss    bool
	MSLEpochs        int32
	SecondOrder      bool
	FirstOrderEpochs int32
	MetaLR           float32
	MetaLRMin        float32
	AdamBeta1        float32
	AdamBeta2        float32
	GradClip         float32
	Epochs           int32
	ItersPerEpoch    int32
	DeviceType       DeviceType
	DeviceIndex      int32
	Seed             uint64
	TaskBatching     TaskBatching
	NumThreads       int32
	Dtype            Dtype
}

// DefaultConfig is the library's maml_config_init().
func DefaultConfig() Config {
	var c C.maml_config
	C.maml_config_init(&c)
	return configFromC(&c)
}

// ExampleLen is C*H*W, the float32 values of one image (0 if a dimension is not positive).
func (c Config) ExampleLen() int {
	if c.ImageChannels <= 0 || c.ImageHeight <= 0 || c.ImageWidth <= 0 {
		return 0
	}
	return int(c.ImageChannels) * int(c.ImageHeight) * int(c.ImageWidth)
}

func cbool(b bool) C.int32_t {
	if b {
		return 1
	}
	return 0
}

// toC starts from the library's defaults, so fields a newer header adds keep their defaults.
func (c Config) toC() C.maml_config {
	var o C.maml_config
	C.maml_config_init(&o)
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
	return o
}

func configFromC(o *C.maml_config) Config {
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
	}
}
