// Package oracle runs the Python TensorFlow reference scripts under
// third_party/reference for tests. Nothing outside tests imports it: the Go
// library never runs Python.
package oracle

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
)

// Root returns the repository root (the folder holding go.mod).
func Root() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("oracle: cannot locate source file")
	}
	return filepath.Abs(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Python returns the project venv's python: $QAT_PYTHON, else .venv/bin/python.
func Python() (string, error) {
	if p := os.Getenv("QAT_PYTHON"); p != "" {
		return p, nil
	}
	root, err := Root()
	if err != nil {
		return "", err
	}
	p := filepath.Join(root, ".venv", "bin", "python")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("oracle: %s not found; run `make deps` (tests need the project's TensorFlow venv)", p)
	}
	return p, nil
}

// Run runs third_party/reference/<script> with args and returns its stdout.
func Run(script string, args ...string) ([]byte, error) {
	py, err := Python()
	if err != nil {
		return nil, err
	}
	root, err := Root()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(py, append([]string{filepath.Join(root, "third_party", "reference", script)}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("oracle %s: %w\n%s", script, err, tail(stderr.Bytes(), 3000))
	}
	return stdout.Bytes(), nil
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
