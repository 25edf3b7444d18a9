package main

import (
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
)

// tfliteConvert is the script that runs TensorFlow's TFLite converter.
//
//go:embed tflite_convert.py
var tfliteConvert []byte

type convertFlags struct {
	savedModel, out, python string
	int8IO                  bool
}

func newConvert() *cobra.Command {
	f := &convertFlags{}
	c := &cobra.Command{
		Use:   "convert",
		Short: "Convert an exported SavedModel to a fully integer (int8) TFLite model",
		Long: `Convert a SavedModel written by qat export into an int8 TFLite model with
TensorFlow's TFLiteConverter: the FakeQuant ranges become int8 weights (per
channel for convolutions) and int8 activations; only TFLite's integer ops are
allowed. This step runs Python TensorFlow (the project's venv, or --python /
$QAT_PYTHON): the qat library itself never does.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return convert(c, f) },
	}
	fl := c.Flags()
	fl.StringVar(&f.savedModel, "saved-model", "", "the SavedModel `folder` (required)")
	fl.StringVar(&f.out, "out", "", "the .tflite `file` to write (default <folder>.tflite)")
	fl.BoolVar(&f.int8IO, "int8-io", false, "make the model's input and output int8 too (default float32)")
	fl.StringVar(&f.python, "python", "", "Python with TensorFlow `path` (default $QAT_PYTHON, then .venv/bin/python)")
	return c
}

func convert(c *cobra.Command, f *convertFlags) error {
	if f.savedModel == "" {
		return fmt.Errorf("--saved-model is required")
	}
	if !fileExists(filepath.Join(f.savedModel, "saved_model.pb")) {
		return fmt.Errorf("%s has no saved_model.pb: export one with qat export first", f.savedModel)
	}
	out := f.out
	if out == "" {
		out = strings.TrimSuffix(filepath.Clean(f.savedModel), string(filepath.Separator)) + ".tflite"
	}
	py, err := findPython(f.python)
	if err != nil {
		return err
	}
	script, err := os.CreateTemp("", "qat-tflite-convert-*.py")
	if err != nil {
		return err
	}
	defer os.Remove(script.Name())
	if _, err := script.Write(tfliteConvert); err != nil {
		script.Close()
		return err
	}
	if err := script.Close(); err != nil {
		return err
	}
	args := []string{script.Name(), f.savedModel, out}
	if f.int8IO {
		args = append(args, "--int8-io")
	}
	cmd := exec.CommandContext(c.Context(), py, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	info, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("TFLite conversion of %s failed: %w\n%s", f.savedModel, err, lastLines(stderr.String(), 15))
	}
	fmt.Fprintf(c.OutOrStdout(), "wrote %s\n%s", out, info)
	return nil
}

// findPython returns the Python to run: the flag, $QAT_PYTHON, or the
// project venv next to the working folder.
func findPython(flag string) (string, error) {
	for _, p := range []string{flag, os.Getenv("QAT_PYTHON"), filepath.Join(".venv", "bin", "python")} {
		if p == "" {
			continue
		}
		if path, err := exec.LookPath(p); err == nil {
			return path, nil
		}
		if flag != "" && p == flag {
			return "", fmt.Errorf("--python %s: not an executable", flag)
		}
	}
	return "", fmt.Errorf("no Python with TensorFlow found: give --python, set QAT_PYTHON, or run make deps (it creates .venv)")
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
