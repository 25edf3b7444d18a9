package bench

import (
	"fmt"
	"io"
	"math"
	"time"
)

// Spec is a workload to run: its contenders' commands, Go's first.
type Spec struct {
	ID, Title, Unit string
	Threads         int
	Contenders      []ContenderSpec
}

// ContenderSpec is how to start one worker.
type ContenderSpec struct {
	Name   string
	Argv   []string
	Env    []string // added to the runner's environment
	Target float64  // the speed-up over it that issue 12 asks of Go; 0 none
}

// Options shape a run.
type Options struct {
	Repeats int           // blocks per contender, each in a rotated order
	Block   time.Duration // wall time a block aims at
	Warmup  time.Duration // steps run (untimed) before the first block
	// MaxSteps caps a block (and the calibration) in steps.
	MaxSteps     int
	StartTimeout time.Duration // for a worker's "ready"
	Log          io.Writer     // progress lines; nil for none
}

// RunWorkload starts the contenders of s one after another, warms each
// up and sizes its block to about o.Block, runs o.Repeats rounds of one
// block each in the order Order gives, reads each live worker's peak RSS
// and stops them. A worker that fails (at start, or by dying, erring or
// hanging later) is recorded with its error and the round goes on
// without it.
func RunWorkload(s Spec, o Options) Workload {
	w := Workload{ID: s.ID, Title: s.Title, Threads: s.Threads, Unit: s.Unit}
	workers := make([]*Worker, len(s.Contenders))
	defer func() {
		for _, wk := range workers {
			if wk != nil {
				wk.Kill()
			}
		}
	}()
	for i, cs := range s.Contenders {
		c := Contender{Name: cs.Name, Target: cs.Target}
		start := time.Now()
		wk, err := Start(cs.Name, cs.Argv, cs.Env, o.StartTimeout)
		if err == nil {
			c.Note = wk.Note
			c.BlockSteps, err = warmUp(wk, o)
		}
		if err != nil {
			c.Error = err.Error()
			o.logf("%s: %s failed: %v\n", s.ID, cs.Name, err)
			if wk != nil {
				wk.Kill()
			}
		} else {
			workers[i] = wk
			o.logf("%s: %s ready and warm in %.1f s; block of %d steps\n", s.ID, cs.Name, time.Since(start).Seconds(), c.BlockSteps)
		}
		w.Contenders = append(w.Contenders, c)
	}
	for r := 0; r < o.Repeats; r++ {
		for _, i := range Order(len(workers), r) {
			wk, c := workers[i], &w.Contenders[i]
			if wk == nil {
				continue
			}
			ms, err := wk.Run(c.BlockSteps, runTimeout(c.BlockSteps, c.MsPerStep, o))
			if err != nil {
				c.Error = fmt.Sprintf("repeat %d: %v", r+1, err)
				o.logf("%s: %s failed: %v\n", s.ID, c.Name, err)
				wk.Kill()
				workers[i] = nil
				continue
			}
			c.MsPerStep = append(c.MsPerStep, ms)
		}
		o.logf("%s: repeat %d/%d done\n", s.ID, r+1, o.Repeats)
	}
	for i, wk := range workers {
		if wk == nil {
			continue
		}
		if rss, err := wk.PeakRSS(); err == nil {
			w.Contenders[i].PeakRSS = rss
		} else {
			o.logf("%s: %v\n", s.ID, err)
		}
		wk.Quit(10 * time.Second)
		workers[i] = nil
	}
	w.Finish()
	return w
}

// warmUp finds the worker's time per step with growing blocks (until
// one takes a tenth of o.Block), then runs blocks of about a quarter of
// o.Block, resized after each, until o.Warmup has passed (at least three
// of them). It returns the block size for o.Block from the median time of
// the last three.
func warmUp(wk *Worker, o Options) (int, error) {
	start, n := time.Now(), 1
	for {
		ms, err := wk.Run(n, o.StartTimeout)
		if err != nil {
			return 0, err
		}
		if float64(n)*ms >= o.Block.Seconds()*1000/10 || n >= o.MaxSteps {
			n = BlockSteps(ms, o.Block.Seconds()/4, 1, o.MaxSteps)
			break
		}
		n = min(n*4, o.MaxSteps)
	}
	var last []float64
	for len(last) < 3 || time.Since(start) < o.Warmup {
		ms, err := wk.Run(n, o.StartTimeout)
		if err != nil {
			return 0, err
		}
		last = append(last, ms)
		if len(last) > 3 {
			last = last[1:]
		}
		n = BlockSteps(ms, o.Block.Seconds()/4, 1, o.MaxSteps)
	}
	return BlockSteps(Median(last), o.Block.Seconds(), 1, o.MaxSteps), nil
}

// runTimeout allows a block 20 times its expected time (from the median
// so far, else from the target), and at least a minute.
func runTimeout(steps int, done []float64, o Options) time.Duration {
	expect := o.Block
	if len(done) > 0 {
		expect = time.Duration(Median(done) * float64(steps) * float64(time.Millisecond))
	}
	return time.Duration(math.Max(float64(20*expect), float64(time.Minute)))
}

func (o Options) logf(format string, a ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, format, a...)
	}
}
