package mamlpp_test

import (
	"math"
	"reflect"
	"strings"
	"testing"

	mamlpp "github.com/libmamlpp/mamlpp-go"
)

// The 1.3 additions: the MLP backbone and regression (Config fields, Tasks targets,
// AdaptRegression, PredictValues), against the linked libmamlpp (CPU, tiny models).

const (
	regK = 5 // support examples per task
	regQ = 6 // query examples per task
)

// mlpConfig is a tiny MLP regression model: 1 input feature, hidden layers 8 and 8, 1 output.
func mlpConfig() mamlpp.Config {
	c := mamlpp.DefaultConfig()
	c.Backbone = mamlpp.BackboneMLP
	c.InputFeatures = 1
	c.HiddenLayers = 2
	c.HiddenSizes = [8]int32{8, 8}
	c.Activation = mamlpp.ActivationReLU
	c.TaskKind = mamlpp.TaskRegression
	c.NOutputs = 1
	c.BatchNorm = false
	c.InnerSteps, c.EvalInnerSteps = 1, 2
	c.DeviceType = mamlpp.DeviceCPU
	c.NumThreads = 1
	c.TaskBatching = mamlpp.TasksLoop
	c.Seed = 11
	return c
}

// sinusoids draws numTasks tasks of size points: inputs in [-5, 5] (features per example, the
// first one used), targets A sin(x + phase) + k for output k.
func sinusoids(r *rng, numTasks, size, features, outputs int) (x, t []float32) {
	for i := 0; i < numTasks; i++ {
		amp := 0.1 + 4.9*r.float()
		phase := math.Pi * r.float()
		for j := 0; j < size; j++ {
			first := len(x)
			for f := 0; f < features; f++ {
				x = append(x, 10*r.float()-5)
			}
			for k := 0; k < outputs; k++ {
				t = append(t, amp*float32(math.Sin(float64(x[first]+phase)))+float32(k))
			}
		}
	}
	return x, t
}

func TestNewConfigFieldsDefaults(t *testing.T) {
	c := mamlpp.DefaultConfig()
	if c.Backbone != mamlpp.BackboneConv || c.InputFeatures != 1 || c.HiddenLayers != 2 ||
		c.HiddenSizes != [8]int32{40, 40} || c.Activation != mamlpp.ActivationLeakyReLU ||
		c.TaskKind != mamlpp.TaskClassification || c.NOutputs != 1 || !c.BatchNorm {
		t.Fatalf("1.3 defaults: %+v", c)
	}
	if mamlpp.MaxHiddenLayers != 8 || len(c.HiddenSizes) != mamlpp.MaxHiddenLayers {
		t.Fatal("MaxHiddenLayers", mamlpp.MaxHiddenLayers)
	}
	if c.ExampleLen() != 28*28 || c.OutputLen() != 5 {
		t.Fatal(c.ExampleLen(), c.OutputLen())
	}
	if m := mlpConfig(); m.ExampleLen() != 1 || m.OutputLen() != 1 {
		t.Fatal(m.ExampleLen(), m.OutputLen())
	}
}

func TestNewConfigFieldsRoundTrip(t *testing.T) {
	// Every 1.3 field lies past the 1.2 struct: it comes back only if the whole struct reaches
	// maml_create and returns from maml_get_config.
	cfg := mlpConfig()
	cfg.InputFeatures, cfg.HiddenLayers, cfg.HiddenSizes = 3, 3, [8]int32{8, 6, 4}
	cfg.NOutputs, cfg.BatchNorm = 2, true
	m := must(mamlpp.NewModel(cfg))
	defer m.Close()
	if got := must(m.Config()); !reflect.DeepEqual(got, cfg) {
		t.Fatalf("config:\n got  %+v\n want %+v", got, cfg)
	}
	if !m.IsRegression() || m.ExampleLen() != 3 || m.NOutputs() != 2 {
		t.Fatal(m.IsRegression(), m.ExampleLen(), m.NOutputs())
	}
	conv := smallConfig()
	conv.Activation, conv.BatchNorm = mamlpp.ActivationReLU, false
	c := must(mamlpp.NewModel(conv))
	defer c.Close()
	if got := must(c.Config()); !reflect.DeepEqual(got, conv) || c.IsRegression() || c.ExampleLen() != ex {
		t.Fatalf("conv config: %+v", got)
	}
	bad := mlpConfig()
	bad.HiddenLayers = 3 // a hidden layer of 0 units
	_, err := mamlpp.NewModel(bad)
	wantStatus(t, err, mamlpp.ErrInvalidArgument)
	if !strings.Contains(err.Error(), "hidden_sizes") {
		t.Fatal(err)
	}
}

