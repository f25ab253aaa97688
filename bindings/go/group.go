package mamlpp

/*
#include <stdlib.h>
#include <mamlpp/mamlpp.h>
*/
import "C"

import (
	"math"
	"runtime"
	"sync"
	"time"
	"unsafe"
)

// GroupDefaultTimeout is the timeout a timeout of 0 means (MAML_GROUP_DEFAULT_TIMEOUT): the
// rendezvous and every collective. Since libmamlpp 1.1.
const GroupDefaultTimeout = time.Duration(C.MAML_GROUP_DEFAULT_TIMEOUT * float64(time.Second))

// Group is a membership in a process group (maml_group), for data-parallel meta-training over
// PyTorch's c10d: N processes (ranks) each adapt their share of every meta-batch, and each step
// pools their contributions into the step one process would take on the whole batch. Join with
// JoinGroupEnv (under torchrun) or JoinGroup, then Model.Attach a model:
//
//	g, err := mamlpp.JoinGroupEnv(0) // RANK, WORLD_SIZE, MASTER_ADDR, ... from torchrun
//	if err != nil { return err }
//	defer g.Close()
//	if err := model.Attach(g); err != nil { return err } // every rank now holds rank 0's model
//	for ... { model.MetaTrainStep(myShare) }            // collective: the step over all ranks
//
// Collective calls (joining, Attach, AllreduceSum, and MetaTrainStep on an attached model) must
// be made by every rank in the same order; each returns once all ranks have made it. A failed
// collective returns ErrDistributed on the ranks that did not cause it. Close leaves the group
// at once, waiting for no other rank; a model still attached keeps the membership until it is
// detached or closed. A finalizer closes a forgotten group; close groups explicitly. Safe for concurrent use: the library serialises one process's
// collectives in the order they arrive (which must then match across ranks).
type Group struct {
	mu                         sync.RWMutex
	p                          *C.maml_group
	rank, worldSize, localRank int
}

var errGroupClosed = &Error{Status: StatusInvalidArgument, Message: "group is closed"}

func wrapGroup(p *C.maml_group) (*Group, error) {
	g := &Group{p: p}
	runtime.SetFinalizer(g, (*Group).Close)
	var rank, world, local C.int32_t
	if err := call(func() C.maml_status { return C.maml_group_rank(p, &rank, &world, &local) }); err != nil {
		g.Close()
		return nil, err
	}
	g.rank, g.worldSize, g.localRank = int(rank), int(world), int(local)
	return g, nil
}

// int32Arg passes v to C as an int32_t, negative values included (the library checks ranges).
func int32Arg(v int, what string) (C.int32_t, error) {
	if v < math.MinInt32 || v > math.MaxInt32 {
		return 0, invalid("%s = %d does not fit in int32", what, v)
	}
	return C.int32_t(v), nil
}

// JoinGroupEnv joins the process group that torchrun describes in the environment: RANK,
// WORLD_SIZE, MASTER_ADDR, MASTER_PORT, and LOCAL_RANK (optional, default RANK)
// (maml_group_join_env). Collective: it returns once all ranks have joined. timeout bounds the
// rendezvous and every later collective: 0 means GroupDefaultTimeout, otherwise 0.1 s to 24 h.
// Errors: ErrInvalidArgument (a variable missing or malformed; the message names it),
// ErrDistributed (the rendezvous failed or timed out), ErrUnsupported (no c10d Gloo in this
// build).
func JoinGroupEnv(timeout time.Duration) (*Group, error) {
	if err := CheckABI(); err != nil {
		return nil, err
	}
	var p *C.maml_group
	if err := call(func() C.maml_status {
		return C.maml_group_join_env(C.double(timeout.Seconds()), &p)
	}); err != nil {
		return nil, err
	}
	return wrapGroup(p)
}

