package models

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/qat-go/qat/data"
)

// TestConfigInitialWeightsKeys: an --init file must give every variable
// of the model and no other name; each mistake is an error naming the
// file and the keys.
func TestConfigInitialWeightsKeys(t *testing.T) {
	c, err := ParseConfig(strings.NewReader("inputs: 3\nlayers: [{name: a, units: 4}, {name: b, units: 2}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	all, err := c.InitialWeights()
	if err != nil || len(all) != 4 {
		t.Fatalf("initial weights: %v, %v", all, err)
	}
	dir := t.TempDir()
	without := func(names ...string) data.Weights {
		w := data.Weights{}
		for k, v := range all {
			w[k] = v
		}
		for _, n := range names {
			delete(w, n)
		}
		return w
	}
	with := func(extra ...string) data.Weights {
		w := without()
		for _, n := range extra {
			w[n] = data.Array{Shape: []int64{1}, Data: []float32{1}}
		}
		return w
	}
	for _, tc := range []struct {
		name string
		init data.Weights
		want string
	}{
		{"complete", all, ""},
		{"one missing", without("b/bias_fp"), "initial weights lack 1 of the model's 4 variables: b/bias_fp; give every variable (qat train writes initial_weights.npz in this form)"},
		{"only one given", without("a/weight_fp", "a/bias_fp", "b/weight_fp"), "initial weights lack 3 of the model's 4 variables: a/bias_fp, a/weight_fp, b/weight_fp;"},
		{"Keras names", data.Weights{"a/kernel": all["a/weight_fp"], "a/bias": all["a/bias_fp"]}, `initial weights name "a/bias", which the model does not have (nor "a/kernel"); its variables are a/bias_fp, a/weight_fp, b/bias_fp, b/weight_fp`},
		{"a typo besides", with("b/weigth_fp"), `initial weights name "b/weigth_fp", which the model does not have; its variables are`},
		{"wrong shape", with("a/bias_fp"), "initial value for a/bias_fp has shape [1], the model needs [4]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.Init = filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".npz")
			if err := data.WriteNPZ(c.Init, tc.init); err != nil {
				t.Fatal(err)
			}
			w, err := c.InitialWeights()
			if tc.want == "" {
				if err != nil || len(w) != 4 {
					t.Fatalf("got %d weights, %v", len(w), err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), c.Init+": ") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v\nwant an error starting %q and containing %q", err, c.Init+": ", tc.want)
			}
		})
	}
}