func TestRegressionTrainAdaptPredict(t *testing.T) {
	r := newRng(1)
	m := must(mamlpp.NewModel(mlpConfig()))
	defer m.Close()
	sx, st := sinusoids(r, 3, regK, 1, 1)
	qx, qt := sinusoids(r, 3, regQ, 1, 1)
	tasks := mamlpp.Tasks{NumTasks: 3, SupportSize: regK, QuerySize: regQ,
		SupportX: sx, SupportT: st, QueryX: qx, QueryT: qt}
	for step := int64(1); step <= 3; step++ {
		res := must(m.MetaTrainStep(tasks))
		if res.Step != step || math.IsNaN(float64(res.Loss)) || !math.IsNaN(float64(res.Accuracy)) {
			t.Fatalf("step %d: %+v", step, res)
		}
	}
	if e := must(m.Evaluate(tasks)); math.IsNaN(float64(e.Loss)) || !math.IsNaN(float64(e.Accuracy)) {
		t.Fatalf("evaluate: %+v", e)
	}
	l := must(m.AdaptRegression(sx[:regK], st[:regK]))
	defer l.Close()
	if l.NWay() != 1 {
		t.Fatal("row width", l.NWay())
	}
	values := must(l.PredictValues(qx[:regQ]))
	if len(values) != regQ {
		t.Fatal(len(values))
	}
	for _, v := range values {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatal(values)
		}
	}
	// No labels for a regression learner: Predict is the library's refusal.
	_, err := l.Predict(qx[:regQ])
	wantStatus(t, err, mamlpp.ErrInvalidArgument)
	if !strings.Contains(err.Error(), "labels") {
		t.Fatal(err)
	}
	_, err = m.AdaptRegression(sx[:regK-1], st[:regK]) // lengths checked before the call
	wantStatus(t, err, mamlpp.ErrInvalidArgument)

	// AdaptTasks with targets gives the learners AdaptRegression gives, task by task.
	many := must(m.AdaptTasks(mamlpp.Tasks{NumTasks: 3, SupportSize: regK, SupportX: sx, SupportT: st}))
	for i, a := range many {
		b := must(m.AdaptRegression(sx[i*regK:(i+1)*regK], st[i*regK:(i+1)*regK]))
		va, vb := must(a.PredictValues(qx)), must(b.PredictValues(qx))
		for j := range va {
			if math.Abs(float64(va[j]-vb[j])) > 1e-5 {
				t.Fatalf("task %d value %d: %v vs %v", i, j, va[j], vb[j])
			}
		}
		a.Close()
		b.Close()
	}

	// Saved and loaded back, the model predicts identically.
	back := must(mamlpp.LoadBytesOn(must(m.Bytes()), mamlpp.DeviceCPU, 0))
	defer back.Close()
	l2 := must(back.AdaptRegression(sx[:regK], st[:regK]))
	defer l2.Close()
	if got := must(l2.PredictValues(qx[:regQ])); !reflect.DeepEqual(got, values) {
		t.Fatalf("reloaded: %v vs %v", got, values)
	}
}

func TestRegressionSeveralOutputs(t *testing.T) {
	r := newRng(2)
	cfg := mlpConfig()
	cfg.InputFeatures, cfg.NOutputs = 2, 3
	m := must(mamlpp.NewModel(cfg))
	defer m.Close()
	sx, st := sinusoids(r, 2, regK, 2, 3)
	qx, qt := sinusoids(r, 2, regQ, 2, 3)
	must(m.MetaTrainStep(mamlpp.Tasks{NumTasks: 2, SupportSize: regK, QuerySize: regQ,
		SupportX: sx, SupportT: st, QueryX: qx, QueryT: qt}))
	l := must(m.AdaptRegression(sx[:regK*2], st[:regK*3]))
	defer l.Close()
	if v := must(l.PredictValues(qx[:regQ*2])); len(v) != regQ*3 || l.NWay() != 3 {
		t.Fatal(len(v), l.NWay())
	}
	_, err := m.AdaptRegression(sx[:regK*2], st[:regK*3-1])
	wantStatus(t, err, mamlpp.ErrInvalidArgument)
	_, err = m.MetaTrainStep(mamlpp.Tasks{NumTasks: 2, SupportSize: regK, QuerySize: regQ,
		SupportX: sx, SupportT: st[1:], QueryX: qx, QueryT: qt})
	wantStatus(t, err, mamlpp.ErrInvalidArgument)
	if !strings.Contains(err.Error(), "SupportT") {
		t.Fatal(err)
	}
}

func TestRegressionRefusesLabels(t *testing.T) {
	r := newRng(3)
	m := must(mamlpp.NewModel(mlpConfig()))
	defer m.Close()
	sx, _ := sinusoids(r, 1, regK, 1, 1)
	qx, _ := sinusoids(r, 1, regQ, 1, 1)
	sy, qy := make([]int32, regK), make([]int32, regQ)
	_, err := m.MetaTrainStep(mamlpp.Tasks{NumTasks: 1, SupportSize: regK, QuerySize: regQ,
		SupportX: sx, SupportY: sy, QueryX: qx, QueryY: qy})
	wantStatus(t, err, mamlpp.ErrInvalidArgument)
	if !strings.Contains(err.Error(), "regression") {
		t.Fatal(err)
	}
	_, err = m.Adapt(sx, sy)
	wantStatus(t, err, mamlpp.ErrInvalidArgument)
	if !strings.Contains(err.Error(), "regression") {
		t.Fatal(err)
	}
	if must(m.Step()) != 0 {
		t.Fatal("a refused step changed the model")
	}
}

func TestClassifierRefusesTargets(t *testing.T) {
	m := must(mamlpp.NewModel(smallConfig()))
	defer m.Close()
	b := batch(4, 1)
	st, qt := make([]float32, b.SupportSize), make([]float32, b.QuerySize)
	_, err := m.MetaTrainStep(mamlpp.Tasks{NumTasks: 1, SupportSize: b.SupportSize,
		QuerySize: b.QuerySize, SupportX: b.SupportX, SupportT: st, QueryX: b.QueryX, QueryT: qt})
	wantStatus(t, err, mamlpp.ErrInvalidArgument)
	if !strings.Contains(err.Error(), "classifier") {
		t.Fatal(err)
	}
	_, err = m.AdaptRegression(b.SupportX, st)
	wantStatus(t, err, mamlpp.ErrInvalidArgument)
	if !strings.Contains(err.Error(), "classifier") {
		t.Fatal(err)
	}
	if must(m.Step()) != 0 {
		t.Fatal("a refused step changed the model")
	}
}
