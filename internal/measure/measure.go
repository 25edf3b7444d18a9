// Package measure counts tensor sizes without overflow and words counts
// for error messages: the arithmetic that memory budgets and input checks
// share across data, layers and models.
package measure

import (
	"fmt"
	"math"
	"math/bits"
	"strings"
)

// Mul returns a*b for a, b >= 0, saturating at math.MaxInt64.
func Mul(a, b int64) int64 {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi != 0 || lo > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(lo)
}

// Add returns a+b for a, b >= 0, saturating at math.MaxInt64.
func Add(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// Elements is the number of values of a tensor of the given shape, or an
// error if a dimension is not > 0 or the count overflows int64.
func Elements(shape []int64) (int64, error) {
	n := int64(1)
	for _, d := range shape {
		if d <= 0 {
			return 0, fmt.Errorf("shape %v: every dimension must be > 0", shape)
		}
		if n > math.MaxInt64/d {
			return 0, fmt.Errorf("shape %v has more than 2^63 values", shape)
		}
		n *= d
	}
	return n, nil
}

// Bytes prints n bytes with a binary unit, e.g. "1.5 GiB".
func Bytes(n int64) string {
	if n == math.MaxInt64 {
		return "more than 8 EiB"
	}
	units := []string{"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	v, i := float64(n), 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d bytes", n)
	}
	return fmt.Sprintf("%.1f %s", v, units[i])
}

// List joins names with commas: the first ten and a count of the rest.
func List(names []string) string {
	if len(names) > 10 {
		return strings.Join(names[:10], ", ") + fmt.Sprintf(" and %d more", len(names)-10)
	}
	return strings.Join(names, ", ")
}
