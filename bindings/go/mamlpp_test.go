package mamlpp_test

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"

	mamlpp "github.com/libmamlpp/mamlpp-go"
)

const (
	nWay = 3
	hw   = 8
	ex   = hw * hw // 1 channel
)

// smallConfig is a tiny CPU model: 3-way, 1x8x8 images, 2 stages of 8 filters, 2 inner steps.
func smallConfig() mamlpp.Config {
	c := mamlpp.DefaultConfig()
	c.NWay = nWay
	c.ImageChannels, c.ImageHeight, c.ImageWidth = 1, hw, hw
	c.NumStages, c.NumFilters = 2, 8
	c.InnerSteps, c.EvalInnerSteps = 2, 2
	c.FirstOrderEpochs = 0
	c.Epochs, c.ItersPerEpoch = 4, 5
	c.DeviceType = mamlpp.DeviceCPU
	c.NumThreads = 1
	c.Seed = 7
	return c
}

type rng uint64

func newRng(seed uint64) *rng { r := rng(seed*0x9E3779B97F4A7C15 | 1); return &r }

func (r *rng) float() float32 {
	x := uint64(*r)
	x ^= x << 13
	x ^= x >> 7
	x ^= x << 17
	*r = rng(x)
	return float32(x>>40) / float32(1<<24)
}

// examples draws one image per label: a bright band in a class-dependent row pair plus noise.
func examples(r *rng, labels []int32) []float32 {
	x := make([]float32, 0, len(labels)*ex)
	for _, l := range labels {
		for row := 0; row < hw; row++ {
			for col := 0; col < hw; col++ {
				v := float32(0)
				if row/2 == int(l)%4 {
					v = 1
				}
				x = append(x, v+0.3*r.float())
			}
		}
	}
	return x
}

func labels(perClass int) []int32 {
	var y []int32
	for i := 0; i < perClass; i++ {
		for c := int32(0); c < nWay; c++ {
			y = append(y, c)
		}
	}
	return y
}

func batch(seed uint64, numTasks int) mamlpp.Tasks {
	r := newRng(seed)
	s, q := labels(1), labels(2)
	t := mamlpp.Tasks{NumTasks: numTasks, SupportSize: len(s), QuerySize: len(q)}
	for i := 0; i < numTasks; i++ {
		t.SupportX = append(t.SupportX, examples(r, s)...)
		t.SupportY = append(t.SupportY, s...)
		t.QueryX = append(t.QueryX, examples(r, q)...)
		t.QueryY = append(t.QueryY, q...)
	}
	return t
}

func support(t mamlpp.Tasks, i int) ([]float32, []int32) {
	s := t.SupportSize
	return t.SupportX[i*s*ex : (i+1)*s*ex], t.SupportY[i*s : (i+1)*s]
}

func queryX(t mamlpp.Tasks, i int) []float32 {
	q := t.QuerySize
	return t.QueryX[i*q*ex : (i+1)*q*ex]
}

// must panics on error (the test fails with a stack); Go cannot pass t alongside f()'s results.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func trained(t *testing.T, steps int) *mamlpp.Model {
	t.Helper()
	m := must(mamlpp.NewModel(smallConfig()))
	t.Cleanup(func() { m.Close() })
	for i := 0; i < steps; i++ {
		must(m.MetaTrainStep(batch(uint64(100+i), 4)))
	}
	return m
}

func wantStatus(t *testing.T, err error, sentinel *mamlpp.Error) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("want %v, got %v", sentinel, err)
	}
}

func TestVersions(t *testing.T) {
	if mamlpp.LibraryABIVersion() != mamlpp.ABIVersion {
		t.Fatalf("ABI %d vs %d", mamlpp.LibraryABIVersion(), mamlpp.ABIVersion)
	}
	if err := mamlpp.CheckABI(); err != nil {
		t.Fatal(err)
	}
	if len(strings.Split(mamlpp.Version(), ".")) != 3 || mamlpp.VersionNumber() < 10000 {
		t.Fatal(mamlpp.Version(), mamlpp.VersionNumber())
	}
	if mamlpp.CUDADeviceCount() < 0 {
		t.Fatal("negative device count")
	}
}

