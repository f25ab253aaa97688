// adapt_predict loads a meta-initialisation, adapts it to a task's 5 labelled examples, and
// predicts the task's other examples.
//
//	go run . <model.maml> <tasks.bin> [expected.txt]
//
// tasks.bin is the fixture format of tests/fixtures/README.md (example_tasks.bin): a header, the
// support images and labels, the query images and their true labels. With expected.txt
// (example_expected.txt, what the C ABI predicted) the program also checks that this binding
// reproduces the C results, and exits with status 1 if not.
//
// cgo needs the library: CGO_CFLAGS=-I<include> CGO_LDFLAGS="-L<lib> -Wl,-rpath,<lib>".
package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	mamlpp "github.com/libmamlpp/mamlpp-go"
)

// task is one task: support images and labels to adapt to, query images and true labels.
type task struct {
	nWay, exampleLen int
	supportX         []float32
	supportY         []int32
	queryX           []float32
	queryY           []int32
}

func readTask(path string) (*task, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(data) < 36 || string(data[:8]) != "MAMLTASK" {
		return nil, fmt.Errorf("%s: not a MAMLTASK file", path)
	}
	var h struct{ Version, NWay, C, H, W, NSupport, NQuery int32 }
	r := bytes.NewReader(data[8:])
	if err := binary.Read(r, binary.LittleEndian, &h); err != nil {
		return nil, err
	}
	if h.Version != 1 {
		return nil, fmt.Errorf("%s: format version %d, expected 1", path, h.Version)
	}
	if h.NWay <= 0 || h.C <= 0 || h.H <= 0 || h.W <= 0 || h.NSupport <= 0 || h.NQuery <= 0 {
		return nil, fmt.Errorf("%s: bad header %+v", path, h)
	}
	t := &task{nWay: int(h.NWay), exampleLen: int(h.C) * int(h.H) * int(h.W)}
	t.supportX = make([]float32, int(h.NSupport)*t.exampleLen)
	t.supportY = make([]int32, h.NSupport)
	t.queryX = make([]float32, int(h.NQuery)*t.exampleLen)
	t.queryY = make([]int32, h.NQuery)
	for _, v := range []interface{}{t.supportX, t.supportY, t.queryX, t.queryY} {
		if err := binary.Read(r, binary.LittleEndian, v); err != nil {
			return nil, fmt.Errorf("%s: truncated (%v)", path, err)
		}
	}
	if r.Len() != 0 {
		return nil, fmt.Errorf("%s: %d trailing bytes", path, r.Len())
	}
	return t, nil
}

type expectedRow struct {
	label  int32
	logits []float32
}

// readExpected reads example_expected.txt: per query, true label, predicted label, logits.
func readExpected(path string) ([]expectedRow, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rows []expectedRow
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 3 {
			return nil, fmt.Errorf("%s: bad line %q", path, line)
		}
		label, err := strconv.Atoi(fields[2])
		if err != nil {
			return nil, err
		}
		row := expectedRow{label: int32(label)}
		for _, x := range fields[3:] {
			v, err := strconv.ParseFloat(x, 32)
			if err != nil {
				return nil, err
			}
			row.logits = append(row.logits, float32(v))
		}
		rows = append(rows, row)
	}
	return rows, s.Err()
}

func run(args []string) (bool, error) {
	t, err := readTask(args[1])
	if err != nil {
		return false, err
	}

	// Load the meta-initialisation (on a GPU if there is one) and adapt it to the support set.
	model, err := mamlpp.Load(args[0])
	if err != nil {
		return false, err
	}
	defer model.Close()
	cfg, err := model.Config()
	if err != nil {
		return false, err
	}
	step, err := model.Step()
	if err != nil {
		return false, err
	}
	device, _, err := model.Device()
	if err != nil {
		return false, err
	}
	devName := map[mamlpp.DeviceType]string{mamlpp.DeviceCPU: "CPU", mamlpp.DeviceCUDA: "CUDA"}[device]
	fmt.Printf("model %s (libmamlpp %s): %d-way, %dx%dx%d images, %d meta-train steps, %s\n",
		args[0], mamlpp.Version(), cfg.NWay, cfg.ImageChannels, cfg.ImageHeight, cfg.ImageWidth,
		step, devName)
	if t.nWay != model.NWay() || t.exampleLen != model.ExampleLen() {
		return false, errors.New("the task's image size or n_way does not match the model")
	}
	learner, err := model.Adapt(t.supportX, t.supportY)
	if err != nil {
		return false, err
	}
	defer learner.Close()
	fmt.Printf("adapted to %d labelled examples %v\n", len(t.supportY), t.supportY)

	// Predict the queries.
	pred, err := learner.Predict(t.queryX)
	if err != nil {
		return false, err
	}
	fmt.Println("query  true  predicted  logits")
	right := 0
	for i, label := range pred.Labels {
		if label == t.queryY[i] {
			right++
		}
		fmt.Printf("%5d  %4d  %9d ", i, t.queryY[i], label)
		for _, v := range pred.LogitsOf(i) {
			fmt.Printf(" %9.4f", v)
		}
		fmt.Println()
	}
	fmt.Printf("accuracy %d/%d\n", right, len(pred.Labels))

	// Optionally: the C ABI's own results for the same model and task.
	if len(args) < 3 {
		return true, nil
	}
	rows, err := readExpected(args[2])
	if err != nil {
		return false, err
	}
	ok := len(rows) == len(pred.Labels)
	for i := 0; i < len(rows) && i < len(pred.Labels); i++ {
		got := pred.LogitsOf(i)
		same := rows[i].label == pred.Labels[i] && len(rows[i].logits) == len(got)
		for k := 0; same && k < len(got); k++ {
			e := float64(rows[i].logits[k])
			// exact on one machine; a tolerance for other BLAS builds or a GPU
			same = math.Abs(e-float64(got[k])) <= 1e-4*math.Max(math.Abs(e), 1)
		}
		if !same {
			fmt.Fprintf(os.Stderr, "query %d: expected %d %v, got %v\n", i, rows[i].label, rows[i].logits, got)
			ok = false
		}
	}
	if ok {
		fmt.Println("matches", args[2])
	} else {
		fmt.Println("DIFFERS FROM", args[2])
	}
	return ok, nil
}

func main() {
	if len(os.Args) < 3 || len(os.Args) > 4 {
		fmt.Fprintf(os.Stderr, "usage: %s <model.maml> <tasks.bin> [expected.txt]\n", os.Args[0])
		os.Exit(2)
	}
	ok, err := run(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "adapt_predict:", err)
		os.Exit(1)
	}
	if !ok {
		os.Exit(1)
	}
}
