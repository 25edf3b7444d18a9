package tfgraph

import "testing"

func TestKeepFreedMemory(t *testing.T) {
	if err := KeepFreedMemory(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		size int
		maps bool
	}{
		{1 << 20, false},
		{MallocMmapThreshold - 4096, false},
		{2 * MallocMmapThreshold, true},
	} {
		if got := mallocMaps(c.size); got != c.maps {
			t.Errorf("after KeepFreedMemory, malloc(%d) mapped on its own: %v, want %v", c.size, got, c.maps)
		}
	}
}