func TestCUDAMemory(t *testing.T) {
	_, _, err := mamlpp.CUDAMemory(-1, false)
	wantStatus(t, err, mamlpp.ErrInvalidArgument)
	_, _, err = mamlpp.CUDAMemory(mamlpp.CUDADeviceCount(), false)
	wantStatus(t, err, mamlpp.ErrDevice)
	if !strings.Contains(err.Error(), "CUDA") {
		t.Fatal(err)
	}
	if mamlpp.CUDADeviceCount() > 0 {
		current, peak := int64(0), int64(0)
		if current, peak, err = mamlpp.CUDAMemory(0, true); err != nil || current < 0 || peak < current {
			t.Fatal(current, peak, err)
		}
		if c, p, err := mamlpp.CUDAMemory(0, false); err != nil || c != current || p != current {
			t.Fatal(c, p, err)
		}
	}
}

func TestDefaultConfig(t *testing.T) {
	c := mamlpp.DefaultConfig()
	if c.NWay != 5 || c.ImageChannels != 1 || c.ImageHeight != 28 || c.NumStages != 4 ||
		c.NumFilters != 64 || c.InnerSteps != 5 || !c.LearnInnerLR || !c.PerStepBN ||
		!c.MultiStepLoss || !c.SecondOrder || !c.MaxPool || c.BNStats != mamlpp.BNSupport ||
		c.DeviceType != mamlpp.DeviceAuto || math.Abs(float64(c.InnerLR)-0.1) > 1e-7 ||
		c.GradClip != 0 || c.GradClipLSLR || c.AdaptLastLayers != 0 {
		t.Fatalf("%+v", c)
	}
	if c.ExampleLen() != 28*28 {
		t.Fatal(c.ExampleLen())
	}
}

func TestGradClipLSLR(t *testing.T) {
	for _, lslr := range []bool{false, true} {
		c := smallConfig()
		c.GradClip, c.GradClipLSLR = 10, lslr
		m := must(mamlpp.NewModel(c))
		if got := must(m.Config()); !reflect.DeepEqual(got, c) {
			t.Fatalf("config round trip:\n%+v\n%+v", got, c)
		}
		if r := must(m.MetaTrainStep(batch(5, 2))); math.IsNaN(float64(r.Loss)) {
			t.Fatal(r)
		}
		m.Close()
	}
}

// AdaptLastLayers (ANIL, since 1.2) lies in the last slot of maml_config (1.1's reserved2): it
// comes back only if the whole struct reaches the library and returns from it.
func TestAdaptLastLayers(t *testing.T) {
	stages := smallConfig().NumStages
	for _, k := range []int32{0, 1, stages + 1} {
		c := smallConfig()
		c.AdaptLastLayers = k
		m := must(mamlpp.NewModel(c))
		if got := must(m.Config()); !reflect.DeepEqual(got, c) || got.AdaptLastLayers != k {
			t.Fatalf("config round trip:\n%+v\n%+v", got, c)
		}
		b := batch(5, 2)
		if r := must(m.MetaTrainStep(b)); math.IsNaN(float64(r.Loss)) {
			t.Fatal(k, r)
		}
		sx, sy := support(b, 0)
		l := must(m.Adapt(sx, sy))
		if p := must(l.Predict(queryX(b, 0))); len(p.Labels) != b.QuerySize {
			t.Fatal(k, p)
		}
		l.Close()
		m.Close()
	}

	// Head only: the inner-rate table has rows for the head's weight and bias alone.
	c := smallConfig()
	c.AdaptLastLayers = 1
	m := must(mamlpp.NewModel(c))
	defer m.Close()
	r := must(m.InnerLRs())
	names := append([]string(nil), r.Names...)
	sort.Strings(names)
	if !reflect.DeepEqual(names, []string{"backbone.head.bias", "backbone.head.weight"}) ||
		r.NumSteps != 2 || len(r.Rates) != 4 {
		t.Fatalf("%+v", r)
	}

	// Out of range: the library refuses it and names the field.
	for _, bad := range []int32{-1, stages + 2} {
		c := smallConfig()
		c.AdaptLastLayers = bad
		_, err := mamlpp.NewModel(c)
		wantStatus(t, err, mamlpp.ErrInvalidArgument)
		if !strings.Contains(err.Error(), "adapt_last_layers") {
			t.Fatal(bad, err)
		}
	}
}

