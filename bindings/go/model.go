package mamlpp

/*
#include <stdlib.h>
#include <mamlpp/mamlpp.h>

// cgo forbids storing Go pointers in memory passed to C, so the maml_tasks struct is built
// here, on the C stack, from pointers passed as plain arguments.
static maml_tasks mamlpp_go_tasks(int32_t num_tasks, int32_t support_size, int32_t query_size,
                                  const float* sx, const int32_t* sy,
                                  const float* qx, const int32_t* qy) {
  maml_tasks t;
  t.struct_size = sizeof(maml_tasks);
  t.num_tasks = num_tasks;
  t.support_size = support_size;
  t.query_size = query_size;
  t.support_x = sx;
  t.support_y = sy;
  t.query_x = qx;
  t.query_y = qy;
  return t;
}
static maml_status mamlpp_go_train(maml_model* m, int32_t nt, int32_t ss, int32_t qs,
                                   const float* sx, const int32_t* sy, const float* qx,
                                   const int32_t* qy, maml_metrics* out) {
  maml_tasks t = mamlpp_go_tasks(nt, ss, qs, sx, sy, qx, qy);
  return maml_meta_train_step(m, &t, out);
}
static maml_status mamlpp_go_evaluate(const maml_model* m, int32_t nt, int32_t ss, int32_t qs,
                                      const float* sx, const int32_t* sy, const float* qx,
                                      const int32_t* qy, maml_metrics* out) {
  maml_tasks t = mamlpp_go_tasks(nt, ss, qs, sx, sy, qx, qy);
  return maml_evaluate(m, &t, out);
}
static maml_status mamlpp_go_adapt_tasks(const maml_model* m, int32_t nt, int32_t ss,
                                         const float* sx, const int32_t* sy, maml_learner** out) {
  maml_tasks t = mamlpp_go_tasks(nt, ss, 0, sx, sy, NULL, NULL);
  return maml_adapt_tasks(m, &t, out);
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
// after task: SupportX holds NumTasks*SupportSize*C*H*W float32 (NCHW), SupportY
// NumTasks*SupportSize labels in [0, n_way), and the same for the query set. Lengths are checked
// against the model's image size before the library is called.
type Tasks struct {
	NumTasks    int
	SupportSize int // support examples per task (N*K)
	QuerySize   int // query examples per task (N*Q); ignored by AdaptTasks
	SupportX    []float32
	SupportY    []int32
	QueryX      []float32
	QueryY      []int32
}

// Metrics is what a training or evaluation call measured (maml_metrics).
type Metrics struct {
	Loss        float32 // meta-loss: mean over tasks of the (MSL-weighted) query loss
	Accuracy    float32 // query accuracy after the last inner step, mean over tasks
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
	nt, ss, qs C.int32_t
	sx, qx     *C.float
	sy, qy     *C.int32_t
}

func (m *Model) checkTasks(t *Tasks, withQuery bool) (c cTasks, err error) {
	if t.NumTasks < 0 || t.SupportSize < 0 || t.QuerySize < 0 {
		return c, invalid("negative sizes in Tasks")
	}
	if err = expectLen(len(t.SupportY), t.NumTasks, t.SupportSize, "SupportY"); err != nil {
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
	c.sx, c.sy = fptr(t.SupportX), iptr(t.SupportY)
	if withQuery {
		if err = expectLen(len(t.QueryY), t.NumTasks, t.QuerySize, "QueryY"); err != nil {
			return
		}
		if err = expectLen(len(t.QueryX), t.NumTasks*t.QuerySize, m.exampleLen, "QueryX"); err != nil {
			return
		}
		if c.qs, err = toInt32(t.QuerySize, "QuerySize"); err != nil {
			return
		}
		c.qx, c.qy = fptr(t.QueryX), iptr(t.QueryY)
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
		return C.mamlpp_go_train(m.p, c.nt, c.ss, c.qs, c.sx, c.sy, c.qx, c.qy, &out)
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
		return C.mamlpp_go_evaluate(m.p, c.nt, c.ss, c.qs, c.sx, c.sy, c.qx, c.qy, &out)
	})
	runtime.KeepAlive(t)
	if err != nil {
		return Metrics{}, err
	}
	return metricsFromC(&out), nil
}

// Adapt adapts the model to one task from len(supportY) labelled examples (maml_adapt);
// supportX holds len(supportY)*C*H*W float32. The model is not changed. Safe to call from many
// goroutines at once on one model; the calls run in parallel.
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
		return C.mamlpp_go_adapt_tasks(m.p, c.nt, c.ss, c.sx, c.sy, &out[0])
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

// ExampleLen is C*H*W, the float32 values of one example.
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
