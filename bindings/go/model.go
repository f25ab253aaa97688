package mamlpp

/*
#include <stdlib.h>
#include <mamlpp/mamlpp.h>

// cgo forbids storing Go pointers in memory passed to C, so the maml_tasks struct is built
// here, on the C stack, from pointers passed as plain arguments.
static maml_tasks mamlpp_go_tasks(int32_t num_tasks, int32_t support_size, int32_t query_size,
                                  const float* sx, const int32_t* sy, const float* st,
                                  const float* qx, const int32_t* qy, const float* qt) {
  maml_tasks t;
  t.struct_size = sizeof(maml_tasks);
  t.num_tasks = num_tasks;
  t.support_size = support_size;
  t.query_size = query_size;
  t.support_x = sx;
  t.support_y = sy;
  t.query_x = qx;
  t.query_y = qy;
  t.support_t = st;
  t.query_t = qt;
  return t;
}
static maml_status mamlpp_go_train(maml_model* m, int32_t nt, int32_t ss, int32_t qs,
                                   const float* sx, const int32_t* sy, const float* st,
                                   const float* qx, const int32_t* qy, const float* qt,
                                   maml_metrics* out) {
  maml_tasks t = mamlpp_go_tasks(nt, ss, qs, sx, sy, st, qx, qy, qt);
  return maml_meta_train_step(m, &t, out);
}
static maml_status mamlpp_go_evaluate(const maml_model* m, int32_t nt, int32_t ss, int32_t qs,
                                      const float* sx, const int32_t* sy, const float* st,
                                      const float* qx, const int32_t* qy, const float* qt,
                                      maml_metrics* out) {
  maml_tasks t = mamlpp_go_tasks(nt, ss, qs, sx, sy, st, qx, qy, qt);
  return maml_evaluate(m, &t, out);
}
static maml_status mamlpp_go_adapt_tasks(const maml_model* m, int32_t nt, int32_t ss,
                                         const float* sx, const int32_t* sy, const float* st,
                                         maml_learner** out) {
  maml_tasks t = mamlpp_go_tasks(nt, ss, 0, sx, sy, st, NULL, NULL, NULL);
  return maml_adapt_tasks(m, &t, out);
}

// maml_adapt_regression is new in 1.3. A weak reference keeps the package linking and loading
// with a 1.1 or 1.2 libmamlpp (the function's address is then NULL): AdaptRegression reports
// ErrUnsupported there instead.
#pragma weak maml_adapt_regression
static int mamlpp_go_has_adapt_regression(void) { return maml_adapt_regression != NULL; }
static maml_status mamlpp_go_adapt_regression(const maml_model* m, const float* x, const float* t,
                                              int32_t n, maml_learner** out) {
  return maml_adapt_regression(m, x, t, n, out);
}
*/
import "C"

import (
	"math"
	"runtime"
	"sync"
	"unsafe"
)

// Tasks is a meta-batch in host memory, read during one call only. Arrays are laid out task
// after task: SupportX holds NumTasks*SupportSize*E float32 (E = C*H*W, NCHW, for the conv
// backbone; InputFeatures for the MLP), SupportY NumTasks*SupportSize labels in [0, n_way), and
// the same for the query set. A regression model (since 1.3) takes float32 targets instead of
// labels: SupportT and QueryT, NOutputs per example, with SupportY and QueryY nil. A nil or
// empty slice is passed as NULL; which of labels and targets a model takes, the library decides
// (a classifier refuses targets, a regression model labels, with ErrInvalidArgument). Lengths of
// non-empty slices are checked against the model's example size before the library is called.
type Tasks struct {
	NumTasks    int
	SupportSize int // support examples per task (N*K)
	QuerySize   int // query examples per task (N*Q); ignored by AdaptTasks
	SupportX    []float32
	SupportY    []int32
	QueryX      []float32
	QueryY      []int32
	SupportT    []float32 // regression targets of the support sets (since 1.3)
	QueryT      []float32 // regression targets of the query sets (since 1.3)
}

// Metrics is what a training or evaluation call measured (maml_metrics).
type Metrics struct {
	Loss        float32 // meta-loss: mean over tasks of the (MSL-weighted) query loss (MSE for regression)
	Accuracy    float32 // query accuracy after the last inner step, mean over tasks (NaN for regression)
	MetaLR      float32 // the Adam learning rate the step used
	SecondOrder bool    // whether the step used second-order meta-gradients
	Step        int64   // meta-train steps completed after the call
	Epoch       int64   // the epoch the step belonged to
}

