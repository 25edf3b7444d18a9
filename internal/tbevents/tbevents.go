// Package tbevents reads TensorBoard event files for tests with
// TensorBoard's own reader (EventAccumulator, run by the oracle script
// third_party/reference/tensorboard_read.py). Nothing outside tests
// imports it.
package tbevents

import (
	"encoding/json"
	"fmt"

	"github.com/qat-go/qat/internal/oracle"
)

// Run is what TensorBoard reads from one run's folder.
type Run struct {
	Files       []string               `json:"files"`
	FileVersion float64                `json:"file_version"`
	Scalars     map[string][]Point     `json:"scalars"`
	Histograms  map[string][]Histogram `json:"histograms"`
}

// Point is one scalar event: [step, value].
type Point [2]float64

// Step returns the event's step.
func (p Point) Step() int64 { return int64(p[0]) }

// Value returns the event's value as the float32 in the file.
func (p Point) Value() float32 { return float32(p[1]) }

// Histogram is one histogram event (TensorFlow's HistogramProto).
type Histogram struct {
	Step        int64     `json:"step"`
	Min         float64   `json:"min"`
	Max         float64   `json:"max"`
	Num         float64   `json:"num"`
	Sum         float64   `json:"sum"`
	SumSquares  float64   `json:"sum_squares"`
	BucketLimit []float64 `json:"bucket_limit"`
	Bucket      []float64 `json:"bucket"`
}

// Read reads the event files in dir with TensorBoard's EventAccumulator.
func Read(dir string) (*Run, error) {
	out, err := oracle.Run("tensorboard_read.py", dir)
	if err != nil {
		return nil, err
	}
	var r Run
	if err := json.Unmarshal(out, &r); err != nil {
		return nil, fmt.Errorf("tbevents: %w\n%s", err, out)
	}
	return &r, nil
}
