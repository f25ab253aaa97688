package mamlpp_test

import (
	"errors"
	"math"
	"net"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	mamlpp "github.com/libmamlpp/mamlpp-go"
)

// Process groups (maml_group_*, since 1.1) in a world of one on 127.0.0.1.

// freePort is a TCP port nothing listens on now (the OS picks one for port 0).
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func joinOne(t *testing.T, localRank int) *mamlpp.Group {
	t.Helper()
	g, err := mamlpp.JoinGroup("127.0.0.1", freePort(t), 0, 1, localRank, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

func wantMessage(t *testing.T, err error, sentinel *mamlpp.Error, needle string) {
	t.Helper()
	wantStatus(t, err, sentinel)
	if !strings.Contains(err.(*mamlpp.Error).Message, needle) {
		t.Fatalf("%q not in %v", needle, err)
	}
}

func TestGroupConstants(t *testing.T) {
	if mamlpp.GroupDefaultTimeout != 300*time.Second {
		t.Fatal(mamlpp.GroupDefaultTimeout)
	}
	if mamlpp.StatusDistributed != -9 || mamlpp.StatusDistributed.String() != "MAML_E_DISTRIBUTED" {
		t.Fatal(int(mamlpp.StatusDistributed), mamlpp.StatusDistributed)
	}
	var err error = &mamlpp.Error{Status: mamlpp.StatusDistributed, Message: "peer gone"}
	if !errors.Is(err, mamlpp.ErrDistributed) || errors.Is(err, mamlpp.ErrInternal) {
		t.Fatal(err)
	}
}

func TestGroupWorldOfOne(t *testing.T) {
	g := joinOne(t, -1)
	if r := [3]int{g.Rank(), g.WorldSize(), g.LocalRank()}; r != [3]int{0, 1, 0} {
		t.Fatal(r)
	}
	m := must(mamlpp.NewModel(smallConfig()))
	defer m.Close()
	if err := m.Attach(g); err != nil {
		t.Fatal(err)
	}
	if r := must(m.MetaTrainStep(batch(1, 2))); r.Step != 1 || math.IsNaN(float64(r.Loss)) {
		t.Fatal(r)
	}
	// A world of one: the sums over ranks are the values themselves.
	values := []float64{1.5, -2, 3.25, 1e300}
	if err := g.AllreduceSum(values); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(values, []float64{1.5, -2, 3.25, 1e300}) {
		t.Fatal(values)
	}
	if err := m.Detach(); err != nil {
		t.Fatal(err)
	}
	if err := m.Detach(); err != nil { // not attached: not an error
		t.Fatal(err)
	}
	if r := must(m.MetaTrainStep(batch(2, 1))); r.Step != 2 {
		t.Fatal(r)
	}
	g.Close()
	g.Close() // idempotent
	wantStatus(t, g.AllreduceSum([]float64{1}), mamlpp.ErrInvalidArgument)
	wantStatus(t, m.Attach(g), mamlpp.ErrInvalidArgument)
	wantStatus(t, m.Attach(nil), mamlpp.ErrInvalidArgument)
}

func TestGroupLocalRankAndMembershipKeptByTheModel(t *testing.T) {
	m := must(mamlpp.NewModel(smallConfig()))
	defer m.Close()
	g := joinOne(t, 3)
	if g.LocalRank() != 3 {
		t.Fatal(g.LocalRank())
	}
	if err := m.Attach(g); err != nil {
		t.Fatal(err)
	}
	g.Close() // the attached model keeps the membership
	if r := must(m.MetaTrainStep(batch(3, 1))); r.Step != 1 {
		t.Fatal(r)
	}
	if err := m.Detach(); err != nil {
		t.Fatal(err)
	}
	m.Close()
	wantStatus(t, m.Detach(), mamlpp.ErrInvalidArgument)
}

func TestGroupAttachedStepEqualsLocalStep(t *testing.T) {
	g := joinOne(t, -1)
	local := must(mamlpp.NewModel(smallConfig()))
	defer local.Close()
	attached := must(mamlpp.NewModel(smallConfig()))
	defer attached.Close()
	if err := attached.Attach(g); err != nil {
		t.Fatal(err)
	}
	for _, seed := range []uint64{4, 5} {
		a, b := must(local.MetaTrainStep(batch(seed, 2))), must(attached.MetaTrainStep(batch(seed, 2)))
		if math.Abs(float64(a.Loss-b.Loss)) > 1e-5*math.Max(1, math.Abs(float64(a.Loss))) {
			t.Fatal(a.Loss, b.Loss)
		}
	}
	a, b := must(local.InnerLRs()), must(attached.InnerLRs())
	if !reflect.DeepEqual(a.Names, b.Names) {
		t.Fatal(a.Names, b.Names)
	}
	for i := range a.Rates {
		if math.Abs(float64(a.Rates[i]-b.Rates[i])) > 1e-5 {
			t.Fatal(i, a.Rates[i], b.Rates[i])
		}
	}
}

func TestGroupJoinErrors(t *testing.T) {
	port := freePort(t)
	for _, c := range []struct {
		addr                     string
		port, rank, world, local int
		timeout                  time.Duration
		needle                   string
	}{
		{"127.0.0.1", port, 1, 1, -1, time.Minute, "rank 1"},
		{"127.0.0.1", port, -1, 1, -1, time.Minute, "rank"},
		{"127.0.0.1", port, 0, 0, -1, time.Minute, "world"},
		{"127.0.0.1", 0, 0, 1, -1, time.Minute, "port"},
		{"127.0.0.1", 70000, 0, 1, -1, time.Minute, "port"},
		{"127.0.0.1", port, 0, 1, -2, time.Minute, "local rank"},
		{"127.0.0.1", port, 0, 1, -1, 10 * time.Millisecond, "timeout"},
		{"127.0.0.1", port, 0, 1, -1, -time.Second, "timeout"},
		{"127.0.0.1\x00x", port, 0, 1, -1, time.Minute, "NUL byte"}, // refused before the C call
		{"127.0.0.1", port, math.MaxInt32 + 1, 1, -1, time.Minute, "int32"},
	} {
		_, err := mamlpp.JoinGroup(c.addr, c.port, c.rank, c.world, c.local, c.timeout)
		wantMessage(t, err, mamlpp.ErrInvalidArgument, c.needle)
	}
}

func TestGroupJoinEnv(t *testing.T) {
	// t.Setenv restores the variables afterwards; with cgo, os.Setenv also sets the C
	// environment that maml_group_join_env reads.
	for _, v := range []string{"RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"} {
		t.Setenv(v, "") // restored after the test
		os.Unsetenv(v)
	}
	_, err := mamlpp.JoinGroupEnv(0)
	wantMessage(t, err, mamlpp.ErrInvalidArgument, "RANK")

	t.Setenv("WORLD_SIZE", "1")
	t.Setenv("MASTER_ADDR", "127.0.0.1")
	t.Setenv("MASTER_PORT", strconv.Itoa(freePort(t)))
	t.Setenv("RANK", "zero")
	_, err = mamlpp.JoinGroupEnv(time.Minute)
	wantMessage(t, err, mamlpp.ErrInvalidArgument, "RANK")

	t.Setenv("RANK", "0")
	t.Setenv("LOCAL_RANK", "2")
	g, err := mamlpp.JoinGroupEnv(0) // 0: the default timeout
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if r := [3]int{g.Rank(), g.WorldSize(), g.LocalRank()}; r != [3]int{0, 1, 2} {
		t.Fatal(r)
	}
}

func TestGroupUseErrors(t *testing.T) {
	g := joinOne(t, -1)
	wantMessage(t, g.AllreduceSum(nil), mamlpp.ErrInvalidArgument, "values")
	wantMessage(t, g.AllreduceSum([]float64{}), mamlpp.ErrInvalidArgument, "values")
	v := []float64{2}
	if err := g.AllreduceSum(v); err != nil || v[0] != 2 { // nothing above broke the group
		t.Fatal(v, err)
	}
}

// One group used from several goroutines (the library serialises the collectives; in a world of
// one any order matches), and Close waiting for them.
func TestGroupConcurrentUse(t *testing.T) {
	g := joinOne(t, -1)
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			v := []float64{float64(i), 1}
			if err := g.AllreduceSum(v); err != nil || v[0] != float64(i) || v[1] != 1 {
				t.Error(v, err)
			}
		}(i)
	}
	wg.Wait()
	g.Close()
}
