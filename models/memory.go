package models

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"math/bits"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
)

// Bytes per parameter that training holds at the least: the float32
// variable, Adam's two float32 slots and the float32 initial values kept
// in Go (InitialWeights).
const trainBytesPerParam = 4 * 4

// memoryLimit is SetMemoryLimit's cap (0: none).
var memoryLimit atomic.Int64

// SetMemoryLimit caps the memory budget that models are checked against
// (see MemoryBudget) at limit bytes, and returns the previous cap; 0
// removes the cap. It is safe to call from several goroutines.
func SetMemoryLimit(limit int64) int64 {
	if limit < 0 {
		limit = 0
	}
	return memoryLimit.Swap(limit)
}

// MemoryBudget returns how many bytes the process may still allocate, and
// what says so: the smallest of MemAvailable in /proc/meminfo, the room
// left under the cgroup's memory limit (as in a container; the inactive
// page cache counts as room) and the
// cap set by SetMemoryLimit. Where none is known (no /proc), it returns
// math.MaxInt64 and "": only sizes that overflow are then refused.
func MemoryBudget() (int64, string) {
	budget, source := int64(math.MaxInt64), ""
	take := func(v int64, what string) {
		if v >= 0 && v < budget {
			budget, source = v, what
		}
	}
	if v, ok := memAvailable(); ok {
		take(v, "MemAvailable in /proc/meminfo")
	}
	if v, ok := cgroupRoom(); ok {
		take(v, "the room under the cgroup's memory limit")
	}
	if v := memoryLimit.Load(); v > 0 {
		take(v, "the cap set with models.SetMemoryLimit")
	}
	return budget, source
}

// memAvailable reads MemAvailable (kB) from /proc/meminfo.
func memAvailable() (int64, bool) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		rest, ok := strings.CutPrefix(s.Text(), "MemAvailable:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil || kb < 0 || kb > math.MaxInt64/1024 {
			return 0, false
		}
		return kb * 1024, true
	}
	return 0, false
}

// cgroupRoom is the room left under the memory limit of the process's
// cgroup (v2 memory.max, or v1 memory.limit_in_bytes): the limit less the
// memory in use, not counting the inactive page cache, which is reclaimed
// before the limit bites (as the kubelet's working set).
func cgroupRoom() (int64, bool) {
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(strings.TrimSpace(string(self)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			if room, ok := cgroupFiles(cgroupDir("/sys/fs/cgroup", parts[2]), "memory.max", "memory.current", "inactive_file"); ok {
				return room, true
			}
		}
		if slices.Contains(strings.Split(parts[1], ","), "memory") {
			if room, ok := cgroupFiles(cgroupDir("/sys/fs/cgroup/memory", parts[2]), "memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file"); ok {
				return room, true
			}
		}
	}
	return 0, false
}

// cgroupDir is root+path, or root itself where the path is not mounted
// (a container that sees its own cgroup at the root).
func cgroupDir(root, path string) string {
	if _, err := os.Stat(root + path); err == nil {
		return root + path
	}
	return root
}

// cgroupFiles reads a cgroup's limit and usage files and the memory.stat
// key of its inactive page cache.
func cgroupFiles(dir, limitFile, usageFile, inactiveKey string) (int64, bool) {
	read := func(name string) (int64, bool) {
		b, err := os.ReadFile(dir + "/" + name)
		if err != nil {
			return 0, false
		}
		v, err := strconv.ParseInt(string(bytes.TrimSpace(b)), 10, 64)
		return v, err == nil
	}
	limit, ok := read(limitFile) // v2 writes "max" when unlimited: not a number
	if !ok {
		return 0, false
	}
	used, _ := read(usageFile)
	if stat, err := os.ReadFile(dir + "/memory.stat"); err == nil {
		for _, line := range strings.Split(string(stat), "\n") {
			if v, ok := strings.CutPrefix(line, inactiveKey+" "); ok {
				if n, err := strconv.ParseInt(v, 10, 64); err == nil && n <= used {
					used -= n
				}
			}
		}
	}
	if used > limit {
		return 0, true
	}
	return limit - used, true
}

// mul and add saturate at math.MaxInt64 (operands are >= 0).
func mul(a, b int64) int64 {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi != 0 || lo > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(lo)
}