// SetCUDADeterministic is process-wide, never fails and does not affect CPU models: it is
// callable both ways and a CPU model still trains after each. Left at the default afterwards.
func TestSetCUDADeterministic(t *testing.T) {
	defer mamlpp.SetCUDADeterministic(true)
	for _, deterministic := range []bool{false, true} {
		mamlpp.SetCUDADeterministic(deterministic)
		m := must(mamlpp.NewModel(smallConfig()))
		r := must(m.MetaTrainStep(batch(3, 2)))
		m.Close()
		if math.IsNaN(float64(r.Loss)) || math.IsInf(float64(r.Loss), 0) {
			t.Fatal(r)
		}
	}
}

func TestCreateAndQuery(t *testing.T) {
	m := must(mamlpp.NewModel(smallConfig()))
	defer m.Close()
	if s := must(m.Step()); s != 0 {
		t.Fatal(s)
	}
	dt, di, err := m.Device()
	if err != nil || dt != mamlpp.DeviceCPU || di != 0 {
		t.Fatal(dt, di, err)
	}
	if n := must(m.NumParameters()); n <= 0 {
		t.Fatal(n)
	}
	if m.NWay() != nWay || m.ExampleLen() != ex {
		t.Fatal(m.NWay(), m.ExampleLen())
	}
	if c := must(m.Config()); !reflect.DeepEqual(c, smallConfig()) {
		t.Fatalf("config round trip:\n%+v\n%+v", c, smallConfig())
	}
}

func TestMetaTrainAndEvaluate(t *testing.T) {
	m := must(mamlpp.NewModel(smallConfig()))
	defer m.Close()
	for i := 0; i < 4; i++ {
		r := must(m.MetaTrainStep(batch(uint64(i), 4)))
		if r.Step != int64(i+1) || !(r.Loss > 0) || math.IsInf(float64(r.Loss), 0) ||
			r.Accuracy < 0 || r.Accuracy > 1 || r.MetaLR <= 0 || !r.SecondOrder {
			t.Fatalf("%+v", r)
		}
	}
	e := must(m.Evaluate(batch(99, 2)))
	if math.IsNaN(float64(e.Loss)) {
		t.Fatal(e)
	}
	if s := must(m.Step()); s != 4 {
		t.Fatal("evaluate changed the step", s)
	}
}

func TestAdaptAndPredict(t *testing.T) {
	m := trained(t, 3)
	b := batch(5, 1)
	sx, sy := support(b, 0)
	l := must(m.Adapt(sx, sy))
	defer l.Close()
	if l.NWay() != nWay {
		t.Fatal(l.NWay())
	}
	p := must(l.Predict(queryX(b, 0)))
	if len(p.Labels) != b.QuerySize || len(p.Logits) != b.QuerySize*nWay {
		t.Fatal(len(p.Labels), len(p.Logits))
	}
	right := 0
	for i, y := range p.Labels {
		row, best := p.LogitsOf(i), 0
		for c := range row {
			if row[c] > row[best] {
				best = c
			}
		}
		if int(y) != best {
			t.Fatalf("label %d is not the argmax of %v", y, row)
		}
		if y == b.QueryY[i] {
			right++
		}
	}
	if right*2 < len(p.Labels) {
		t.Fatalf("%d/%d right", right, len(p.Labels))
	}
	if labels := must(l.PredictLabels(queryX(b, 0))); !reflect.DeepEqual(labels, p.Labels) {
		t.Fatal(labels, p.Labels)
	}
}

