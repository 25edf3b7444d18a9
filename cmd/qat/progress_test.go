package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/qat-go/qat/loop"
)

// The non-terminal progress log: a line every `every` steps and at the
// last, each with the loss, the rate since the line before and the time
// left at that rate (none on the last line).
func TestProgressLines(t *testing.T) {
	for _, c := range []struct {
		name               string
		steps, every, done int
		secondsPerStep     float64
		want               []string
	}{
		{"from the start", 10, 4, 0, 0.5, []string{
			"step 4/10 loss 0.2500, 2 steps/s, ETA 3s",
			"step 8/10 loss 0.1250, 2 steps/s, ETA 1s",
			"step 10/10 loss 0.1000, 2 steps/s",
		}},
		{"resumed at step 6", 10, 4, 6, 0.01, []string{
			"step 8/10 loss 0.1250, 100 steps/s, ETA 0s",
			"step 10/10 loss 0.1000, 100 steps/s",
		}},
		{"hours left", 100000, 50000, 0, 0.2, []string{
			"step 50000/100000 loss 0.0000, 5 steps/s, ETA 2h46m40s",
			"step 100000/100000 loss 0.0000, 5 steps/s",
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			clock := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
			p := newProgress(&out, c.steps, c.every, c.done)
			p.now = func() time.Time { return clock }
			p.lastAt = clock
			for step := c.done + 1; step <= c.steps; step++ {
				clock = clock.Add(time.Duration(c.secondsPerStep * float64(time.Second)))
				p.step(loop.StepResult{Step: step, Loss: 1 / float32(step)})
			}
			got := strings.Split(strings.TrimSpace(out.String()), "\n")
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
}
