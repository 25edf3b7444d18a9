package tfquiet_test

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/qat-go/qat/tfquiet"
	tf "github.com/wamuir/graft/tensorflow"
)

const childEnv = "QAT_TFQUIET_CHILD"

// TestMain makes the test binary, which links libtensorflow and this
// package, act as a program that uses TensorFlow when childEnv is set.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		_, started := os.LookupEnv("QAT_TFQUIET_STARTED")
		fmt.Printf("TensorFlow %s, level %d, TF_CPP_MIN_LOG_LEVEL=%q, mark left: %v\n",
			tf.Version(), tfquiet.Level(), os.Getenv("TF_CPP_MIN_LOG_LEVEL"), started)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestStartupLines(t *testing.T) {
	for _, tc := range []struct {
		name      string
		env       []string // set, or "-NAME" to unset
		wantLevel string
		startup   bool // TensorFlow's start-up INFO lines on stderr
	}{
		{"unset: level 1, lines hidden", []string{"-TF_CPP_MIN_LOG_LEVEL"}, `level 1, TF_CPP_MIN_LOG_LEVEL="1"`, false},
		{"empty: as unset", []string{"TF_CPP_MIN_LOG_LEVEL="}, `level 1, TF_CPP_MIN_LOG_LEVEL="1"`, false},
		{"1: lines hidden", []string{"TF_CPP_MIN_LOG_LEVEL=1"}, `level 1, TF_CPP_MIN_LOG_LEVEL="1"`, false},
		{"3: lines hidden", []string{"TF_CPP_MIN_LOG_LEVEL=3"}, `level 3, TF_CPP_MIN_LOG_LEVEL="3"`, false},
		{"0: everything shown", []string{"TF_CPP_MIN_LOG_LEVEL=0"}, `level 0, TF_CPP_MIN_LOG_LEVEL="0"`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			env := append(os.Environ(), childEnv+"=1")
			for _, e := range tc.env {
				if name, ok := strings.CutPrefix(e, "-"); ok {
					env = without(env, name)
				} else {
					env = append(without(env, strings.SplitN(e, "=", 2)[0]), e)
				}
			}
			cmd.Env = env
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("%v\n%s", err, stderr.String())
			}
			if !strings.Contains(stdout.String(), tc.wantLevel+", mark left: false") {
				t.Errorf("stdout %q, want %q", stdout.String(), tc.wantLevel)
			}
			shown := strings.Contains(stderr.String(), "I0000")
			if shown != tc.startup {
				t.Errorf("INFO start-up lines shown: %v, want %v; stderr:\n%s", shown, tc.startup, stderr.String())
			}
		})
	}
}

func without(env []string, name string) []string {
	var out []string
	for _, e := range env {
		if !strings.HasPrefix(e, name+"=") {
			out = append(out, e)
		}
	}
	return out
}
