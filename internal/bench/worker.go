package bench

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Worker is one running contender process, spoken to over its stdin and
// stdout.
type Worker struct {
	Name  string
	Note  string // what the worker said after "ready"
	cmd   *exec.Cmd
	in    io.WriteCloser
	lines chan string // stdout lines; closed at EOF
	tail  *tailBuffer
	done  chan struct{} // closed when the process has exited
	werr  error         // the exit status, once done is closed
}

// Start runs argv as a worker and waits up to timeout for its "ready"
// line. env is added to the runner's environment.
func Start(name string, argv, env []string, timeout time.Duration) (*Worker, error) {
	if len(argv) == 0 {
		return nil, fmt.Errorf("%s: no command", name)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	w := &Worker{Name: name, cmd: cmd, lines: make(chan string, 16), tail: &tailBuffer{max: 4096}, done: make(chan struct{})}
	cmd.Stderr = w.tail
	var err error
	if w.in, err = cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: start %s: %w", name, argv[0], err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			w.lines <- sc.Text()
		}
		close(w.lines)
	}()
	go func() {
		w.werr = cmd.Wait()
		close(w.done)
	}()
	line, err := w.read(timeout)
	if err == nil && line != "ready" && !strings.HasPrefix(line, "ready ") {
		err = fmt.Errorf("said %q, want ready", line)
	}
	if err != nil {
		w.Kill()
		return nil, w.failure("start", err)
	}
	w.Note = strings.TrimSpace(strings.TrimPrefix(line, "ready"))
	return w, nil
}

// PID is the worker's process id.
func (w *Worker) PID() int { return w.cmd.Process.Pid }

// Run asks for n steps and returns the worker's milliseconds per step.
func (w *Worker) Run(n int, timeout time.Duration) (float64, error) {
	if _, err := fmt.Fprintf(w.in, "run %d\n", n); err != nil {
		return 0, w.failure(fmt.Sprintf("run %d", n), err)
	}
	line, err := w.read(timeout)
	if err != nil {
		return 0, w.failure(fmt.Sprintf("run %d", n), err)
	}
	ms, err := parseReply(line)
	if err != nil {
		return 0, w.failure(fmt.Sprintf("run %d", n), err)
	}
	return ms, nil
}

// parseReply reads "ms_per_step X" (X finite and > 0) or "error MESSAGE".
func parseReply(line string) (float64, error) {
	if msg, ok := strings.CutPrefix(line, "error"); ok {
		return 0, fmt.Errorf("worker error:%s", msg)
	}
	v, ok := strings.CutPrefix(line, "ms_per_step ")
	if !ok {
		return 0, fmt.Errorf("said %q, want ms_per_step X", line)
	}
	ms, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || !(ms > 0) || ms > 1e9 {
		return 0, fmt.Errorf("said %q: not a time", line)
	}
	return ms, nil
}

// PeakRSS is the worker's peak resident set (VmHWM) in bytes.
func (w *Worker) PeakRSS() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", w.PID()))
	if err != nil {
		return 0, fmt.Errorf("%s: %w", w.Name, err)
	}
	return parseVmHWM(string(b))
}

// parseVmHWM finds "VmHWM: N kB" in a /proc/PID/status text.
func parseVmHWM(status string) (int64, error) {
	for _, l := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			f := strings.Fields(v)
			if len(f) == 2 && f[1] == "kB" {
				if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil {
					return kb * 1024, nil
				}
			}
			return 0, fmt.Errorf("malformed %q", l)
		}
	}
	return 0, fmt.Errorf("no VmHWM line")
}

// Quit asks the worker to exit and waits up to timeout, then kills it.
func (w *Worker) Quit(timeout time.Duration) {
	fmt.Fprintln(w.in, "quit")
	w.in.Close()
	select {
	case <-w.done:
	case <-time.After(timeout):
		w.Kill()
	}
}

// Kill ends the worker's process group and waits for it.
func (w *Worker) Kill() {
	select {
	case <-w.done:
		return
	default:
	}
	_ = syscall.Kill(-w.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-w.done:
	case <-time.After(10 * time.Second):
	}
}

// read returns the next stdout line, or an error when the worker exits
// or says nothing for timeout.
func (w *Worker) read(timeout time.Duration) (string, error) {
	select {
	case l, ok := <-w.lines:
		if !ok {
			select { // stdout closed: give the exit status a moment
			case <-w.done:
				return "", fmt.Errorf("exited (%v)", w.werr)
			case <-time.After(5 * time.Second):
				return "", errors.New("closed its stdout")
			}
		}
		return strings.TrimSpace(l), nil
	case <-time.After(timeout):
		w.Kill()
		return "", fmt.Errorf("no answer in %v (killed)", timeout)
	}
}

// failure wraps err with what was asked and the tail of stderr.
func (w *Worker) failure(what string, err error) error {
	if t := w.tail.String(); t != "" {
		return fmt.Errorf("%s: %s: %w; stderr ends:\n%s", w.Name, what, err, t)
	}
	return fmt.Errorf("%s: %s: %w (no stderr)", w.Name, what, err)
}

// tailBuffer keeps the last max bytes written to it (whole lines where it
// can), for error reports.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

// String is the kept text without TensorFlow's info lines, cut at a line
// start.
func (t *tailBuffer) String() string {
	t.mu.Lock()
	s := string(t.b)
	full := len(t.b) < t.max
	t.mu.Unlock()
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if !full && len(lines) > 1 {
		lines = lines[1:] // the first may be cut
	}
	var keep []string
	for _, l := range lines {
		if noise(l) {
			continue
		}
		keep = append(keep, "    "+l)
	}
	return strings.Join(keep, "\n")
}

// noise is a line of TensorFlow's start-up chatter or blank.
func noise(l string) bool {
	return strings.TrimSpace(l) == "" || strings.HasPrefix(l, "I0000") ||
		strings.HasPrefix(l, "WARNING: All log messages before absl") ||
		strings.HasPrefix(l, "E0000") && strings.Contains(l, "cuInit")
}