func TestLearnerOutlivesModel(t *testing.T) {
	m := must(mamlpp.NewModel(smallConfig()))
	b := batch(6, 1)
	sx, sy := support(b, 0)
	l := must(m.Adapt(sx, sy))
	defer l.Close()
	m.Close()
	m.Close() // idempotent
	if _, err := m.Step(); err == nil {
		t.Fatal("a closed model must refuse calls")
	}
	must(l.Predict(queryX(b, 0)))
	l.Close()
	_, err := l.Predict(queryX(b, 0))
	wantStatus(t, err, mamlpp.ErrInvalidArgument)
}

func TestAdaptTasksMatchesAdapt(t *testing.T) {
	m := trained(t, 2)
	b := batch(8, 3)
	b.QueryX, b.QueryY, b.QuerySize = nil, nil, 0
	ls := must(m.AdaptTasks(b))
	if len(ls) != 3 {
		t.Fatal(len(ls))
	}
	full := batch(8, 3)
	for i, l := range ls {
		sx, sy := support(full, i)
		one := must(m.Adapt(sx, sy))
		a, c := must(l.Predict(queryX(full, i))), must(one.Predict(queryX(full, i)))
		if !reflect.DeepEqual(a.Labels, c.Labels) {
			t.Fatal(a.Labels, c.Labels)
		}
		for k := range a.Logits {
			if math.Abs(float64(a.Logits[k]-c.Logits[k])) > 1e-4 {
				t.Fatal(a.Logits, c.Logits)
			}
		}
		one.Close()
		l.Close()
	}
}

func TestSaveAndLoadFile(t *testing.T) {
	m := trained(t, 2)
	dir := t.TempDir()
	path := filepath.Join(dir, "save.maml")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	loaded := must(mamlpp.LoadOn(path, mamlpp.DeviceCPU, 0))
	defer loaded.Close()
	if s := must(loaded.Step()); s != 2 {
		t.Fatal(s)
	}
	if !reflect.DeepEqual(must(loaded.InnerLRs()), must(m.InnerLRs())) {
		t.Fatal("inner rates differ after load")
	}
	b := batch(9, 1)
	sx, sy := support(b, 0)
	a := must(must(m.Adapt(sx, sy)).Predict(queryX(b, 0)))
	c := must(must(loaded.Adapt(sx, sy)).Predict(queryX(b, 0)))
	if !reflect.DeepEqual(a, c) {
		t.Fatal("a loaded model must adapt and predict exactly as the saved one")
	}
	resumed := must(mamlpp.Load(path))
	defer resumed.Close()
	must(resumed.MetaTrainStep(batch(10, 2)))
	if s := must(resumed.Step()); s != 3 {
		t.Fatal(s)
	}
	small := filepath.Join(dir, "small.maml")
	if err := m.SaveInferenceOnly(small); err != nil {
		t.Fatal(err)
	}
	fs, _ := os.Stat(small)
	ff, _ := os.Stat(path)
	if fs.Size() >= ff.Size() {
		t.Fatal(fs.Size(), ff.Size())
	}
	inf := must(mamlpp.LoadOn(small, mamlpp.DeviceCPU, 0))
	defer inf.Close()
	if p := must(must(inf.Adapt(sx, sy)).Predict(queryX(b, 0))); !reflect.DeepEqual(p, a) {
		t.Fatal("inference-only file adapts differently")
	}
}