// InnerLRs is the learned inner learning-rate table (LSLR): one row of NumSteps rates per
// adapted tensor, named as in the file format (e.g. "backbone.head.bias").
type InnerLRs struct {
	Names    []string
	NumSteps int
	Rates    []float32 // row-major [tensor][step]
}

// Row is the rates of tensor i, one per inner step.
func (r InnerLRs) Row(i int) []float32 { return r.Rates[i*r.NumSteps : (i+1)*r.NumSteps] }

// Model is a meta-learner (maml_model): meta-parameters, LSLR table, per-step BN, Adam state and
// step counter. Close it when done (a finalizer frees it otherwise). Safe for concurrent use:
// see the package documentation for what runs in parallel.
type Model struct {
	mu         sync.RWMutex
	p          *C.maml_model
	exampleLen int
	nWay       int
	nOutputs   int  // regression targets per example (0 from a library older than 1.3)
	regression bool // TaskKind == TaskRegression
}

var errModelClosed = &Error{Status: StatusInvalidArgument, Message: "model is closed"}

func wrapModel(p *C.maml_model) (*Model, error) {
	m := &Model{p: p}
	runtime.SetFinalizer(m, (*Model).Close)
	cfg, err := m.Config()
	if err != nil {
		m.Close()
		return nil, err
	}
	m.exampleLen = cfg.ExampleLen()
	m.nWay = int(cfg.NWay)
	// A library older than 1.3 zeroes the fields it does not know: a conv classifier.
	m.regression = cfg.TaskKind == TaskRegression
	m.nOutputs = int(cfg.NOutputs)
	return m, nil
}

// NewModel creates a freshly initialised model (maml_create).
func NewModel(cfg Config) (*Model, error) {
	if err := CheckABI(); err != nil {
		return nil, err
	}
	c := cfg.toC()
	var p *C.maml_model
	if err := call(func() C.maml_status { return C.maml_create(&c, &p) }); err != nil {
		return nil, err
	}
	return wrapModel(p)
}

// Load reads a meta-initialisation file onto the default device (CUDA if present, else CPU).
func Load(path string) (*Model, error) { return LoadOn(path, DeviceAuto, 0) }

// LoadOn reads a meta-initialisation file onto the given device (maml_load).
func LoadOn(path string, device DeviceType, index int) (*Model, error) {
	if err := CheckABI(); err != nil {
		return nil, err
	}
	cpath, err := cString(path)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(cpath))
	var p *C.maml_model
	if err := call(func() C.maml_status {
		return C.maml_load(cpath, C.int32_t(device), C.int32_t(index), &p)
	}); err != nil {
		return nil, err
	}
	return wrapModel(p)
}

// LoadBytes reads a model from bytes produced by Bytes (or a file's contents).
func LoadBytes(data []byte) (*Model, error) { return LoadBytesOn(data, DeviceAuto, 0) }

// LoadBytesOn is LoadBytes onto the given device (maml_load_buffer).
func LoadBytesOn(data []byte, device DeviceType, index int) (*Model, error) {
	if err := CheckABI(); err != nil {
		return nil, err
	}
	var ptr unsafe.Pointer
	if len(data) > 0 {
		ptr = unsafe.Pointer(&data[0])
	}
	var p *C.maml_model
	if err := call(func() C.maml_status {
		return C.maml_load_buffer(ptr, C.size_t(len(data)), C.int32_t(device), C.int32_t(index), &p)
	}); err != nil {
		return nil, err
	}
	return wrapModel(p)
}

// Close frees the model (maml_free). Learners adapted from it stay valid. Calling Close again,
// or any method after it, is harmless: methods then return an error. Close waits for calls in
// progress on other goroutines.
func (m *Model) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.p != nil {
		C.maml_free(m.p)
		m.p = nil
		runtime.SetFinalizer(m, nil)
	}
	return nil
}

func (m *Model) rlock() error {
	m.mu.RLock()
	if m.p == nil {
		m.mu.RUnlock()
		return errModelClosed
	}
	return nil
}

func (m *Model) lock() error {
	m.mu.Lock()
	if m.p == nil {
		m.mu.Unlock()
		return errModelClosed
	}
	return nil
}

func toInt32(v int, what string) (C.int32_t, error) {
	if v < 0 || v > math.MaxInt32 {
		return 0, invalid("%s = %d does not fit in int32", what, v)
	}
	return C.int32_t(v), nil
}

