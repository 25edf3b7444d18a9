// Package serve serves exported SavedModels with TensorFlow Serving's
// REST and gRPC APIs. Each model is a base path of numbered version folders
// (BASE/1/saved_model.pb, BASE/2/...) as qat export --out BASE/N writes
// them; the newest versions are served, the base path is polled for new
// ones, and a version is swapped out only when the requests using it are
// done.
package serve

import (
	"context"
	"errors"
	"fmt"
	"log"
	"slices"
	"sort"
	"time"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/savedmodel"
	"github.com/qat-go/qat/tfgraph"
	"google.golang.org/grpc/codes"
)

// Options are a server's limits and settings; zero fields take the
// defaults below.
type Options struct {
	// PollInterval is how often base paths are scanned for new versions
	// (TF Serving's --file_system_poll_wait_seconds; default 1s).
	PollInterval time.Duration
	// Session configures each loaded model's TensorFlow session.
	Session tfgraph.SessionConfig
	// MaxBodyBytes limits a REST request's body (default 64 MiB).
	MaxBodyBytes int64
	// MaxBatch limits the examples in one request (default 4096).
	MaxBatch int
	// Timeout limits one request's run (default 30s).
	Timeout time.Duration
	// Logf reports loads and retirements (default log.Printf).
	Logf func(format string, args ...any)
	// Batching, if set, merges concurrent requests into shared runs.
	Batching *Batching
}

// The defaults of Options.
const (
	DefaultPollInterval = time.Second
	DefaultMaxBodyBytes = 64 << 20
	DefaultMaxBatch     = 4096
	DefaultTimeout      = 30 * time.Second
)

func (o Options) withDefaults() Options {
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = DefaultMaxBatch
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Logf == nil {
		o.Logf = log.Printf
	}
	return o
}

// ModelConfig names a model and its base path.
type ModelConfig struct {
	Name, BasePath string
	// Versions is how many of the newest versions are served (default 1,
	// TF Serving's latest policy).
	Versions int
}

// Server serves a fixed set of models. Its methods may be called from
// several goroutines.
type Server struct {
	opts    Options
	models  map[string]*servable
	metrics *metrics
}

// New returns a server for models and loads their newest versions. A base
// path without a version yet is not an error: the model answers "not
// found" until one appears. A base path that cannot be read, or two models
// with one name, are errors.
func New(models []ModelConfig, opts Options) (*Server, error) {
	if len(models) == 0 {
		return nil, errors.New("serve: no models to serve")
	}
	s := &Server{opts: opts.withDefaults(), models: map[string]*servable{}, metrics: newMetrics()}
	for _, mc := range models {
		if mc.Name == "" || mc.BasePath == "" {
			return nil, fmt.Errorf("serve: model %q: a name and a base path are required", mc.Name)
		}
		if _, dup := s.models[mc.Name]; dup {
			return nil, fmt.Errorf("serve: model %q is configured twice", mc.Name)
		}
		keep := mc.Versions
		if keep <= 0 {
			keep = 1
		}
		s.models[mc.Name] = &servable{name: mc.Name, base: mc.BasePath, keep: keep, live: map[int64]*version{}, failed: map[int64]bool{}}
	}
	if err := s.Poll(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Poll scans every base path once, loading new versions and retiring old
// ones.
func (s *Server) Poll() error {
	var errs []error
	for _, name := range s.names() {
		sv := s.models[name]
		load := func(dir string, n int64) (*version, error) {
			batch := s.metrics.batch.WithLabelValues(name)
			v, err := loadVersion(dir, n, &s.opts, func(k int) { batch.Observe(float64(k)) })
			if err == nil {
				s.metrics.loaded.WithLabelValues(name).Inc()
				v.unloaded = func() { s.metrics.loaded.WithLabelValues(name).Dec() }
			}
			return v, err
		}
		errs = append(errs, sv.poll(load, s.opts.Logf))
	}
	return errors.Join(errs...)
}

// Run polls every PollInterval until ctx is done.
func (s *Server) Run(ctx context.Context) {
	t := time.NewTicker(s.opts.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.Poll(); err != nil {
				s.opts.Logf("%v", err)
			}
		}
	}
}

// Close retires every version; each is unloaded when its requests finish.
func (s *Server) Close() {
	for _, sv := range s.models {
		sv.mu.Lock()
		for _, v := range sv.live {
			sv.retire(v)
		}
		sv.mu.Unlock()
	}
}

// Versions returns the served versions of model name, newest first.
func (s *Server) Versions(name string) []int64 {
	sv, ok := s.models[name]
	if !ok {
		return nil
	}
	return sv.versions()
}

func (s *Server) names() []string {
	out := make([]string, 0, len(s.models))
	for n := range s.models {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// acquire finds model name's version n (0: the newest).
func (s *Server) acquire(name string, n int64) (*servable, *version, error) {
	sv, ok := s.models[name]
	if !ok {
		return nil, nil, errorf(codes.NotFound, "Servable not found for request: Latest(%s)", name)
	}
	v, err := sv.acquire(n)
	return sv, v, err
}

// apiError is an error with TF Serving's status code.
type apiError struct {
	code codes.Code
	msg  string
	http int // the HTTP status when it is not code's
}

func (e *apiError) Error() string { return e.msg }

func errorf(c codes.Code, format string, args ...any) error {
	return &apiError{code: c, msg: fmt.Sprintf(format, args...)}
}

// codeOf is err's status code (Internal for errors without one).
func codeOf(err error) codes.Code {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.code
	}
	return codes.Internal
}

// checkSignature accepts serving_default under its name or as "".
func checkSignature(name string) error {
	if name != "" && name != savedmodel.Signature {
		return errorf(codes.InvalidArgument, "Serving signature name: %q not found in signature def", name)
	}
	return nil
}

// predict runs x through v within the request timeout. A run that
// outlives ctx keeps its reference until it ends; the caller gets
// DeadlineExceeded at once.
func (s *Server) predict(ctx context.Context, sv *servable, v *version, x data.Array) (data.Array, error) {
	want := v.model.Input()
	if len(x.Shape) != len(want)+1 || !slices.Equal(x.Shape[1:], want) {
		sv.release(v)
		return data.Array{}, errorf(codes.InvalidArgument, "input %q has shape %v; the signature wants [-1 %v]", v.in, x.Shape, want)
	}
	if x.Shape[0] < 1 || x.Shape[0] > int64(s.opts.MaxBatch) {
		sv.release(v)
		return data.Array{}, errorf(codes.InvalidArgument, "batch of %d examples; this server takes 1 to %d per request", x.Shape[0], s.opts.MaxBatch)
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	type result struct {
		y   data.Array
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer sv.release(v)
		y, err := v.run(x)
		done <- result{y, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return data.Array{}, errorf(codes.Internal, "%v", r.err)
		}
		return r.y, nil
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return data.Array{}, errorf(codes.DeadlineExceeded, "request took longer than %v", s.opts.Timeout)
		}
		return data.Array{}, errorf(codes.Canceled, "request cancelled")
	}
}