func TestBytesRoundTrip(t *testing.T) {
	m := trained(t, 1)
	data := must(m.Bytes())
	path := filepath.Join(t.TempDir(), "b.maml")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	if file := must(os.ReadFile(path)); !bytes.Equal(file, data) {
		t.Fatal("Bytes differs from the file")
	}
	back := must(mamlpp.LoadBytesOn(data, mamlpp.DeviceCPU, 0))
	defer back.Close()
	if s := must(back.Step()); s != 1 {
		t.Fatal(s)
	}
	if again := must(back.MarshalBinary()); !bytes.Equal(again, data) {
		t.Fatal("re-serialised bytes differ")
	}
	inf := must(m.BytesInferenceOnly())
	if len(inf) >= len(data) {
		t.Fatal(len(inf), len(data))
	}
	must(mamlpp.LoadBytes(inf)).Close()
	for _, bad := range [][]byte{data[:len(data)/2], data[:7], []byte("not a model file at all")} {
		_, err := mamlpp.LoadBytes(bad)
		wantStatus(t, err, mamlpp.ErrFormat)
	}
	if _, err := mamlpp.LoadBytes(nil); !errors.Is(err, mamlpp.ErrFormat) && !errors.Is(err, mamlpp.ErrInvalidArgument) {
		t.Fatal(err)
	}
}

func TestErrors(t *testing.T) {
	bad := smallConfig()
	bad.NWay = 0
	_, err := mamlpp.NewModel(bad)
	wantStatus(t, err, mamlpp.ErrInvalidArgument)
	var me *mamlpp.Error
	if !errors.As(err, &me) || me.Message == "" || me.Status != mamlpp.StatusInvalidArgument ||
		!strings.HasPrefix(err.Error(), "MAML_E_INVALID_ARGUMENT: ") {
		t.Fatalf("%#v", err)
	}
	if errors.Is(err, mamlpp.ErrIO) {
		t.Fatal("sentinels must only match their own status")
	}

	_, err = mamlpp.Load(filepath.Join(t.TempDir(), "missing.maml"))
	wantStatus(t, err, mamlpp.ErrIO)
	if !strings.Contains(err.Error(), "MAML_E_IO") {
		t.Fatal(err)
	}

	m := trained(t, 0)
	b := batch(11, 1)
	sx, sy := support(b, 0)
	wrong := make([]int32, len(sy))
	for i := range sy {
		wrong[i] = sy[i] + nWay
	}
	_, err = m.Adapt(sx, wrong)
	wantStatus(t, err, mamlpp.ErrInvalidArgument)
	_, err = m.Adapt(sx[1:], sy)
	wantStatus(t, err, mamlpp.ErrInvalidArgument)
	if !strings.Contains(err.Error(), "supportX") {
		t.Fatal(err)
	}
	_, err = m.Adapt(nil, nil)
	wantStatus(t, err, mamlpp.ErrInvalidArgument)
	nan := append([]float32(nil), sx...)
	nan[3] = float32(math.NaN())
	_, err = m.Adapt(nan, sy)
	wantStatus(t, err, mamlpp.ErrNumerical)

	l := must(m.Adapt(sx, sy))
	defer l.Close()
	_, err = l.Predict(queryX(b, 0)[1:])
	wantStatus(t, err, mamlpp.ErrInvalidArgument)
	inf := append([]float32(nil), queryX(b, 0)...)
	inf[0] = float32(math.Inf(1))
	_, err = l.Predict(inf)
	wantStatus(t, err, mamlpp.ErrNumerical)
	wantStatus(t, m.Save("a\x00b"), mamlpp.ErrInvalidArgument)
	wantStatus(t, m.Save(filepath.Join(t.TempDir(), "no", "such", "x.maml")), mamlpp.ErrIO)

	for s := mamlpp.StatusDistributed; s < mamlpp.StatusOK; s++ {
		if !strings.HasPrefix(s.String(), "MAML_E_") {
			t.Fatal(s.String())
		}
	}
}

