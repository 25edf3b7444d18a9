// Command loopback measures data-parallel training on a cluster of real
// processes on this machine (the README's "Measured loopback
// throughput"): for 1, 2 and 3 workers (`qat worker`, one ps) and the
// chief (`qat train` from TF_CONFIG), and for `qat train` in one
// process, the time of a training step of the MNIST QAT CNN
// (configs/mnist_cnn_qat8.yaml) at one global batch. A step's time is
// the difference between a run of -steps+10 steps and one of 10, over
// -steps, so start-up and the final evaluation cancel out; runs
// alternate between the setups, -repeats times, and the medians are
// printed as markdown.
//
//	make build && go run ./bench/loopback [-qat bin/qat] [-batch 96] [-steps 60] [-repeats 3]
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

func main() {
	bin := flag.String("qat", "bin/qat", "the qat binary")
	config := flag.String("config", "configs/mnist_cnn_qat8.yaml", "the model's config")
	batch := flag.Int("batch", 96, "the global batch (divisible by 1, 2 and 3)")
	steps := flag.Int("steps", 60, "steps timed per run")
	repeats := flag.Int("repeats", 3, "runs of each setup")
	flag.Parse()
	if err := measure(*bin, *config, *batch, *steps, *repeats); err != nil {
		fmt.Fprintln(os.Stderr, "loopback:", err)
		os.Exit(1)
	}
}

func measure(bin, config string, batch, steps, repeats int) error {
	dir, err := os.MkdirTemp("", "loopback")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	text, err := os.ReadFile(config)
	if err != nil {
		return err
	}
	cfg := filepath.Join(dir, "model.yaml")
	body := strings.Replace(string(text), "batch_size: 64", fmt.Sprintf("batch_size: %d", batch), 1)
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		return err
	}
	setups := []int{0, 1, 2, 3} // workers; 0: one process
	times := map[int][]time.Duration{}
	for r := range repeats {
		for k := range setups {
			n := setups[(k+r)%len(setups)]
			d, err := stepTime(bin, cfg, dir, n, steps)
			if err != nil {
				return fmt.Errorf("%d workers: %w", n, err)
			}
			times[n] = append(times[n], d)
			fmt.Fprintf(os.Stderr, "repeat %d, %d workers: %.2f ms a step\n", r+1, n, ms(d))
		}
	}
	one := median(times[0])
	fmt.Printf("| setup (global batch %d) | ms a step (median of %d) | steps/s | vs one process |\n|---|---:|---:|---:|\n", batch, repeats)
	for _, n := range setups {
		m := median(times[n])
		name := "one process (`qat train`)"
		if n > 0 {
			name = fmt.Sprintf("%d worker(s) of %d rows, 1 ps, chief", n, batch/n)
		}
		fmt.Printf("| %s | %.2f | %.1f | %.2fx |\n", name, ms(m), 1/m.Seconds(), one.Seconds()/m.Seconds())
	}
	return nil
}

// stepTime starts a cluster of n workers (none for n = 0) and returns
// the time of one step.
func stepTime(bin, cfg, dir string, n, steps int) (time.Duration, error) {
	var env []string
	if n > 0 {
		ports, err := freePorts(n + 2)
		if err != nil {
			return 0, err
		}
		var ws []string
		for _, p := range ports[2:] {
			ws = append(ws, fmt.Sprintf("%q", fmt.Sprintf("localhost:%d", p)))
		}
		spec := fmt.Sprintf(`"cluster": {"chief": ["localhost:%d"], "ps": ["localhost:%d"], "worker": [%s]}`, ports[0], ports[1], strings.Join(ws, ", "))
		tasks := []string{`"ps", "index": 0`}
		for i := range n {
			tasks = append(tasks, fmt.Sprintf(`"worker", "index": %d`, i))
		}
		for _, task := range tasks {
			w := exec.Command(bin, "worker")
			w.Env = append(os.Environ(), fmt.Sprintf(`TF_CONFIG={%s, "task": {"type": %s}}`, spec, task))
			if err := w.Start(); err != nil {
				return 0, err
			}
			defer func() { w.Process.Kill(); w.Wait() }()
		}
		env = []string{fmt.Sprintf(`TF_CONFIG={%s, "task": {"type": "chief", "index": 0}}`, spec)}
		time.Sleep(2 * time.Second) // the servers start
	}
	run := func(k int) (time.Duration, error) {
		c := exec.Command(bin, "train", "--config", cfg, "--steps", fmt.Sprint(k), "--out", filepath.Join(dir, "run"))
		c.Env = append(os.Environ(), env...)
		start := time.Now()
		if out, err := c.CombinedOutput(); err != nil {
			return 0, fmt.Errorf("%v\n%s", err, out)
		}
		return time.Since(start), nil
	}
	short, err := run(10)
	if err != nil {
		return 0, err
	}
	long, err := run(10 + steps)
	if err != nil {
		return 0, err
	}
	return (long - short) / time.Duration(steps), nil
}

func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "localhost:0")
		if err != nil {
			return nil, err
		}
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
		defer l.Close()
	}
	return ports, nil
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
