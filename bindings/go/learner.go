package mamlpp

/*
#include <mamlpp/mamlpp.h>
*/
import "C"

import (
	"runtime"
	"sync"
)

// Prediction holds labels and logits for a batch of examples.
type Prediction struct {
	Labels []int32   // one label in [0, NWay) per example (the argmax of its logits)
	Logits []float32 // row-major [example][class]
	NWay   int
}

// LogitsOf is the logits of example i.
func (p Prediction) LogitsOf(i int) []float32 { return p.Logits[i*p.NWay : (i+1)*p.NWay] }

// Learner is a model adapted to one task (maml_learner). It is independent of the Model it came
// from (which may be closed first). Predict may run from many goroutines at once. Close it when
// done (a finalizer frees it otherwise).
type Learner struct {
	mu         sync.RWMutex
	p          *C.maml_learner
	exampleLen int
	nWay       int
}

var errLearnerClosed = &Error{Status: StatusInvalidArgument, Message: "learner is closed"}

func wrapLearner(p *C.maml_learner, exampleLen int) (*Learner, error) {
	l := &Learner{p: p, exampleLen: exampleLen}
	runtime.SetFinalizer(l, (*Learner).Close)
	var n C.int32_t
	if err := call(func() C.maml_status { return C.maml_learner_n_way(p, &n) }); err != nil {
		l.Close()
		return nil, err
	}
	l.nWay = int(n)
	return l, nil
}

// Close frees the learner (maml_learner_free). Idempotent; waits for Predict calls in progress.
func (l *Learner) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.p != nil {
		C.maml_learner_free(l.p)
		l.p = nil
		runtime.SetFinalizer(l, nil)
	}
	return nil
}

func (l *Learner) predict(x []float32, withLabels, withLogits bool) (Prediction, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.p == nil {
		return Prediction{}, errLearnerClosed
	}
	if l.exampleLen == 0 || len(x)%l.exampleLen != 0 {
		return Prediction{}, invalid("x has %d floats, not a multiple of the example length %d "+
			"(C*H*W, or InputFeatures for an MLP)", len(x), l.exampleLen)
	}
	n, err := toInt32(len(x)/l.exampleLen, "n")
	if err != nil {
		return Prediction{}, err
	}
	p := Prediction{NWay: l.nWay}
	if withLabels {
		p.Labels = make([]int32, int(n))
	}
	if withLogits {
		p.Logits = make([]float32, int(n)*l.nWay)
	}
	err = call(func() C.maml_status {
		return C.maml_predict(l.p, fptr(x), n, fptr(p.Logits), iptr(p.Labels))
	})
	runtime.KeepAlive(x)
	if err != nil {
		return Prediction{}, err
	}
	return p, nil
}

// Predict classifies the examples in x (k*C*H*W float32, NCHW; k*InputFeatures for the MLP
// backbone) (maml_predict). A regression learner refuses it with ErrInvalidArgument: use
// PredictValues.
func (l *Learner) Predict(x []float32) (Prediction, error) { return l.predict(x, true, true) }

// PredictLabels is Predict without the logits.
func (l *Learner) PredictLabels(x []float32) ([]int32, error) {
	p, err := l.predict(x, true, false)
	return p.Labels, err
}

// PredictValues is what a regression learner (from Model.AdaptRegression) predicts for the
// examples in x: NWay() (= NOutputs) float32 per example, row-major [example][output]
// (maml_predict with labels NULL). On a classifier it gives the logits. Since 1.3.
func (l *Learner) PredictValues(x []float32) ([]float32, error) {
	p, err := l.predict(x, false, true)
	return p.Logits, err
}

// NWay is the width of a prediction row (maml_learner_n_way): the classes the learner predicts,
// or for a regression learner its NOutputs.
func (l *Learner) NWay() int { return l.nWay }

// ExampleLen is the float32 values of one example: C*H*W, or InputFeatures for the MLP backbone.
func (l *Learner) ExampleLen() int { return l.exampleLen }
