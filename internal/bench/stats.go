// Package bench is the harness behind `make bench`: it starts each
// contender of a workload as a long-lived worker process, asks the workers
// in turn (order rotated every repeat) for blocks of steps, and turns the
// timings into per-repeat speed ratios against the Go worker and a
// Markdown table.
//
// The worker protocol is one line each way, over the worker's stdin and
// stdout (a worker writes nothing else to stdout):
//
//	worker: ready [note]        after start-up (the first step is done)
//	runner: run N               run N more steps (or inferences)
//	worker: ms_per_step X       wall time of those N steps / N, in ms
//	runner: quit                exit 0
//
// A worker that cannot go on writes "error MESSAGE" (or just exits); the
// runner reports it with the tail of the worker's stderr.
package bench

import (
	"fmt"
	"math"
	"slices"
)

// Summary is the spread of one contender's per-repeat figures.
type Summary struct {
	Min    float64 `json:"min"`
	Median float64 `json:"median"`
	Max    float64 `json:"max"`
}

// Summarize returns the minimum, median and maximum of v.
func Summarize(v []float64) (Summary, error) {
	if len(v) == 0 {
		return Summary{}, fmt.Errorf("no values")
	}
	for i, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return Summary{}, fmt.Errorf("value %d is %v", i, x)
		}
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return Summary{Min: s[0], Median: Median(s), Max: s[len(s)-1]}, nil
}

// Median is the middle value of v (the mean of the two middle ones for an
// even count); NaN for an empty v.
func Median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// Ratios returns, repeat by repeat, how many times faster the reference is
// than the contender: contender[i] / reference[i] for times per step (2
// means the reference takes half the time).
func Ratios(contender, reference []float64) ([]float64, error) {
	if len(contender) != len(reference) {
		return nil, fmt.Errorf("%d contender repeats but %d reference repeats", len(contender), len(reference))
	}
	r := make([]float64, len(contender))
	for i := range contender {
		if !(reference[i] > 0) || !(contender[i] > 0) {
			return nil, fmt.Errorf("repeat %d: times %v and %v must be > 0", i+1, contender[i], reference[i])
		}
		r[i] = contender[i] / reference[i]
	}
	return r, nil
}

// Order is the order in which n contenders run in repeat r (0-based): the
// list rotated left by r, so each contender goes first, second, ... in
// turn and none always follows the same one into a warm or cold cache.
func Order(n, r int) []int {
	o := make([]int, n)
	for i := range o {
		o[i] = (i + r) % n
	}
	return o
}

// BlockSteps is how many steps of msPerStep fill about seconds, between lo
// and hi.
func BlockSteps(msPerStep, seconds float64, lo, hi int) int {
	if !(msPerStep > 0) {
		return hi
	}
	n := math.Round(seconds * 1000 / msPerStep)
	return int(math.Max(float64(lo), math.Min(float64(hi), n)))
}
