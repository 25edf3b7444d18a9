package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSignalExitCodes stops `qat train` (the built binary) with SIGINT
// and with SIGTERM after its third step: it saves a checkpoint and the
// results, says how to continue, and exits 130 and 143 as shells expect.
func TestSignalExitCodes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the qat binary")
	}
	bin := buildQat(t)
	for _, c := range []struct {
		sig  syscall.Signal
		code int
	}{{syscall.SIGINT, 130}, {syscall.SIGTERM, 143}} {
		t.Run(c.sig.String(), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "run")
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, "train", "--example", "3", "--steps", "100000", "--log-every", "1", "--out", out)
			pipe, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			var seen bytes.Buffer
			sc := bufio.NewScanner(pipe)
			for sc.Scan() {
				seen.WriteString(sc.Text() + "\n")
				if strings.HasPrefix(sc.Text(), "step 3/") {
					cmd.Process.Signal(c.sig)
					break
				}
			}
			io.Copy(&seen, pipe)
			cmd.Wait()
			if got := cmd.ProcessState.ExitCode(); got != c.code {
				t.Errorf("exit code %d, want %d; stderr:\n%s", got, c.code, seen.String())
			}
			if !strings.Contains(seen.String(), "qat: interrupted after step ") || !strings.Contains(seen.String(), "(continue with --resume)") {
				t.Errorf("stderr:\n%s", seen.String())
			}
			if cks := listCheckpoints(t, out); len(cks) != 1 {
				t.Errorf("checkpoints %v, want one", cks)
			}
			for _, f := range []string{"losses.csv", "weights.npz", "config.yaml"} {
				if _, err := os.Stat(filepath.Join(out, f)); err != nil {
					t.Error(err)
				}
			}
		})
	}
}
