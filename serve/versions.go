package serve

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/savedmodel"
	pb "github.com/wamuir/graft/tensorflow/core/protobuf/for_core_protos_go_proto"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
)

// version is one loaded version of a model. refs counts the requests
// using it; a retired version is closed when its last request releases it.
type version struct {
	n        int64
	model    *savedmodel.Model
	sigs     map[string]*pb.SignatureDef
	in, out  string // the serving_default input and output keys
	refs     int
	retired  bool
	unloaded func()
	batcher  *batcher // nil without batching
}

// run predicts x, through the batcher if there is one.
func (v *version) run(x data.Array) (data.Array, error) {
	if v.batcher != nil {
		return v.batcher.run(x)
	}
	return v.model.PredictBatches(x, int(x.Shape[0]))
}

// servable is a model name with its base path and loaded versions.
type servable struct {
	name, base string
	keep       int // the newest keep versions are served
	mu         sync.Mutex
	live       map[int64]*version
	failed     map[int64]bool
}

// ready lists the version folders of base: subfolders whose name is a
// positive integer and that hold saved_model.pb. savedmodel.Export
// assembles a version under a temporary name (N.tmp-PID-RAND) and renames
// it when complete, so a folder named N is whole when it appears.
func ready(base string) ([]int64, error) {
	entries, err := os.ReadDir(base)
	if err != nil {
		return nil, err
	}
	var out []int64
	for _, e := range entries {
		n, err := strconv.ParseInt(e.Name(), 10, 64)
		if err != nil || n <= 0 || !e.IsDir() || strconv.FormatInt(n, 10) != e.Name() {
			continue
		}
		if _, err := os.Stat(filepath.Join(base, e.Name(), "saved_model.pb")); err == nil {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out, nil
}

// acquire returns version n (the newest when n is 0) with one more
// reference; release gives it back.
func (s *servable) acquire(n int64) (*version, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n == 0 {
		for k := range s.live {
			n = max(n, k)
		}
		if n == 0 {
			return nil, errorf(codes.NotFound, "Servable not found for request: Latest(%s)", s.name)
		}
	}
	v, ok := s.live[n]
	if !ok {
		return nil, errorf(codes.NotFound, "Servable not found for request: Specific(%s, %d)", s.name, n)
	}
	v.refs++
	return v, nil
}

func (s *servable) release(v *version) {
	s.mu.Lock()
	v.refs--
	done := v.retired && v.refs == 0
	s.mu.Unlock()
	if done {
		v.close()
	}
}

func (v *version) close() {
	if v.batcher != nil {
		v.batcher.stop()
	}
	v.model.Close()
	if v.unloaded != nil {
		v.unloaded()
	}
}

// retire takes v out of service; it is closed now if no request holds it,
// else when the last one releases it. s.mu must be held.
func (s *servable) retire(v *version) {
	delete(s.live, v.n)
	v.retired = true
	if v.refs == 0 {
		go v.close()
	}
}

// versions returns the served version numbers, newest first.
func (s *servable) versions() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]int64, 0, len(s.live))
	for n := range s.live {
		out = append(out, n)
	}
	slices.Sort(out)
	slices.Reverse(out)
	return out
}

// poll serves the newest keep versions in the base path: it loads those
// not loaded yet, then retires every other version (older ones, and ones
// whose folder is gone, as TF Serving does). A new version is in service
// before an old one leaves, so no request finds none. A version that fails
// to load is reported once and not tried again; the next older one is
// served instead.
func (s *servable) poll(load func(dir string, n int64) (*version, error), logf func(string, ...any)) error {
	found, err := ready(s.base)
	if err != nil {
		return fmt.Errorf("serve: model %s: %w", s.name, err)
	}
	chosen := map[int64]bool{}
	for i := len(found) - 1; i >= 0 && len(chosen) < s.keep; i-- {
		n := found[i]
		s.mu.Lock()
		_, have := s.live[n]
		failed := s.failed[n]
		s.mu.Unlock()
		if failed {
			continue
		}
		if !have {
			v, err := load(filepath.Join(s.base, strconv.FormatInt(n, 10)), n)
			if err != nil {
				s.mu.Lock()
				s.failed[n] = true
				s.mu.Unlock()
				logf("serve: model %s version %d not loaded: %v", s.name, n, err)
				continue
			}
			s.mu.Lock()
			s.live[n] = v
			s.mu.Unlock()
			logf("serve: model %s version %d loaded", s.name, n)
		}
		chosen[n] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for n, v := range s.live {
		if !chosen[n] {
			logf("serve: model %s version %d retired", s.name, n)
			s.retire(v)
		}
	}
	return nil
}

// loadVersion loads the SavedModel in dir and reads its signatures from
// saved_model.pb.
func loadVersion(dir string, n int64, opts *Options, observe func(int)) (*version, error) {
	m, err := savedmodel.Load(dir, opts.Session)
	if err != nil {
		return nil, err
	}
	sigs, err := signatures(dir)
	if err != nil {
		m.Close()
		return nil, err
	}
	v := &version{n: n, model: m, sigs: sigs}
	if opts.Batching != nil {
		v.batcher = newBatcher(m, *opts.Batching, observe)
	}
	sig := sigs[savedmodel.Signature]
	inT, outT := m.Tensors()
	for k, ti := range sig.GetInputs() {
		if ti.GetName() == inT {
			v.in = k
		}
	}
	for k, ti := range sig.GetOutputs() {
		if ti.GetName() == outT {
			v.out = k
		}
	}
	if v.in == "" || v.out == "" {
		m.Close()
		return nil, fmt.Errorf("serve: %s: signature %s does not name tensors %s and %s", dir, savedmodel.Signature, inT, outT)
	}
	return v, nil
}

// signatures reads the signature defs of the MetaGraphDef tagged serve.
func signatures(dir string) (map[string]*pb.SignatureDef, error) {
	b, err := os.ReadFile(filepath.Join(dir, "saved_model.pb"))
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	var sm pb.SavedModel
	if err := proto.Unmarshal(b, &sm); err != nil {
		return nil, fmt.Errorf("serve: %s/saved_model.pb: %w", dir, err)
	}
	for _, mg := range sm.GetMetaGraphs() {
		if slices.Contains(mg.GetMetaInfoDef().GetTags(), savedmodel.Tag) {
			return mg.GetSignatureDef(), nil
		}
	}
	return nil, fmt.Errorf("serve: %s/saved_model.pb has no MetaGraphDef tagged %q", dir, savedmodel.Tag)
}