func TestFailedTrainingChangesNothing(t *testing.T) {
	m := trained(t, 1)
	before := must(m.Bytes())
	b := batch(12, 2)
	b.QueryX[5] = float32(math.NaN())
	_, err := m.MetaTrainStep(b)
	wantStatus(t, err, mamlpp.ErrNumerical)
	b.QueryX[5] = 0
	b.SupportY[0] = -1
	_, err = m.MetaTrainStep(b)
	wantStatus(t, err, mamlpp.ErrInvalidArgument)
	b.SupportY[0] = 0
	b.NumTasks = 3
	_, err = m.MetaTrainStep(b)
	wantStatus(t, err, mamlpp.ErrInvalidArgument)
	if s := must(m.Step()); s != 1 {
		t.Fatal(s)
	}
	if after := must(m.Bytes()); !bytes.Equal(after, before) {
		t.Fatal("a failed step changed the model")
	}
}

func TestInnerLRs(t *testing.T) {
	fresh := must(mamlpp.NewModel(smallConfig()))
	defer fresh.Close()
	r := must(fresh.InnerLRs())
	if len(r.Names) != 6 || r.NumSteps != 2 || len(r.Rates) != 12 {
		t.Fatalf("%+v", r)
	}
	found := false
	for i, n := range r.Names {
		found = found || n == "backbone.head.bias"
		for _, v := range r.Row(i) {
			if math.Abs(float64(v)-0.1) > 1e-6 {
				t.Fatal(v)
			}
		}
	}
	if !found {
		t.Fatal(r.Names)
	}
	learned := must(trained(t, 3).InnerLRs())
	changed := false
	for _, v := range learned.Rates {
		changed = changed || math.Abs(float64(v)-0.1) > 1e-6
	}
	if !changed || !reflect.DeepEqual(learned.Names, r.Names) {
		t.Fatal("LSLR must learn the rates", learned)
	}
}

func TestConcurrentAdaptAndPredict(t *testing.T) {
	m := trained(t, 2)
	b := batch(13, 4)
	serial := make([]mamlpp.Prediction, 4)
	for i := range serial {
		sx, sy := support(b, i)
		l := must(m.Adapt(sx, sy))
		serial[i] = must(l.Predict(queryX(b, i)))
		l.Close()
	}
	for rep := 0; rep < 3; rep++ {
		got := make([]mamlpp.Prediction, 4)
		errs := make([]error, 4)
		var wg sync.WaitGroup
		for i := 0; i < 4; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				sx, sy := support(b, i)
				l, err := m.Adapt(sx, sy)
				if err != nil {
					errs[i] = err
					return
				}
				defer l.Close()
				got[i], errs[i] = l.Predict(queryX(b, i))
			}(i)
		}
		wg.Wait()
		for i := range got {
			if errs[i] != nil || !reflect.DeepEqual(got[i], serial[i]) {
				t.Fatalf("goroutine %d: %v", i, errs[i])
			}
		}
	}
	sx, sy := support(b, 0)
	l := must(m.Adapt(sx, sy))
	defer l.Close()
	want := make([]mamlpp.Prediction, 4)
	for i := range want {
		want[i] = must(l.Predict(queryX(b, i)))
	}
	for rep := 0; rep < 3; rep++ {
		got := make([]mamlpp.Prediction, 4)
		errs := make([]error, 4)
		var wg sync.WaitGroup
		for i := 0; i < 4; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				got[i], errs[i] = l.Predict(queryX(b, i))
			}(i)
		}
		wg.Wait()
		for i := range got {
			if errs[i] != nil || !reflect.DeepEqual(got[i], want[i]) {
				t.Fatalf("goroutine %d: %v", i, errs[i])
			}
		}
	}
}