func expectLen(actual, n, per int, what string) error {
	if n < 0 || per < 0 || (per != 0 && n > math.MaxInt/per) {
		return invalid("%s: size overflows", what)
	}
	if actual != n*per {
		return invalid("%s has %d elements, expected %d", what, actual, n*per)
	}
	return nil
}

func fptr(s []float32) *C.float {
	if len(s) == 0 {
		return nil
	}
	return (*C.float)(unsafe.Pointer(&s[0]))
}

func iptr(s []int32) *C.int32_t {
	if len(s) == 0 {
		return nil
	}
	return (*C.int32_t)(unsafe.Pointer(&s[0]))
}

type cTasks struct {
	nt, ss, qs     C.int32_t
	sx, qx, st, qt *C.float
	sy, qy         *C.int32_t
}

// checkSet checks the labels and targets of one set (support or query): a non-empty slice must
// have its exact length. With both empty, the one the model takes is reported missing.
func (m *Model) checkSet(n int, y []int32, t []float32, which string) error {
	if len(y) > 0 || (len(t) == 0 && !m.regression) {
		if err := expectLen(len(y), n, 1, which+"Y"); err != nil {
			return err
		}
	}
	if len(t) > 0 || (len(y) == 0 && m.regression) {
		per := m.nOutputs
		if per < 1 {
			per = 1
		}
		if err := expectLen(len(t), n, per, which+"T"); err != nil {
			return err
		}
	}
	return nil
}

func (m *Model) checkTasks(t *Tasks, withQuery bool) (c cTasks, err error) {
	if t.NumTasks < 0 || t.SupportSize < 0 || t.QuerySize < 0 {
		return c, invalid("negative sizes in Tasks")
	}
	if t.SupportSize != 0 && t.NumTasks > math.MaxInt/t.SupportSize {
		return c, invalid("Tasks: size overflows")
	}
	if err = m.checkSet(t.NumTasks*t.SupportSize, t.SupportY, t.SupportT, "Support"); err != nil {
		return
	}
	if err = expectLen(len(t.SupportX), t.NumTasks*t.SupportSize, m.exampleLen, "SupportX"); err != nil {
		return
	}
	if c.nt, err = toInt32(t.NumTasks, "NumTasks"); err != nil {
		return
	}
	if c.ss, err = toInt32(t.SupportSize, "SupportSize"); err != nil {
		return
	}
	c.sx, c.sy, c.st = fptr(t.SupportX), iptr(t.SupportY), fptr(t.SupportT)
	if withQuery {
		if t.QuerySize != 0 && t.NumTasks > math.MaxInt/t.QuerySize {
			return c, invalid("Tasks: size overflows")
		}
		if err = m.checkSet(t.NumTasks*t.QuerySize, t.QueryY, t.QueryT, "Query"); err != nil {
			return
		}
		if err = expectLen(len(t.QueryX), t.NumTasks*t.QuerySize, m.exampleLen, "QueryX"); err != nil {
			return
		}
		if c.qs, err = toInt32(t.QuerySize, "QuerySize"); err != nil {
			return
		}
		c.qx, c.qy, c.qt = fptr(t.QueryX), iptr(t.QueryY), fptr(t.QueryT)
	}
	return c, nil
}

func metricsFromC(o *C.maml_metrics) Metrics {
	return Metrics{
		Loss: float32(o.loss), Accuracy: float32(o.accuracy), MetaLR: float32(o.meta_lr),
		SecondOrder: o.second_order != 0, Step: int64(o.step), Epoch: int64(o.epoch),
	}
}

// MetaTrainStep takes one meta-train step on a meta-batch (maml_meta_train_step). On error
// (e.g. ErrNumerical) the model is unchanged. A training call: it holds the model exclusively,
// so concurrent calls on one model are serialised, never parallel.
func (m *Model) MetaTrainStep(t Tasks) (Metrics, error) {
	if err := m.lock(); err != nil {
		return Metrics{}, err
	}
	defer m.mu.Unlock()
	c, err := m.checkTasks(&t, true)
	if err != nil {
		return Metrics{}, err
	}
	out := C.maml_metrics{struct_size: C.uint32_t(C.sizeof_maml_metrics)}
	err = call(func() C.maml_status {
		return C.mamlpp_go_train(m.p, c.nt, c.ss, c.qs, c.sx, c.sy, c.st, c.qx, c.qy, c.qt, &out)
	})
	runtime.KeepAlive(t)
	if err != nil {
		return Metrics{}, err
	}
	return metricsFromC(&out), nil
}

