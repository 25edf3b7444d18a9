package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/loop"
	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/savedmodel"
	"github.com/qat-go/qat/serve"
	"github.com/qat-go/qat/tfgraph"
)

// maxUpload limits a posted .npz.
const maxUpload = 256 << 20

// job is a fine-tuning job's progress, as GET /finetune shows it.
type job struct {
	State   string  `json:"state"` // running, exported, failed or cancelled
	Done    int     `json:"done"`
	Steps   int     `json:"steps"`
	Loss    float32 `json:"loss"`
	Version int64   `json:"version,omitempty"`
	Error   string  `json:"error,omitempty"`
}

// service serves a model's versions and fine-tunes it on request.
type service struct {
	ctx        context.Context
	cfg        *models.Config
	model      models.Model
	base, name string
	srv        *serve.Server

	mu      sync.Mutex
	job     *job
	weights data.Weights // where the next job starts
	running sync.WaitGroup
}

func newService(ctx context.Context, run, base, name string) (*service, error) {
	cfg, err := models.LoadConfig(filepath.Join(run, "config.yaml"))
	if err != nil {
		return nil, err
	}
	m, err := cfg.Model()
	if err != nil {
		return nil, err
	}
	w, err := data.ReadNPZ(filepath.Join(run, "weights.npz"))
	if err != nil {
		return nil, err
	}
	s := &service{ctx: ctx, cfg: cfg, model: m, base: base, name: name, weights: w}
	if n, err := s.newest(); err != nil {
		return nil, err
	} else if n == 0 {
		r, err := data.ReadNPZ(filepath.Join(run, "ranges.npz"))
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(base, 0o755); err != nil {
			return nil, err
		}
		if err := savedmodel.Export(filepath.Join(base, "1"), m, w, r); err != nil {
			return nil, err
		}
	}
	if s.srv, err = serve.New([]serve.ModelConfig{{Name: name, BasePath: base}}, serve.Options{}); err != nil {
		return nil, err
	}
	return s, nil
}

// newest is the highest version number in the base path (0: none).
func (s *service) newest() (int64, error) {
	entries, err := os.ReadDir(s.base)
	if os.IsNotExist(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	var n int64
	for _, e := range entries {
		if k, err := strconv.ParseInt(e.Name(), 10, 64); err == nil && e.IsDir() && strconv.FormatInt(k, 10) == e.Name() {
			n = max(n, k)
		}
	}
	return n, nil
}

// handler is TF Serving's REST API and /metrics, plus /finetune.
func (s *service) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", s.srv.Handler())
	mux.HandleFunc("POST /finetune", s.start)
	mux.HandleFunc("GET /finetune", s.status)
	return mux
}

func reply(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func (s *service) status(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.job == nil {
		reply(w, http.StatusNotFound, map[string]string{"error": "no fine-tuning job yet"})
		return
	}
	reply(w, http.StatusOK, *s.job)
}

// start reads the posted .npz (x and y) and starts a job of ?steps=N.
func (s *service) start(w http.ResponseWriter, r *http.Request) {
	steps, err := strconv.Atoi(r.URL.Query().Get("steps"))
	if err != nil || steps < 1 {
		reply(w, http.StatusBadRequest, map[string]string{"error": "?steps=N (N >= 1) is required"})
		return
	}
	ds, err := readData(w, r)
	if err != nil {
		reply(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.job != nil && s.job.State == "running" {
		reply(w, http.StatusConflict, map[string]string{"error": "a job is running"})
		return
	}
	s.job = &job{State: "running", Steps: steps}
	s.running.Add(1)
	go s.finetune(s.job, ds, s.weights)
	reply(w, http.StatusAccepted, *s.job)
}

// readData reads a posted .npz with x and y.
func readData(w http.ResponseWriter, r *http.Request) (data.Dataset, error) {
	f, err := os.CreateTemp("", "finetune-*.npz")
	if err != nil {
		return data.Dataset{}, err
	}
	defer os.Remove(f.Name())
	_, err = io.Copy(f, http.MaxBytesReader(w, r.Body, maxUpload))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return data.Dataset{}, fmt.Errorf("reading the upload: %w", err)
	}
	arrays, err := data.ReadNPZ(f.Name())
	if err != nil {
		return data.Dataset{}, err
	}
	x, okX := arrays["x"]
	y, okY := arrays["y"]
	if !okX || !okY {
		return data.Dataset{}, fmt.Errorf("the .npz needs arrays x and y")
	}
	return data.Dataset{X: x, Y: y}, nil
}

// finetune trains from init on ds, then exports the next version and has
// the server load it at once. The service's context cancels it.
func (s *service) finetune(j *job, ds data.Dataset, init data.Weights) {
	defer s.running.Done()
	w, r, err := s.train(j, ds, init)
	var n int64
	if err == nil {
		if n, err = s.newest(); err == nil {
			n++
			err = savedmodel.Export(filepath.Join(s.base, strconv.FormatInt(n, 10)), s.model, w, r)
		}
		if err == nil {
			err = s.srv.Poll()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case err == nil:
		j.State, j.Version, s.weights = "exported", n, w
	case s.ctx.Err() != nil:
		j.State = "cancelled"
	default:
		j.State, j.Error = "failed", err.Error()
	}
}

func (s *service) train(j *job, ds data.Dataset, init data.Weights) (w, r data.Weights, err error) {
	lc := loop.DefaultConfig()
	if lc.Optimizer, err = loop.NewOptimizer(s.cfg.Optimizer); err != nil {
		return nil, nil, err
	}
	lc.Seed, lc.DataSeed, lc.BatchSize = s.cfg.Seed, s.cfg.Seed, s.cfg.BatchSize
	lc.Session = tfgraph.SessionConfig{IntraOpThreads: 1, InterOpThreads: tfgraph.InlineOps, Numerics: tfgraph.GraphNumerics}
	tr, err := loop.NewTrainer(s.model, ds, init, lc)
	if err != nil {
		return nil, nil, err
	}
	defer tr.Close()
	err = tr.Run(s.ctx, j.Steps, func(sr loop.StepResult) error {
		s.mu.Lock()
		j.Done, j.Loss = sr.Step, sr.Loss
		s.mu.Unlock()
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if w, err = tr.Weights(); err != nil {
		return nil, nil, err
	}
	r, err = tr.Ranges()
	return w, r, err
}

// wait waits for a running job to end.
func (s *service) wait() { s.running.Wait() }
