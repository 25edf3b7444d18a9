package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/qat-go/qat/data"
)

// TestServeBinary trains the article's Example 1, exports it with
// `qat export --out BASE/1` (BASE not made beforehand), runs the built
// `qat serve` with TF Serving's flags and asks it over REST: its
// predictions are `qat predict`'s logits bit for bit. SIGTERM then stops
// it after the requests in flight, with exit code 143.
func TestServeBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the qat binary")
	}
	bin := buildQat(t)
	dir := t.TempDir()
	ctx := context.Background()
	run, base := filepath.Join(dir, "run"), filepath.Join(dir, "models", "ex1")
	if code, _, stderr := qat(t, ctx, "train", "--example", "1", "--steps", "20", "--out", run); code != 0 {
		t.Fatalf("train: %s", stderr)
	}
	if code, _, stderr := qat(t, ctx, "export", "--from", run, "--example", "1", "--out", filepath.Join(base, "1")); code != 0 {
		t.Fatalf("export: %s", stderr)
	}
	x := data.Array{Shape: []int64{3, 10}, Data: make([]float32, 30)}
	for i := range x.Data {
		x.Data[i] = float32(math.Sin(float64(i)*0.7)) * 1.3
	}
	xPath, predPath := filepath.Join(dir, "x.npz"), filepath.Join(dir, "pred.npz")
	if err := data.WriteNPZ(xPath, map[string]data.Array{"x": x}); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := qat(t, ctx, "predict", "--model", filepath.Join(base, "1"), "--data", xPath, "--out", predPath); code != 0 {
		t.Fatalf("predict: %s", stderr)
	}
	pred, err := data.ReadNPZ(predPath)
	if err != nil {
		t.Fatal(err)
	}
	want := pred["logits"]

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	restPort := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "serve", "--model_name", "ex1", "--model_base_path", base, "--port", "0",
		"--rest_api_port", strconv.Itoa(restPort), "--file_system_poll_wait_seconds", "1", "--threads", "1")
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var seen bytes.Buffer
	sc := bufio.NewScanner(pipe)
	for sc.Scan() {
		seen.WriteString(sc.Text() + "\n")
		if strings.HasPrefix(sc.Text(), "serving gRPC on") {
			break
		}
	}
	if !strings.Contains(seen.String(), fmt.Sprintf(":%d", restPort)) {
		t.Fatalf("qat serve did not start:\n%s", seen.String())
	}
	copied := make(chan struct{})
	go func() { io.Copy(&seen, pipe); close(copied) }()

	rows := make([][]float32, 3)
	for i := range rows {
		rows[i] = x.Data[i*10 : (i+1)*10]
	}
	body, _ := json.Marshal(map[string]any{"instances": rows})
	res, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/v1/models/ex1:predict", restPort), "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var out struct{ Predictions [][]json.Number }
	dec := json.NewDecoder(res.Body)
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil || res.StatusCode != 200 {
		t.Fatalf("status %d: %v", res.StatusCode, err)
	}
	res.Body.Close()
	var got []float32
	for _, r := range out.Predictions {
		for _, v := range r {
			f, err := strconv.ParseFloat(string(v), 32)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, float32(f))
		}
	}
	if len(got) != len(want.Data) {
		t.Fatalf("predictions %v, want %v", got, want.Data)
	}
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(want.Data[i]) {
			t.Fatalf("predictions %v\nwant qat predict's %v (bit for bit)", got, want.Data)
		}
	}

	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-copied
		t.Fatalf("qat serve did not stop after SIGTERM:\n%s", seen.String())
	}
	<-copied
	if code := cmd.ProcessState.ExitCode(); code != 143 {
		t.Errorf("exit code %d, want 143; stderr:\n%s", code, seen.String())
	}
}

// TestServeFlagErrors: flags that cannot work are one-line errors before
// anything listens.
func TestServeFlagErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "--model_base_path (or --model_config_file) is required"},
		{[]string{"--model_base_path", dir, "--model_config_file", "x.config"}, "not both"},
		{[]string{"--model_base_path", dir, "--file_system_poll_wait_seconds", "0"}, "at least 1"},
		{[]string{"--model_base_path", dir, "--batching_parameters_file", "b.config"}, "needs --enable_batching"},
		{[]string{"--model_base_path", dir, "--enable_batching", "--batching_parameters_file", filepath.Join(dir, "none")}, "batching parameters"},
		{[]string{"--model_config_file", filepath.Join(dir, "none")}, "model config"},
		{[]string{"--model_base_path", filepath.Join(dir, "none")}, "model default"},
		{[]string{"--model_base_path", dir, "--rest_api_port", "-1"}, "--rest_api_port is -1"},
	} {
		code, stdout, stderr := qat(t, context.Background(), append([]string{"serve", "--port", "0"}, c.args...)...)
		if code != 1 || stdout != "" || !strings.Contains(stderr, c.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%q: exit %d, stderr %q; want 1 and one line with %q", c.args, code, stderr, c.want)
		}
	}
}

// TestExportVersionFolder: qat export --out BASE/N makes a missing BASE,
// and a failed export removes the folders it made.
func TestExportVersionFolder(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	run := filepath.Join(dir, "run")
	if code, _, stderr := qat(t, ctx, "train", "--example", "1", "--steps", "3", "--out", run); code != 0 {
		t.Fatalf("train: %s", stderr)
	}
	// Example 3's layers do not match example 1's weights.
	if code, _, _ := qat(t, ctx, "export", "--from", run, "--example", "3", "--out", filepath.Join(dir, "models", "m", "1")); code != 1 {
		t.Errorf("export of the wrong model: exit %d, want 1", code)
	}
	if _, err := os.Stat(filepath.Join(dir, "models")); !os.IsNotExist(err) {
		t.Errorf("a failed export left %s/models behind (%v)", dir, err)
	}
	if code, _, stderr := qat(t, ctx, "export", "--from", run, "--example", "1", "--out", filepath.Join(dir, "models", "m", "1")); code != 0 {
		t.Fatalf("export: %s", stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "models", "m", "1", "saved_model.pb")); err != nil {
		t.Error(err)
	}
}