// Evaluate adapts every task and measures query loss and accuracy without changing the model
// (maml_evaluate). Safe to call concurrently with Adapt and other Evaluate calls.
func (m *Model) Evaluate(t Tasks) (Metrics, error) {
	if err := m.rlock(); err != nil {
		return Metrics{}, err
	}
	defer m.mu.RUnlock()
	c, err := m.checkTasks(&t, true)
	if err != nil {
		return Metrics{}, err
	}
	out := C.maml_metrics{struct_size: C.uint32_t(C.sizeof_maml_metrics)}
	err = call(func() C.maml_status {
		return C.mamlpp_go_evaluate(m.p, c.nt, c.ss, c.qs, c.sx, c.sy, c.st, c.qx, c.qy, c.qt, &out)
	})
	runtime.KeepAlive(t)
	if err != nil {
		return Metrics{}, err
	}
	return metricsFromC(&out), nil
}

// Adapt adapts the model to one task from len(supportY) labelled examples (maml_adapt);
// supportX holds len(supportY)*ExampleLen() float32. The model is not changed. Safe to call from
// many goroutines at once on one model; the calls run in parallel. A regression model refuses
// it with ErrInvalidArgument: use AdaptRegression.
func (m *Model) Adapt(supportX []float32, supportY []int32) (*Learner, error) {
	if err := m.rlock(); err != nil {
		return nil, err
	}
	defer m.mu.RUnlock()
	if err := expectLen(len(supportX), len(supportY), m.exampleLen, "supportX"); err != nil {
		return nil, err
	}
	n, err := toInt32(len(supportY), "n_support")
	if err != nil {
		return nil, err
	}
	var p *C.maml_learner
	err = call(func() C.maml_status {
		return C.maml_adapt(m.p, fptr(supportX), iptr(supportY), n, &p)
	})
	runtime.KeepAlive(supportX)
	runtime.KeepAlive(supportY)
	if err != nil {
		return nil, err
	}
	return wrapLearner(p, m.exampleLen)
}

// AdaptRegression adapts a regression model to one task from examples and their float32
// targets (maml_adapt_regression): len(supportT)/NOutputs examples, supportX holding that many
// times ExampleLen() float32. Predict with Learner.PredictValues. A classifier refuses it with
// ErrInvalidArgument (use Adapt). Since libmamlpp 1.3: with an older library (linked or loaded)
// it returns ErrUnsupported, and the package still works for everything else. Runs in parallel
// like Adapt.
func (m *Model) AdaptRegression(supportX, supportT []float32) (*Learner, error) {
	if C.mamlpp_go_has_adapt_regression() == 0 {
		return nil, &Error{Status: StatusUnsupported, Message: "maml_adapt_regression needs " +
			"libmamlpp 1.3 or later; the linked library is " + Version()}
	}
	if err := m.rlock(); err != nil {
		return nil, err
	}
	defer m.mu.RUnlock()
	per := m.nOutputs
	if per < 1 {
		per = 1
	}
	if len(supportT)%per != 0 {
		return nil, invalid("supportT has %d floats, not a multiple of NOutputs = %d", len(supportT), per)
	}
	k := len(supportT) / per
	if err := expectLen(len(supportX), k, m.exampleLen, "supportX"); err != nil {
		return nil, err
	}
	n, err := toInt32(k, "n_support")
	if err != nil {
		return nil, err
	}
	var p *C.maml_learner
	err = call(func() C.maml_status {
		return C.mamlpp_go_adapt_regression(m.p, fptr(supportX), fptr(supportT), n, &p)
	})
	runtime.KeepAlive(supportX)
	runtime.KeepAlive(supportT)
	if err != nil {
		return nil, err
	}
	return wrapLearner(p, m.exampleLen)
}

// AdaptTasks adapts t.NumTasks tasks at once (maml_adapt_tasks; query fields are ignored) and
// returns one learner per task. All or nothing. Runs in parallel like Adapt.
func (m *Model) AdaptTasks(t Tasks) ([]*Learner, error) {
	if err := m.rlock(); err != nil {
		return nil, err
	}
	defer m.mu.RUnlock()
	c, err := m.checkTasks(&t, false)
	if err != nil {
		return nil, err
	}
	out := make([]*C.maml_learner, t.NumTasks+1) // +1: never a zero-length array
	err = call(func() C.maml_status {
		return C.mamlpp_go_adapt_tasks(m.p, c.nt, c.ss, c.sx, c.sy, c.st, &out[0])
	})
	runtime.KeepAlive(t)
	if err != nil {
		return nil, err
	}
	ls := make([]*Learner, t.NumTasks)
	for i := range ls {
		if ls[i], err = wrapLearner(out[i], m.exampleLen); err != nil {
			for _, l := range ls[:i] {
				l.Close()
			}
			for _, p := range out[i+1 : t.NumTasks] {
				C.maml_learner_free(p)
			}
			return nil, err
		}
	}
	return ls, nil
}

