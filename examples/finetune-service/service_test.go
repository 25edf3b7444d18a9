package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/internal/runtest"
	"github.com/qat-go/qat/internal/testutil"
	"github.com/qat-go/qat/loop"
	"github.com/qat-go/qat/savedmodel"
	"github.com/qat-go/qat/tfgraph"
)

// TestFinetuneService starts the service on a trained run (exported as
// version 1), posts data to fine-tune 5 steps, and checks: the job's
// weights are a plain loop.Trainer's on the same data bit for bit, the
// job exports version 2 and the server serves it (its REST predictions are
// the exported SavedModel's bit for bit, and differ from version 1's); a
// second job while one runs is refused; bad posts are errors; cancelling
// the service's context stops a long job without exporting anything.
func TestFinetuneService(t *testing.T) {
	dir := t.TempDir()
	run, base := filepath.Join(dir, "run"), filepath.Join(dir, "models", "m")
	m, _, err := runtest.Write(run, runtest.SmallCNN)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	svc, err := newService(ctx, run, base, "m")
	if err != nil {
		t.Fatal(err)
	}
	defer svc.srv.Close()
	hs := httptest.NewServer(svc.handler())
	defer hs.Close()

	ds := runtest.Data(64, m.Input, m.Classes(), 9)
	var npz bytes.Buffer
	if err := data.EncodeNPZ(&npz, map[string]data.Array{"x": ds.X, "y": ds.Y}); err != nil {
		t.Fatal(err)
	}
	postJob := func(query string, body []byte) (int, map[string]any) {
		res, err := http.Post(hs.URL+"/finetune"+query, "application/octet-stream", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out map[string]any
		json.NewDecoder(res.Body).Decode(&out)
		return res.StatusCode, out
	}
	jobState := func() job {
		res, err := http.Get(hs.URL + "/finetune")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var j job
		json.NewDecoder(res.Body).Decode(&j)
		return j
	}
	if code, out := postJob("", npz.Bytes()); code != 400 || !strings.Contains(fmt.Sprint(out["error"]), "steps") {
		t.Errorf("no steps: %d %v", code, out)
	}
	if code, out := postJob("?steps=5", []byte("not an npz")); code != 400 {
		t.Errorf("not an npz: %d %v", code, out)
	}
	if code, out := postJob("?steps=5", npz.Bytes()); code != 202 {
		t.Fatalf("start: %d %v", code, out)
	}
	var j job
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(20 * time.Millisecond) {
		if j = jobState(); j.State != "running" || time.Now().After(deadline) {
			break
		}
	}
	if j.State != "exported" || j.Version != 2 || j.Done != 5 {
		t.Fatalf("job %+v, want exported as version 2 after 5 steps", j)
	}
	if got := fmt.Sprint(svc.srv.Versions("m")); got != "[2]" {
		t.Errorf("served versions %s, want [2]", got)
	}

	// The same 5 steps with a plain trainer.
	init, err := data.ReadNPZ(filepath.Join(run, "weights.npz"))
	if err != nil {
		t.Fatal(err)
	}
	lc := loop.DefaultConfig()
	if lc.Optimizer, err = loop.NewOptimizer(svc.cfg.Optimizer); err != nil {
		t.Fatal(err)
	}
	lc.Seed, lc.DataSeed, lc.BatchSize = svc.cfg.Seed, svc.cfg.Seed, svc.cfg.BatchSize
	lc.Session = tfgraph.SessionConfig{IntraOpThreads: 1, InterOpThreads: tfgraph.InlineOps, Numerics: tfgraph.GraphNumerics}
	tr, err := loop.NewTrainer(m, ds, init, lc)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if err := tr.Run(context.Background(), 5, nil); err != nil {
		t.Fatal(err)
	}
	want, err := tr.Weights()
	if err != nil {
		t.Fatal(err)
	}
	svc.mu.Lock()
	got := svc.weights
	svc.mu.Unlock()
	for k, w := range want {
		if !testutil.SameBits(got[k].Data, w.Data) {
			t.Errorf("weight %s differs from a plain trainer's", k)
		}
	}

	x, err := ds.Slice(0, 3)
	if err != nil {
		t.Fatal(err)
	}
	rows := make([]any, 3)
	for i := range rows {
		rows[i] = nestRow(x.X.Data[i*64:(i+1)*64], m.Input)
	}
	body, _ := json.Marshal(map[string]any{"instances": rows})
	res, err := http.Post(hs.URL+"/v1/models/m:predict", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var pred struct{ Predictions [][]json.Number }
	dec := json.NewDecoder(res.Body)
	dec.UseNumber()
	if err := dec.Decode(&pred); err != nil || res.StatusCode != 200 {
		t.Fatalf("predict: %d %v", res.StatusCode, err)
	}
	res.Body.Close()
	var served []float32
	for _, r := range pred.Predictions {
		for _, v := range r {
			f, _ := strconv.ParseFloat(string(v), 32)
			served = append(served, float32(f))
		}
	}
	v1, v2 := predictDir(t, filepath.Join(base, "1"), x.X), predictDir(t, filepath.Join(base, "2"), x.X)
	if !testutil.SameBits(served, v2) || testutil.SameBits(v1, v2) {
		t.Errorf("served %v\nversion 2 %v (want equal bit for bit)\nversion 1 %v (want different)", served, v2, v1)
	}

	if code, out := postJob("?steps=1000000", npz.Bytes()); code != 202 {
		t.Fatalf("long job: %d %v", code, out)
	}
	if code, out := postJob("?steps=5", npz.Bytes()); code != 409 {
		t.Errorf("a second job while one runs: %d %v", code, out)
	}
	cancel()
	svc.wait()
	if j := jobState(); j.State != "cancelled" || j.Done >= 1000000 {
		t.Errorf("cancelled job: %+v", j)
	}
	if n, err := svc.newest(); err != nil || n != 2 {
		t.Errorf("newest version %d (%v) after the cancelled job, want 2", n, err)
	}
}

func nestRow(v []float32, shape []int64) any {
	if len(shape) == 1 {
		return v
	}
	stride := len(v) / int(shape[0])
	out := make([]any, shape[0])
	for i := range out {
		out[i] = nestRow(v[i*stride:(i+1)*stride], shape[1:])
	}
	return out
}

func predictDir(t *testing.T, dir string, x data.Array) []float32 {
	t.Helper()
	sm, err := savedmodel.Load(dir, tfgraph.SessionConfig{IntraOpThreads: 1, InterOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer sm.Close()
	y, err := sm.PredictBatches(x, int(x.Shape[0]))
	if err != nil {
		t.Fatal(err)
	}
	return y.Data
}
