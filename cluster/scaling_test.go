package cluster

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

func TestScalingEstimate(t *testing.T) {
	ms := time.Millisecond
	// 2 ms + 0.1 ms an example; 1 MB of weights at 10 Gb/s: 1.6 ms a
	// worker; 5 barriers of 0.1 ms. One process: 8.4 ms.
	s := Scaling{Compute: Linear(2*ms, 100*time.Microsecond), GlobalBatch: 64, ParamBytes: 1e6,
		Bandwidth: 10e9, RoundTrip: 100 * time.Microsecond, Barriers: 5}
	for _, c := range []struct {
		workers                      int
		compute, network, sync, step time.Duration
		speedup                      float64
	}{
		{1, 8400 * time.Microsecond, 1600 * time.Microsecond, 500 * time.Microsecond, 10500 * time.Microsecond, 0.8},
		{2, 5200 * time.Microsecond, 3200 * time.Microsecond, 500 * time.Microsecond, 8900 * time.Microsecond, 8.4 / 8.9},
		{4, 3600 * time.Microsecond, 6400 * time.Microsecond, 500 * time.Microsecond, 10500 * time.Microsecond, 0.8},
		{3, 4133333 * time.Nanosecond, 4800 * time.Microsecond, 500 * time.Microsecond, 9433333 * time.Nanosecond, 8.4e6 / 9433333},
		{64, 2100 * time.Microsecond, 102400 * time.Microsecond, 500 * time.Microsecond, 105000 * time.Microsecond, 0.08},
	} {
		t.Run(fmt.Sprint(c.workers), func(t *testing.T) {
			e, err := s.Estimate(c.workers)
			if err != nil {
				t.Fatal(err)
			}
			if e.Workers != c.workers || e.Compute != c.compute || e.Network != c.network || e.Sync != c.sync || e.Step != c.step ||
				math.Abs(e.Speedup-c.speedup) > 1e-12 || math.Abs(e.ExamplesPerSecond-64/c.step.Seconds()) > 1e-9 {
				t.Errorf("got %+v, want compute %v network %v sync %v step %v speedup %g", e, c.compute, c.network, c.sync, c.step, c.speedup)
			}
		})
	}
	// 25 Gb/s: the network part of 2 workers is 3.2 ms * 10/25.
	s.Bandwidth = 25e9
	if e, _ := s.Estimate(2); e.Network != 1280*time.Microsecond {
		t.Errorf("2 workers at 25 Gb/s: network %v, want 1.28ms", e.Network)
	}
}

func TestScalingErrors(t *testing.T) {
	ok := Scaling{Compute: Linear(0, time.Millisecond), GlobalBatch: 8, ParamBytes: 1, Bandwidth: 1e9}
	for _, c := range []struct {
		name    string
		change  func(*Scaling)
		workers int
		want    string
	}{
		{"no compute", func(s *Scaling) { s.Compute = nil }, 1, "no Compute"},
		{"no workers", func(*Scaling) {}, 0, "0 workers for a global batch of 8: want 1..8"},
		{"more workers than examples", func(*Scaling) {}, 9, "9 workers"},
		{"no bandwidth", func(s *Scaling) { s.Bandwidth = 0 }, 1, "bandwidth 0 b/s must be > 0"},
		{"NaN bandwidth", func(s *Scaling) { s.Bandwidth = math.NaN() }, 1, "bandwidth NaN"},
		{"negative bytes", func(s *Scaling) { s.ParamBytes = -1 }, 1, "bytes -1"},
		{"negative barriers", func(s *Scaling) { s.Barriers = -1 }, 1, "barriers -1"},
		{"zero step", func(s *Scaling) { s.Compute, s.ParamBytes = Linear(0, 0), 0 }, 1, "step time 0s of 1 workers is not positive"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := ok
			c.change(&s)
			_, err := s.Estimate(c.workers)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

// ExampleScaling_Estimate models 2 workers training a model of 1 MB of
// weights on 10 Gb/s with 5 barriers of 0.1 ms a step.
func ExampleScaling_Estimate() {
	s := Scaling{Compute: Linear(2*time.Millisecond, 100*time.Microsecond), GlobalBatch: 64,
		ParamBytes: 1e6, Bandwidth: 10e9, RoundTrip: 100 * time.Microsecond, Barriers: 5}
	e, err := s.Estimate(2)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("step %v = compute %v + network %v + sync %v: %.2fx one process\n", e.Step, e.Compute, e.Network, e.Sync, e.Speedup)
	// Output: step 8.9ms = compute 5.2ms + network 3.2ms + sync 500µs: 0.94x one process
}