func (m *Model) save(path string, flags C.int32_t) error {
	if err := m.rlock(); err != nil {
		return err
	}
	defer m.mu.RUnlock()
	cpath, err := cString(path)
	if err != nil {
		return err
	}
	defer C.free(unsafe.Pointer(cpath))
	return call(func() C.maml_status { return C.maml_save_ex(m.p, cpath, flags) })
}

// Save writes everything, including what resuming training needs (maml_save). The write is
// atomic: on failure a previous file at path is untouched.
func (m *Model) Save(path string) error { return m.save(path, C.MAML_SAVE_DEFAULT) }

// SaveInferenceOnly writes only what Adapt and Predict need (MAML_SAVE_INFERENCE_ONLY).
func (m *Model) SaveInferenceOnly(path string) error {
	return m.save(path, C.MAML_SAVE_INFERENCE_ONLY)
}

func (m *Model) bytes(flags C.int32_t) ([]byte, error) {
	if err := m.rlock(); err != nil {
		return nil, err
	}
	defer m.mu.RUnlock()
	var data unsafe.Pointer
	var size C.size_t
	if err := call(func() C.maml_status { return C.maml_save_buffer_ex(m.p, flags, &data, &size) }); err != nil {
		return nil, err
	}
	defer C.maml_buffer_free(data)
	if uint64(size) > math.MaxInt32 {
		return nil, &Error{Status: StatusOutOfMemory, Message: "serialised model exceeds 2 GiB"}
	}
	return C.GoBytes(data, C.int(size)), nil
}

// Bytes serialises the model (maml_save_buffer): byte for byte what Save writes.
func (m *Model) Bytes() ([]byte, error) { return m.bytes(C.MAML_SAVE_DEFAULT) }

// BytesInferenceOnly is Bytes with only what Adapt and Predict need.
func (m *Model) BytesInferenceOnly() ([]byte, error) { return m.bytes(C.MAML_SAVE_INFERENCE_ONLY) }

// MarshalBinary implements encoding.BinaryMarshaler (same as Bytes).
func (m *Model) MarshalBinary() ([]byte, error) { return m.Bytes() }

// SetMetadata sets the user metadata entry key to value, replacing any previous value
// (maml_set_metadata). It is saved with the model. Errors (StatusInvalidArgument): a reserved or
// malformed key or value, a NUL byte, or past the limits (docs/FILE_FORMAT.md).
func (m *Model) SetMetadata(key, value string) error {
	v, err := cText(value, "metadata value")
	if err != nil {
		return err
	}
	defer C.free(unsafe.Pointer(v))
	return m.setMetadata(key, v)
}

// RemoveMetadata removes the user metadata entry key (maml_set_metadata with a NULL value);
// removing an absent key is not an error.
func (m *Model) RemoveMetadata(key string) error { return m.setMetadata(key, nil) }

func (m *Model) setMetadata(key string, value *C.char) error {
	k, err := cText(key, "metadata key")
	if err != nil {
		return err
	}
	defer C.free(unsafe.Pointer(k))
	if err := m.lock(); err != nil {
		return err
	}
	defer m.mu.Unlock()
	return call(func() C.maml_status { return C.maml_set_metadata(m.p, k, value) })
}

// Metadata returns the value of the user metadata entry key and whether the model has it
// (maml_get_metadata).
func (m *Model) Metadata(key string) (string, bool, error) {
	k, err := cText(key, "metadata key")
	if err != nil {
		return "", false, err
	}
	defer C.free(unsafe.Pointer(k))
	if err := m.rlock(); err != nil {
		return "", false, err
	}
	defer m.mu.RUnlock()
	var out *C.char
	if err := call(func() C.maml_status { return C.maml_get_metadata(m.p, k, &out) }); err != nil {
		return "", false, err
	}
	if out == nil {
		return "", false, nil
	}
	defer C.maml_buffer_free(unsafe.Pointer(out))
	return C.GoString(out), true, nil
}