// Training concurrently with adaptation is serialised by the binding, never a data race.
func TestTrainingWhileAdapting(t *testing.T) {
	m := trained(t, 1)
	b := batch(14, 2)
	sx, sy := support(b, 0)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := 0; i < 3; i++ {
		wg.Add(2)
		go func(i int) {
			defer wg.Done()
			_, err := m.MetaTrainStep(batch(uint64(200+i), 2))
			errs <- err
		}(i)
		go func() {
			defer wg.Done()
			l, err := m.Adapt(sx, sy)
			if err == nil {
				_, err = l.Predict(queryX(b, 0))
				l.Close()
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if s := must(m.Step()); s != 4 {
		t.Fatal(s)
	}
}

// Error messages are thread-local in C; the binding reads them on the calling OS thread.
func TestErrorMessagesPerGoroutine(t *testing.T) {
	m := trained(t, 0)
	var wg sync.WaitGroup
	fail := make([]error, 16)
	for i := range fail {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if i%2 == 0 {
				_, fail[i] = mamlpp.Load("/nonexistent/missing.maml")
			} else {
				_, fail[i] = m.Adapt(make([]float32, ex), []int32{7})
			}
		}(i)
	}
	wg.Wait()
	for i, err := range fail {
		want := mamlpp.ErrIO
		if i%2 == 1 {
			want = mamlpp.ErrInvalidArgument
		}
		wantStatus(t, err, want)
		if err.(*mamlpp.Error).Message == "" {
			t.Fatal("empty message")
		}
	}
}

// Handles that are never closed are freed by finalizers, without crashing.
func TestFinalizers(t *testing.T) {
	b := batch(15, 1)
	sx, sy := support(b, 0)
	for i := 0; i < 3; i++ {
		m := must(mamlpp.NewModel(smallConfig()))
		must(m.Adapt(sx, sy))
	}
	runtime.GC()
	runtime.GC()
}

func TestMetadata(t *testing.T) {
	m := must(mamlpp.NewModel(smallConfig()))
	defer m.Close()
	if keys := must(m.MetadataKeys()); len(keys) != 0 {
		t.Fatal(keys)
	}
	const unicode = "Zo\u00eb \u2713 \U0001F600 tab\tnewline\n\"q\" \\"
	for k, v := range map[string]string{"mamlpp.preprocessing": `{"invert":true}`, "author": unicode, "empty": ""} {
		if err := m.SetMetadata(k, v); err != nil {
			t.Fatal(err)
		}
	}
	check := func(m *mamlpp.Model) {
		t.Helper()
		if keys := must(m.MetadataKeys()); !reflect.DeepEqual(keys, []string{"author", "empty", "mamlpp.preprocessing"}) {
			t.Fatal(keys)
		}
		if v, ok, err := m.Metadata("author"); err != nil || !ok || v != unicode {
			t.Fatal(v, ok, err)
		}
		if v, ok, err := m.Metadata("empty"); err != nil || !ok || v != "" {
			t.Fatal(v, ok, err)
		}
		if _, ok, err := m.Metadata("absent"); err != nil || ok {
			t.Fatal(ok, err)
		}
	}
	check(m)
	path := filepath.Join(t.TempDir(), "md.maml")
	if err := m.SaveInferenceOnly(path); err != nil {
		t.Fatal(err)
	}
	loaded := must(mamlpp.LoadOn(path, mamlpp.DeviceCPU, 0))
	defer loaded.Close()
	check(loaded)
	fromBytes := must(mamlpp.LoadBytesOn(must(m.Bytes()), mamlpp.DeviceCPU, 0))
	defer fromBytes.Close()
	check(fromBytes)

	for _, bad := range [][2]string{{"", "v"}, {"a b", "v"}, {"step", "v"}, {"libmamlpp.x", "v"}, {"author", "bell\a"}, {"author", "a\x00b"}} {
		wantStatus(t, m.SetMetadata(bad[0], bad[1]), mamlpp.ErrInvalidArgument)
	}
	_, _, err := m.Metadata("config")
	wantStatus(t, err, mamlpp.ErrInvalidArgument)
	check(m) // failed calls changed nothing

	if err := m.RemoveMetadata("empty"); err != nil {
		t.Fatal(err)
	}
	if err := m.RemoveMetadata("empty"); err != nil {
		t.Fatal(err)
	}
	if keys := must(m.MetadataKeys()); !reflect.DeepEqual(keys, []string{"author", "mamlpp.preprocessing"}) {
		t.Fatal(keys)
	}
}
