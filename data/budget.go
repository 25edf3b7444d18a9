package data

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/qat-go/qat/internal/measure"
)

// memoryLimit is SetMemoryLimit's cap (0: none).
var memoryLimit atomic.Int64

// SetMemoryLimit caps the memory budget that models are checked against
// (see MemoryBudget) at limit bytes, and returns the previous cap; 0
// removes the cap. It is safe to call from several goroutines.
func SetMemoryLimit(limit int64) int64 {
	if limit < 0 {
		limit = 0
	}
	return memoryLimit.Swap(limit)
}

// MemoryBudget returns how many bytes the process may still allocate, and
// what says so: the smallest of MemAvailable in /proc/meminfo, the room
// left under the cgroup's memory limit (as in a container; the inactive
// page cache counts as room) and the
// cap set by SetMemoryLimit. Where none is known (no /proc), it returns
// math.MaxInt64 and "": only sizes that overflow are then refused.
func MemoryBudget() (int64, string) {
	budget, source := int64(math.MaxInt64), ""
	take := func(v int64, what string) {
		if v >= 0 && v < budget {
			budget, source = v, what
		}
	}
	if v, ok := memAvailable(); ok {
		take(v, "MemAvailable in /proc/meminfo")
	}
	if v, ok := cgroupRoom(); ok {
		take(v, "the room under the cgroup's memory limit")
	}
	if v := memoryLimit.Load(); v > 0 {
		take(v, "the cap set with data.SetMemoryLimit")
	}
	return budget, source
}

// memAvailable reads MemAvailable (kB) from /proc/meminfo.
func memAvailable() (int64, bool) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		rest, ok := strings.CutPrefix(s.Text(), "MemAvailable:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil || kb < 0 || kb > math.MaxInt64/1024 {
			return 0, false
		}
		return kb * 1024, true
	}
	return 0, false
}

// cgroupRoom is the room left under the memory limit of the process's
// cgroup (v2 memory.max, or v1 memory.limit_in_bytes): the limit less the
// memory in use, not counting the inactive page cache, which is reclaimed
// before the limit bites (as the kubelet's working set).
func cgroupRoom() (int64, bool) {
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(strings.TrimSpace(string(self)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			if room, ok := cgroupFiles(cgroupDir("/sys/fs/cgroup", parts[2]), "memory.max", "memory.current", "inactive_file"); ok {
				return room, true
			}
		}
		if slices.Contains(strings.Split(parts[1], ","), "memory") {
			if room, ok := cgroupFiles(cgroupDir("/sys/fs/cgroup/memory", parts[2]), "memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file"); ok {
				return room, true
			}
		}
	}
	return 0, false
}

// cgroupDir is root+path, or root itself where the path is not mounted
// (a container that sees its own cgroup at the root).
func cgroupDir(root, path string) string {
	if _, err := os.Stat(root + path); err == nil {
		return root + path
	}
	return root
}

// cgroupFiles reads a cgroup's limit and usage files and the memory.stat
// key of its inactive page cache.
func cgroupFiles(dir, limitFile, usageFile, inactiveKey string) (int64, bool) {
	read := func(name string) (int64, bool) {
		b, err := os.ReadFile(dir + "/" + name)
		if err != nil {
			return 0, false
		}
		v, err := strconv.ParseInt(string(bytes.TrimSpace(b)), 10, 64)
		return v, err == nil
	}
	limit, ok := read(limitFile) // v2 writes "max" when unlimited: not a number
	if !ok {
		return 0, false
	}
	used, _ := read(usageFile)
	if stat, err := os.ReadFile(dir + "/memory.stat"); err == nil {
		for _, line := range strings.Split(string(stat), "\n") {
			if v, ok := strings.CutPrefix(line, inactiveKey+" "); ok {
				if n, err := strconv.ParseInt(v, 10, 64); err == nil && n <= used {
					used -= n
				}
			}
		}
	}
	if used > limit {
		return 0, true
	}
	return limit - used, true
}

// DescribeBudget words a budget and its source for error messages, e.g.
// "the 1.0 GiB available (MemAvailable in /proc/meminfo)".
func DescribeBudget(budget int64, source string) string {
	if source == "" || budget == math.MaxInt64 {
		return "int64 can count"
	}
	return fmt.Sprintf("the %s available (%s)", measure.Bytes(budget), source)
}