// MetadataKeys returns the keys of the user metadata entries, sorted (maml_list_metadata).
func (m *Model) MetadataKeys() ([]string, error) {
	if err := m.rlock(); err != nil {
		return nil, err
	}
	defer m.mu.RUnlock()
	var data *C.char
	var size C.size_t
	if err := call(func() C.maml_status { return C.maml_list_metadata(m.p, &data, &size) }); err != nil {
		return nil, err
	}
	keys := []string{}
	if data == nil {
		return keys, nil
	}
	defer C.maml_buffer_free(unsafe.Pointer(data))
	raw := C.GoBytes(unsafe.Pointer(data), C.int(size))
	start := 0
	for i, b := range raw {
		if b == 0 {
			keys = append(keys, string(raw[start:i]))
			start = i + 1
		}
	}
	return keys, nil
}

// Config is the model's configuration (maml_get_config); for a loaded model, the file's config
// with the device it was loaded onto.
func (m *Model) Config() (Config, error) {
	if err := m.rlock(); err != nil {
		return Config{}, err
	}
	defer m.mu.RUnlock()
	var c C.maml_config
	c.struct_size = C.uint32_t(C.sizeof_maml_config)
	if err := call(func() C.maml_status { return C.maml_get_config(m.p, &c) }); err != nil {
		return Config{}, err
	}
	return configFromC(&c), nil
}

// Step is the number of meta-train steps taken so far.
func (m *Model) Step() (int64, error) {
	if err := m.rlock(); err != nil {
		return 0, err
	}
	defer m.mu.RUnlock()
	var s C.int64_t
	err := call(func() C.maml_status { return C.maml_get_step(m.p, &s) })
	return int64(s), err
}

// Device is where the tensors live: (DeviceCPU, 0) or (DeviceCUDA, ordinal).
func (m *Model) Device() (DeviceType, int, error) {
	if err := m.rlock(); err != nil {
		return 0, 0, err
	}
	defer m.mu.RUnlock()
	var t, i C.int32_t
	err := call(func() C.maml_status { return C.maml_get_device(m.p, &t, &i) })
	return DeviceType(t), int(i), err
}

// NumParameters is the number of learnable meta-parameters.
func (m *Model) NumParameters() (int64, error) {
	if err := m.rlock(); err != nil {
		return 0, err
	}
	defer m.mu.RUnlock()
	var n C.int64_t
	err := call(func() C.maml_status { return C.maml_num_parameters(m.p, &n) })
	return int64(n), err
}

// InnerLRs is the learned inner learning-rate table with the names of the tensors it adapts.
func (m *Model) InnerLRs() (InnerLRs, error) {
	if err := m.rlock(); err != nil {
		return InnerLRs{}, err
	}
	defer m.mu.RUnlock()
	var nt, ns C.int32_t
	if err := call(func() C.maml_status { return C.maml_inner_lr_shape(m.p, &nt, &ns) }); err != nil {
		return InnerLRs{}, err
	}
	r := InnerLRs{Names: make([]string, int(nt)), NumSteps: int(ns), Rates: make([]float32, int(nt)*int(ns))}
	if len(r.Rates) > 0 {
		if err := call(func() C.maml_status {
			return C.maml_get_inner_lrs(m.p, fptr(r.Rates), C.int64_t(len(r.Rates)))
		}); err != nil {
			return InnerLRs{}, err
		}
	}
	for i := range r.Names {
		var name *C.char
		if err := call(func() C.maml_status { return C.maml_inner_lr_name(m.p, C.int32_t(i), &name) }); err != nil {
			return InnerLRs{}, err
		}
		r.Names[i] = C.GoString(name)
	}
	return r, nil
}

// NWay is the number of classes per task.
func (m *Model) NWay() int { return m.nWay }

// IsRegression reports whether the model does regression (TaskKind == TaskRegression, 1.3).
func (m *Model) IsRegression() bool { return m.regression }

// NOutputs is the values per example of a regression model.
func (m *Model) NOutputs() int { return m.nOutputs }

// ExampleLen is the float32 values of one example: C*H*W, or InputFeatures for the MLP backbone.
func (m *Model) ExampleLen() int { return m.exampleLen }

func cText(s, what string) (*C.char, error) {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return nil, invalid(what + " contains a NUL byte")
		}
	}
	return C.CString(s), nil
}

func cString(s string) (*C.char, error) {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return nil, invalid("path contains a NUL byte")
		}
	}
	return C.CString(s), nil
}