// JoinGroup joins a process group described explicitly (maml_group_join): rank 0 serves the
// rendezvous at masterAddr:masterPort and every rank connects to it. rank in [0, worldSize);
// localRank is this rank's index on its machine (-1: rank). Otherwise as JoinGroupEnv; the
// library checks every value.
func JoinGroup(masterAddr string, masterPort, rank, worldSize, localRank int, timeout time.Duration) (*Group, error) {
	if err := CheckABI(); err != nil {
		return nil, err
	}
	var args [4]C.int32_t
	for i, a := range []struct {
		v    int
		what string
	}{{masterPort, "masterPort"}, {rank, "rank"}, {worldSize, "worldSize"}, {localRank, "localRank"}} {
		var err error
		if args[i], err = int32Arg(a.v, a.what); err != nil {
			return nil, err
		}
	}
	addr, err := cText(masterAddr, "masterAddr")
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(addr))
	var p *C.maml_group
	if err := call(func() C.maml_status {
		return C.maml_group_join(addr, args[0], args[1], args[2], args[3], C.double(timeout.Seconds()), &p)
	}); err != nil {
		return nil, err
	}
	return wrapGroup(p)
}

// Close leaves the group (maml_group_free): see Group for rank 0's wait and attached models.
// Idempotent; waits for calls in progress on other goroutines; later calls return
// ErrInvalidArgument.
func (g *Group) Close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.p != nil {
		C.maml_group_free(g.p)
		g.p = nil
		runtime.SetFinalizer(g, nil)
	}
	return nil
}

// Rank is this process's rank, in [0, WorldSize()) (maml_group_rank).
func (g *Group) Rank() int { return g.rank }

// WorldSize is the number of ranks (maml_group_rank).
func (g *Group) WorldSize() int { return g.worldSize }

// LocalRank is this rank's index on its machine, e.g. the CUDA device to use (maml_group_rank).
func (g *Group) LocalRank() int { return g.localRank }

// AllreduceSum sums values over every rank, in place, in double precision
// (maml_group_allreduce_sum; collective), e.g. for validation figures each rank computed on its
// share. 1 to 2^24 values, as many on every rank; an empty slice is ErrInvalidArgument (and this
// rank does not take part).
func (g *Group) AllreduceSum(values []float64) error {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if g.p == nil {
		return errGroupClosed
	}
	var ptr *C.double
	if len(values) > 0 {
		ptr = (*C.double)(unsafe.Pointer(&values[0]))
	}
	err := call(func() C.maml_status {
		return C.maml_group_allreduce_sum(g.p, ptr, C.int64_t(len(values)))
	})
	runtime.KeepAlive(values)
	return err
}

// Attach attaches the model to a process group (maml_group_attach; collective: every rank
// attaches its model). The ranks must agree on the library version, device type, dtype and config
// (all fields but DeviceIndex, NumThreads and TaskBatching), and every rank whose model has
// trained must hold exactly rank 0's model; otherwise every rank returns ErrDistributed naming
// the first rank and field that differ, and nothing is attached. Then rank 0's model is
// broadcast, so the ranks start identical. From then on MetaTrainStep is collective. Attaching
// again replaces the group; the model keeps the membership alive while attached, so the Group may
// be closed first. A training call: it holds the model exclusively.
func (m *Model) Attach(g *Group) error {
	if g == nil {
		return invalid("group is nil")
	}
	if err := m.lock(); err != nil {
		return err
	}
	defer m.mu.Unlock()
	g.mu.RLock()
	defer g.mu.RUnlock()
	if g.p == nil {
		return errGroupClosed
	}
	return call(func() C.maml_status { return C.maml_group_attach(m.p, g.p) })
}

// Detach makes the model local again (maml_group_detach): MetaTrainStep stops being collective.
// A model that is not attached is not an error.
func (m *Model) Detach() error {
	if err := m.lock(); err != nil {
		return err
	}
	defer m.mu.Unlock()
	return call(func() C.maml_status { return C.maml_group_detach(m.p) })
}
