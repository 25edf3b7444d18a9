// Package testutil holds helpers shared by tests in several packages.
package testutil

import (
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// ReadOnly makes dir unwritable, for root too (chattr +i), or skips.
func ReadOnly(t *testing.T, dir string) {
	t.Helper()
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
	probe := filepath.Join(dir, ".probe")
	if os.WriteFile(probe, nil, 0o644) == nil { // root ignores modes
		os.Remove(probe)
		if out, err := exec.Command("chattr", "+i", dir).CombinedOutput(); err != nil {
			t.Skipf("cannot make %s read-only: chattr: %v %s", dir, err, out)
		}
		t.Cleanup(func() { exec.Command("chattr", "-i", dir).Run() })
		if os.WriteFile(probe, nil, 0o644) == nil {
			os.Remove(probe)
			t.Skipf("cannot make %s read-only", dir)
		}
	}
}

// SameBits reports whether a and b hold the same float32 bits.
func SameBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}
