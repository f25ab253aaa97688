// Package mamlpp binds libmamlpp, a MAML++ meta-learning library behind a stable C ABI, for Go.
//
// It is a thin cgo wrapper over include/mamlpp/mamlpp.h using only the standard library: a Model
// (the meta-learner) is meta-trained on batches of tasks or loaded from a meta-initialisation
// file, adapted to a new task from a few labelled examples, and the resulting Learner predicts.
//
//	model, err := mamlpp.Load("omniglot.maml")
//	if err != nil { return err }
//	defer model.Close()
//	learner, err := model.Adapt(supportX, supportY) // 5 labelled examples, NCHW float32
//	if err != nil { return err }
//	defer learner.Close()
//	pred, err := learner.Predict(queryX)
//	fmt.Println(pred.Labels, pred.Logits)
//
// # Linking
//
// The package links with -lmamlpp; point cgo at the library with CGO_CFLAGS and CGO_LDFLAGS
// (for example CGO_CFLAGS=$(pkg-config --cflags mamlpp) CGO_LDFLAGS=$(pkg-config --libs mamlpp)),
// or build with -tags mamlpp_pkgconfig to let cgo run pkg-config itself. See README.md.
//
// # Threads
//
// Everything is safe to call from many goroutines. The C contract is: training calls
// (MetaTrainStep, Evaluate) need exclusive use of a model; Adapt, AdaptTasks, the getters and the
// Save calls may run from many threads at once while no training runs; Predict may run from many
// threads at once on one learner. Model and Learner enforce this with a sync.RWMutex: training
// and Close take the write lock, the rest the read lock, so concurrent Adapt/Predict calls run in
// parallel and a training call waits for them (and they for it). Do not train one model from
// several goroutines expecting parallelism: those calls are serialised.
//
// # Several processes
//
// A Group (since libmamlpp 1.1) joins a process group (c10d, e.g. under torchrun: JoinGroupEnv);
// Model.Attach makes the model's MetaTrainStep collective over it, each rank passing its share of
// every meta-batch. See group.go and section 6 of the header.
//
// # Errors
//
// Failed calls return *Error with the library's Status and message; compare with errors.Is
// against the sentinels (errors.Is(err, mamlpp.ErrFormat)).
package mamlpp

/*
#cgo LDFLAGS: -lmamlpp
#include <mamlpp/mamlpp.h>
*/
import "C"

import (
	"fmt"
	"runtime"
	"sync"
)

// ABIVersion is the ABI of the header this package was compiled against.
const ABIVersion = int(C.MAMLPP_ABI_VERSION)

// Version is the linked library's version, e.g. "1.3.0".
func Version() string { return C.GoString(C.maml_version_string()) }

// VersionNumber is the linked library's version as major*10000 + minor*100 + patch.
func VersionNumber() int { return int(C.maml_version_number()) }

// LibraryABIVersion is the linked library's ABI version (maml_abi_version).
func LibraryABIVersion() int { return int(C.maml_abi_version()) }

// CUDADeviceCount is how many CUDA devices the library sees (0 on CPU-only builds or machines).
func CUDADeviceCount() int { return int(C.maml_cuda_device_count()) }

// SetCUDADeterministic chooses reproducible (true, the default) or fastest (false: cuDNN's
// nondeterministic algorithms allowed) GPU arithmetic for every CUDA model of the process
// (maml_set_cuda_deterministic). Process-wide and immediate: set it before starting work. No
// effect on CPU models; never fails. Since libmamlpp 1.1.
func SetCUDADeterministic(deterministic bool) {
	C.maml_set_cuda_deterministic(cbool(deterministic))
}

// CUDAMemory is the GPU memory held by LibTorch tensors on one CUDA device, for the whole process:
// now, and the peak since start or the last reset; resetPeak starts a new window after reading
// (maml_cuda_memory). ErrDevice where there is no such GPU (every CPU-only build).
func CUDAMemory(deviceIndex int, resetPeak bool) (currentBytes, peakBytes int64, err error) {
	var current, peak C.int64_t
	reset := C.int32_t(0)
	if resetPeak {
		reset = 1
	}
	err = call(func() C.maml_status {
		return C.maml_cuda_memory(C.int32_t(deviceIndex), reset, &current, &peak)
	})
	return int64(current), int64(peak), err
}

// Status is a maml_status code. Values are frozen by the ABI.
type Status int32

const (
	StatusOK              Status = C.MAML_OK
	StatusInvalidArgument Status = C.MAML_E_INVALID_ARGUMENT
	StatusIO              Status = C.MAML_E_IO
	StatusFormat          Status = C.MAML_E_FORMAT
	StatusDevice          Status = C.MAML_E_DEVICE
	StatusOutOfMemory     Status = C.MAML_E_OUT_OF_MEMORY
	StatusNumerical       Status = C.MAML_E_NUMERICAL
	StatusUnsupported     Status = C.MAML_E_UNSUPPORTED
	StatusInternal        Status = C.MAML_E_INTERNAL
	StatusDistributed     Status = C.MAML_E_DISTRIBUTED // since 1.1
)

// String is the library's constant name for the status, e.g. "MAML_E_IO".
func (s Status) String() string { return C.GoString(C.maml_status_string(C.maml_status(s))) }

// Error is a failed libmamlpp call: its status and the library's message.
type Error struct {
	Status  Status
	Message string
}

func (e *Error) Error() string {
	if e.Message == "" {
		return e.Status.String()
	}
	return e.Status.String() + ": " + e.Message
}

// Is makes errors.Is(err, ErrFormat) true for every *Error with status MAML_E_FORMAT.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Status == e.Status
}

// Sentinels for errors.Is; they match any *Error of their status.
var (
	ErrInvalidArgument = &Error{Status: StatusInvalidArgument}
	ErrIO              = &Error{Status: StatusIO}
	ErrFormat          = &Error{Status: StatusFormat}
	ErrDevice          = &Error{Status: StatusDevice}
	ErrOutOfMemory     = &Error{Status: StatusOutOfMemory}
	ErrNumerical       = &Error{Status: StatusNumerical}
	ErrUnsupported     = &Error{Status: StatusUnsupported}
	ErrInternal        = &Error{Status: StatusInternal}
	ErrDistributed     = &Error{Status: StatusDistributed} // since 1.1
)

func invalid(format string, args ...interface{}) error {
	return &Error{Status: StatusInvalidArgument, Message: fmt.Sprintf(format, args...)}
}

// call runs one C call and, on failure, reads maml_last_error on the same OS thread: the message
// is thread-local in C, and a goroutine may otherwise move to another thread between two cgo
// calls.
func call(f func() C.maml_status) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	s := f()
	if s == C.MAML_OK {
		return nil
	}
	return &Error{Status: Status(s), Message: C.GoString(C.maml_last_error())}
}

var (
	abiOnce sync.Once
	abiErr  error
)

// CheckABI reports an error if the linked library's ABI differs from the header's. Every
// constructor (NewModel, Load*, ...) calls it; the check runs once per process.
func CheckABI() error {
	abiOnce.Do(func() {
		if got := LibraryABIVersion(); got != ABIVersion {
			abiErr = &Error{Status: StatusUnsupported, Message: fmt.Sprintf(
				"libmamlpp ABI version %d (library %s), but this package was built for ABI %d",
				got, Version(), ABIVersion)}
		}
	})
	return abiErr
}
