package mamlpp_test

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	mamlpp "github.com/libmamlpp/mamlpp-go"
)

// cgo compiles the package against mamlpp.h itself, so C struct sizes and offsets cannot drift
// from the header (a renamed or removed field is a compile error). What cgo cannot catch is a
// field the header adds but the Go Config/Tasks/Metrics do not expose; this test compares the
// field lists with the C layout JSON that CTest passes in MAMLPP_LAYOUT_JSON (skipped when
// unset), and an array field's length with the Go array's.

type layout struct {
	Format     int `json:"format"`
	ABIVersion int `json:"abi_version"`
	Structs    map[string]struct {
		Size   int `json:"size"`
		Fields []struct {
			Name string `json:"name"`
			Type string `json:"type"`
			Size int    `json:"size"`
		} `json:"fields"`
	} `json:"structs"`
}

// goName maps a C field name to its Go field name: CamelCase, with these acronyms.
func goName(c string) string {
	acronyms := map[string]string{"lr": "LR", "bn": "BN", "msl": "MSL", "n": "N", "lslr": "LSLR"}
	var b strings.Builder
	for _, part := range strings.Split(c, "_") {
		if a, ok := acronyms[part]; ok {
			b.WriteString(a)
		} else if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}

func TestGoNames(t *testing.T) {
	for c, g := range map[string]string{"n_way": "NWay", "learn_inner_lr": "LearnInnerLR",
		"per_step_bn": "PerStepBN", "msl_epochs": "MSLEpochs", "meta_lr_min": "MetaLRMin",
		"grad_clip_lslr": "GradClipLSLR", "adapt_last_layers": "AdaptLastLayers",
		"n_outputs": "NOutputs", "hidden_sizes": "HiddenSizes", "support_t": "SupportT"} {
		if goName(c) != g {
			t.Fatal(c, goName(c), g)
		}
	}
}

func TestStructsCoverTheHeader(t *testing.T) {
	path := os.Getenv("MAMLPP_LAYOUT_JSON")
	if path == "" {
		t.Skip("MAMLPP_LAYOUT_JSON unset (CTest sets it)")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (build the mamlpp_layout target first)", err)
	}
	var l layout
	if err := json.Unmarshal(data, &l); err != nil || l.Format != 1 {
		t.Fatalf("bad layout JSON: %v", err)
	}
	if l.ABIVersion != mamlpp.ABIVersion {
		t.Fatalf("header ABI %d vs package ABI %d", l.ABIVersion, mamlpp.ABIVersion)
	}
	for cName, goType := range map[string]reflect.Type{
		"maml_config":  reflect.TypeOf(mamlpp.Config{}),
		"maml_tasks":   reflect.TypeOf(mamlpp.Tasks{}),
		"maml_metrics": reflect.TypeOf(mamlpp.Metrics{}),
	} {
		s, ok := l.Structs[cName]
		if !ok {
			t.Fatalf("%s missing from the layout JSON", cName)
		}
		seen := map[string]bool{}
		for _, f := range s.Fields {
			if f.Name == "struct_size" || strings.HasPrefix(f.Name, "reserved") {
				continue // the binding's own business, not the user's
			}
			g := goName(f.Name)
			seen[g] = true
			gf, ok := goType.FieldByName(g)
			if !ok {
				t.Errorf("%s.%s has no Go field %s.%s", cName, f.Name, goType.Name(), g)
				continue
			}
			// An array field (int32_t[8]) must be a Go array of as many elements of its size.
			if i := strings.Index(f.Type, "["); i >= 0 {
				var n int
				fmt.Sscanf(f.Type[i:], "[%d]", &n)
				if gf.Type.Kind() != reflect.Array || gf.Type.Len() != n ||
					int(gf.Type.Size()) != f.Size {
					t.Errorf("%s.%s is %s (%d bytes); Go %s.%s is %s", cName, f.Name, f.Type,
						f.Size, goType.Name(), g, gf.Type)
				}
			}
		}
		for i := 0; i < goType.NumField(); i++ {
			if !seen[goType.Field(i).Name] {
				t.Errorf("%s.%s is not a field of %s", goType.Name(), goType.Field(i).Name, cName)
			}
		}
	}
}
