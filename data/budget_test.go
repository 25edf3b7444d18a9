package data

import (
	"math"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestMemoryBudget(t *testing.T) {
	budget, source := MemoryBudget()
	t.Logf("budget %d (%s)", budget, source)
	if runtime.GOOS == "linux" && (source == "" || budget <= 0 || budget == math.MaxInt64) {
		t.Errorf("on Linux the budget should come from /proc: %d, %q", budget, source)
	}
	prev := SetMemoryLimit(1 << 20)
	t.Cleanup(func() { SetMemoryLimit(prev) })
	if b, s := MemoryBudget(); b != 1<<20 || s != "the cap set with data.SetMemoryLimit" {
		t.Errorf("with a 1 MiB cap: %d, %q", b, s)
	}
}

// TestCgroupFiles reads cgroup v2 and v1 limits from fake folders: the
// room is the limit less the memory in use, the inactive page cache not
// counted; no limit is no answer.
func TestCgroupFiles(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		files                  map[string]string
		limit, usage, inactive string
		want                   int64
		ok                     bool
	}{
		{"v2 limit", map[string]string{"memory.max": "1000\n", "memory.current": "700\n", "memory.stat": "anon 100\ninactive_file 300\nactive_file 5\n"},
			"memory.max", "memory.current", "inactive_file", 600, true},
		{"v2 unlimited", map[string]string{"memory.max": "max\n", "memory.current": "700\n"}, "memory.max", "memory.current", "inactive_file", 0, false},
		{"v2 over", map[string]string{"memory.max": "1000\n", "memory.current": "1700\n"}, "memory.max", "memory.current", "inactive_file", 0, true},
		{"v1 limit", map[string]string{"memory.limit_in_bytes": "4096\n", "memory.usage_in_bytes": "1024\n", "memory.stat": "total_inactive_file 24\n"},
			"memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file", 3096, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, text := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, ok := cgroupFiles(dir, tc.limit, tc.usage, tc.inactive)
			if got != tc.want || ok != tc.ok {
				t.Errorf("cgroupFiles = %d, %v; want %d, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}