func add(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// elements is the number of values of a tensor of the given shape, or an
// error if a dimension is not > 0 or the count overflows int64.
func elements(shape []int64) (int64, error) {
	n := int64(1)
	for _, d := range shape {
		if d <= 0 {
			return 0, fmt.Errorf("shape %v: every dimension must be > 0", shape)
		}
		if n > math.MaxInt64/d {
			return 0, fmt.Errorf("shape %v has more than 2^63 values", shape)
		}
		n *= d
	}
	return n, nil
}

// params is the number of variables' values a layer holds (weights,
// biases, batch-norm statistics) on input in, saturating; 0 for layers it
// does not know.
func params(l Layer, in, out []int64) int64 {
	last := func(s []int64) int64 {
		if len(s) == 0 {
			return 0
		}
		return s[len(s)-1]
	}
	bias := func(noBias bool, n int64) int64 {
		if noBias {
			return 0
		}
		return n
	}
	switch l := l.(type) {
	case ArticleDense:
		return add(mul(last(in), int64(l.Units)), int64(l.Units))
	case Dense:
		return add(mul(last(in), int64(l.Units)), int64(l.Units))
	case Conv2D:
		k := mul(mul(int64(l.Kernel[0]), int64(l.Kernel[1])), mul(last(in), int64(l.Filters)))
		return add(k, bias(l.NoBias, int64(l.Filters)))
	case DepthwiseConv2D:
		k := mul(mul(int64(l.Kernel[0]), int64(l.Kernel[1])), mul(last(in), l.multiplier()))
		return add(k, bias(l.NoBias, last(out)))
	case BatchNorm:
		return mul(4, last(out))
	case FoldedConvBN:
		return add(params(l.Conv, in, out), params(l.BN, out, out))
	}
	return 0
}

// Footprint is the memory a model needs at the least, in bytes: its
// parameters and the activations of one batch, all float32. It leaves out
// TensorFlow's working buffers (gradients, quantizer temporaries), so real
// use is higher.
type Footprint struct {
	// Params counts every variable's values (weights, biases, batch-norm
	// statistics).
	Params int64
	// Bytes is the total: Params times 16 when training (the weights,
	// Adam's two slots and the initial values), times 8 for inference (the
	// variables and their initial values), plus the activations: every
	// layer's output (and the input) for one batch.
	Bytes int64
	// Layer is the layer that needs the most of Bytes, LayerParams its
	// parameters and LayerBytes its share.
	Layer       string
	LayerParams int64
	LayerBytes  int64
}

// Footprint returns the memory a model needs to train (training true) or
// run (false) on batches of batch examples. Sizes too large for int64
// saturate at math.MaxInt64.
func (m Model) Footprint(batch int64, training bool) (Footprint, error) {
	if _, err := m.OutputShape(); err != nil {
		return Footprint{}, err
	}
	if batch < 1 {
		batch = 1
	}
	perParam := int64(trainBytesPerParam)
	if !training {
		perParam = 8
	}
	in, _ := elements(m.Input)
	f := Footprint{Bytes: mul(mul(in, batch), 4)}
	layers, _ := m.plan()
	shape := m.Input
	for _, l := range layers {
		out, err := l.OutputShape(shape)
		if err != nil {
			return Footprint{}, err
		}
		n, _ := elements(out)
		p := params(l, shape, out)
		b := add(mul(p, perParam), mul(mul(n, batch), 4))
		f.Params = add(f.Params, p)
		f.Bytes = add(f.Bytes, b)
		if b > f.LayerBytes {
			f.Layer, f.LayerParams, f.LayerBytes = l.LayerName(), p, b
		}
		shape = out
	}
	return f, nil
}

// CheckMemory returns an error naming the largest layer if training
// (training true) or running the model on batches of batch examples needs
// more memory than MemoryBudget, or more than int64 can count. extra bytes
// (e.g. the training data) are added to the need. Nothing is allocated, so
// it is safe to call before a model of any size is built.
func (m Model) CheckMemory(batch int64, training bool, extra int64) error {
	if batch < 1 {
		batch = 1
	}
	f, err := m.Footprint(batch, training)
	if err != nil {
		return err
	}
	need := add(f.Bytes, extra)
	budget, source := MemoryBudget()
	if need < budget && need < math.MaxInt64 {
		return nil
	}
	what, per := "run", "8 bytes per parameter for the float32 variables and their initial values"
	if training {
		what, per = "train", "16 bytes per parameter for the float32 weights, Adam's two slots and the initial values"
	}
	var data string
	if extra > 0 {
		data = fmt.Sprintf(", %s of data", formatBytes(extra))
	}
	have := budgetText(budget, source)
	return fmt.Errorf("model: too large to %s: layer %s needs %s (%d parameters); the model at least %s "+
		"(%s, the activations of a batch of %d%s), more than %s",
		what, f.Layer, formatBytes(f.LayerBytes), f.LayerParams, formatBytes(need), per, batch, data, have)
}

// budgetText describes a MemoryBudget: "the 1.5 GiB available (source)".
func budgetText(budget int64, source string) string {
	if source == "" || budget == math.MaxInt64 {
		return "int64 can count"
	}
	return fmt.Sprintf("the %s available (%s)", formatBytes(budget), source)
}

// formatBytes prints n bytes with a binary unit, e.g. "1.5 GiB".
func formatBytes(n int64) string {
	if n == math.MaxInt64 {
		return "more than 8 EiB"
	}
	units := []string{"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	v, i := float64(n), 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d bytes", n)
	}
	return fmt.Sprintf("%.1f %s", v, units[i])
}
