package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/qat-go/qat/loop"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress shows training progress on w: a bar with the loss on a
// terminal, otherwise a line every few steps (and at the last) with the
// loss, the steps per second since the line before and the time left at
// that rate.
type progress struct {
	w            io.Writer
	steps, every int
	bar          *progressbar.ProgressBar
	now          func() time.Time
	lastStep     int       // the step of the line before (or the first step's predecessor)
	lastAt       time.Time // when it was printed (or when progress began)
}

// newProgress shows steps steps, the first done of them already run.
func newProgress(w io.Writer, steps, every, done int) *progress {
	p := &progress{w: w, steps: steps, every: every, now: time.Now, lastStep: done}
	p.lastAt = p.now()
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.bar = progressbar.NewOptions(steps, progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription("loss     -"), progressbar.OptionShowCount(),
			progressbar.OptionSetWidth(30), progressbar.OptionSetItsString("steps"), progressbar.OptionShowIts(),
			progressbar.OptionThrottle(50*time.Millisecond), progressbar.OptionClearOnFinish())
		_ = p.bar.Set(done)
	}
	return p
}

func (p *progress) step(r loop.StepResult) {
	if p.bar != nil {
		p.bar.Describe(fmt.Sprintf("loss %.4f", r.Loss))
		_ = p.bar.Add(1) // a display error must not stop training
		return
	}
	if r.Step%p.every != 0 && r.Step != p.steps {
		return
	}
	now := p.now()
	line := fmt.Sprintf("step %d/%d loss %.4f", r.Step, p.steps, r.Loss)
	if secs := now.Sub(p.lastAt).Seconds(); secs > 0 && r.Step > p.lastStep {
		rate := float64(r.Step-p.lastStep) / secs
		line += fmt.Sprintf(", %.3g steps/s", rate)
		if left := p.steps - r.Step; left > 0 {
			line += ", ETA " + (time.Duration(float64(left) / rate * float64(time.Second))).Round(time.Second).String()
		}
	}
	fmt.Fprintln(p.w, line)
	p.lastStep, p.lastAt = r.Step, now
}

// line prints a line of its own (an epoch's), above the bar on a
// terminal.
func (p *progress) line(s string) {
	if p.bar != nil {
		_ = p.bar.Clear()
	}
	fmt.Fprintln(p.w, s)
}

func (p *progress) done() {
	if p.bar != nil && !p.bar.IsFinished() {
		_ = p.bar.Clear()
	}
}
