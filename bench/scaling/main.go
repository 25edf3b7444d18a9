// Command scaling measures one process's training step and prints, as
// markdown, the speedup cluster.Scaling models for 1..8 workers and one ps
// on 10 and 25 Gb/s links (the README's "Scaling model"):
//
//   - the MNIST QAT CNN of configs/mnist_cnn_qat8.yaml, global batch 64:
//     its step measured at batches 21, 32 and 64 (the shards of 3, 2 and
//     1 workers), and taken along the lines through those points;
//   - MobileNetV2 1.0 (ImageNet, 224x224x3, 1000 classes), global batch
//     256: the zoo's MobileNetV2 of width 1.0 and 1000 classes (Keras's
//     layers and its 3,538,984 parameters; models.MobileNetV2 keeps only
//     two of the five stride-2 layers, so it is measured on -size inputs)
//     measured at -batches, fitted with a line whose time per example is
//     scaled by the multiply-adds of a 224x224 image over the measured
//     model's (assumed: the same time per multiply-add).
//
// Both train with the scheme's 8-bit QAT and Adam, one thread, graph
// numerics. The bytes a worker reads and writes a step are the model's
// trainable weights (float32); the barriers are its quantizers
// and batch norms (a cross-replica min/max or moments each).
//
//	go run ./bench/scaling [-steps 30] [-round-trip 200us]
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/qat-go/qat/cluster"
	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/data/mnist"
	"github.com/qat-go/qat/layers"
	"github.com/qat-go/qat/loop"
	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/tfgraph"
)

// mobileNetV2MAdds is MobileNetV2 1.0's multiply-adds for one 224x224
// image: 300M in Sandler et al., "MobileNetV2: Inverted Residuals and
// Linear Bottlenecks", CVPR 2018, table 4; this is multiplyAdds's count
// over Keras's tf.keras.applications.MobileNetV2(input_shape=(224, 224,
// 3)) of the venv's TensorFlow 2.21, made once with Python.
const mobileNetV2MAdds = 300_774_272

// profile is what the model needs of one network.
type profile struct {
	name               string
	globalBatch        int
	compute            func(b float64) time.Duration
	paramBytes         int64
	barriers           int
	measured, perImage string // for the notes
}

func main() {
	steps := flag.Int("steps", 30, "steps timed at each batch, after -warmup")
	warmup := flag.Int("warmup", 5, "steps run before timing")
	roundTrip := flag.Duration("round-trip", 200*time.Microsecond, "one barrier's round trip to the ps (assumed)")
	size := flag.Int("size", 32, "MobileNetV2: side of the measured inputs")
	batches := flag.String("batches", "8,16", "MobileNetV2: batches measured")
	flag.Parse()
	cnn, err := mnistCNN(*warmup, *steps)
	if err != nil {
		fail(err)
	}
	var bs []int
	for f := range strings.SplitSeq(*batches, ",") {
		b, err := strconv.Atoi(f)
		if err != nil || b < 1 {
			fail(fmt.Errorf("-batches %q: want positive integers", *batches))
		}
		bs = append(bs, b)
	}
	mnv2, err := mobileNet(*size, bs, *warmup, *steps)
	if err != nil {
		fail(err)
	}
	if err := table(os.Stdout, []profile{cnn, mnv2}, *roundTrip); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "scaling:", err)
	os.Exit(1)
}

// mnistCNN measures configs/mnist_cnn_qat8.yaml at the shards of 1, 2 and
// 3 workers; its compute goes through the measured points, and on along
// the line through the nearest two beyond them.
func mnistCNN(warmup, steps int) (profile, error) {
	cfg, err := models.LoadConfig("configs/mnist_cnn_qat8.yaml")
	if err != nil {
		return profile{}, err
	}
	m, err := cfg.Model()
	if err != nil {
		return profile{}, err
	}
	train, _, err := mnist.Load()
	if err != nil {
		return profile{}, err
	}
	init, err := cfg.InitialWeights()
	if err != nil {
		return profile{}, err
	}
	p := profile{name: "MNIST QAT CNN", globalBatch: cfg.BatchSize}
	xs, ys, err := measure(&p, m, train, init, cfg.Optimizer, []int{21, 32, 64}, warmup, steps)
	p.compute = func(b float64) time.Duration { return time.Duration(max(0, interpolate(xs, ys, b))) }
	return p, err
}

// mobileNet measures models.MobileNetV2(1.0) on size x size x 3 inputs
// and scales its time per example to 224x224 by multiply-adds.
func mobileNet(size int, batches []int, warmup, steps int) (profile, error) {
	cfg, err := models.LoadConfig("configs/mnist_mobilenetv2_qat8.yaml") // for its scheme and optimizer
	if err != nil {
		return profile{}, err
	}
	m, err := models.MobileNetV2(1.0, []int64{int64(size), int64(size), 3}, 1000, cfg.Scheme)
	if err != nil {
		return profile{}, err
	}
	n := 2 * slices.Max(batches)
	ds, err := data.Synthetic(n, size*size*3, 1000, 1)
	if err != nil {
		return profile{}, err
	}
	ds.X.Shape = []int64{int64(n), int64(size), int64(size), 3}
	init, err := m.InitialWeights(nil, 1)
	if err != nil {
		return profile{}, err
	}
	p := profile{name: "MobileNetV2 1.0", globalBatch: 256}
	xs, ys, err := measure(&p, m, ds, init, cfg.Optimizer, batches, warmup, steps)
	if err != nil {
		return profile{}, err
	}
	madds, err := multiplyAdds(m, init)
	if err != nil {
		return profile{}, err
	}
	scale := mobileNetV2MAdds / float64(madds)
	a, slope := fitLine(xs, ys)
	p.compute = cluster.Linear(time.Duration(a), time.Duration(slope*scale))
	p.measured += fmt.Sprintf("; least squares: %s + %s an example; %.1fM multiply-adds an image on %dx%dx3, %.0fM on 224x224 (x %.2f): %s + %s an example",
		ms(time.Duration(a)), ms(time.Duration(slope)), float64(madds)/1e6, size, size, mobileNetV2MAdds/1e6, scale,
		ms(time.Duration(a)), ms(time.Duration(slope*scale)))
	return p, nil
}

// measure times steps at each batch (the median step after warmup),
// returns the batches and the medians in nanoseconds, and reads the bytes
// and barriers of the model it built.
func measure(p *profile, m models.Model, ds data.Dataset, init data.Weights, opt models.OptimizerConfig, batches []int, warmup, steps int) (xs, ys []float64, err error) {
	var parts []string
	for _, b := range batches {
		lc := loop.DefaultConfig()
		if lc.Optimizer, err = loop.NewOptimizer(opt); err != nil {
			return nil, nil, err
		}
		lc.BatchSize, lc.Session = b, tfgraph.SessionConfig{IntraOpThreads: 1, InterOpThreads: tfgraph.InlineOps}
		tr, err := loop.NewTrainer(m, ds, init, lc)
		if err != nil {
			return nil, nil, err
		}
		times := make([]time.Duration, 0, steps)
		for i := range warmup + steps {
			start := time.Now()
			if _, err := tr.Step(); err != nil {
				tr.Close()
				return nil, nil, err
			}
			if i >= warmup {
				times = append(times, time.Since(start))
			}
		}
		slices.Sort(times)
		med := times[len(times)/2]
		fmt.Fprintf(os.Stderr, "%s: batch %d: median step %v (%d steps, %v..%v)\n", p.name, b, med, steps, times[0], times[len(times)-1])
		xs, ys = append(xs, float64(b)), append(ys, float64(med))
		parts = append(parts, fmt.Sprintf("%d: %s", b, ms(med)))
		if b == batches[0] {
			if p.paramBytes, p.barriers, err = weightsAndBarriers(m, tr); err != nil {
				tr.Close()
				return nil, nil, err
			}
		}
		if err := tr.Close(); err != nil {
			return nil, nil, err
		}
	}
	p.measured = fmt.Sprintf("median step at batch %s", strings.Join(parts, ", "))
	return xs, ys, nil
}

// weightsAndBarriers returns the bytes of the trained model's trainable
// weights (not batch norms' moving statistics) and its barriers: one per
// quantizer (every range joins the replicas' rendezvous in
// loop.DataParallel, the weights' too) and batch norm.
func weightsAndBarriers(m models.Model, tr *loop.Trainer) (int64, int, error) {
	w, err := tr.Weights()
	if err != nil {
		return 0, 0, err
	}
	var bytes int64
	for name, a := range w {
		if !strings.HasSuffix(name, "/moving_mean") && !strings.HasSuffix(name, "/moving_variance") {
			bytes += 4 * int64(len(a.Data))
		}
	}
	r, err := tr.Ranges()
	if err != nil {
		return 0, 0, err
	}
	barriers := 0
	for name := range r {
		if strings.HasSuffix(name, "_min") {
			barriers++
		}
	}
	for _, l := range m.Layers {
		if _, ok := l.(layers.BatchNorm); ok {
			barriers++
		}
	}
	return bytes, barriers, nil
}

// multiplyAdds counts the multiply-adds of one example through m's
// convolutions and dense layers: each kernel's size times its output's
// positions.
func multiplyAdds(m models.Model, w data.Weights) (int64, error) {
	shapes, err := m.Shapes()
	if err != nil {
		return 0, err
	}
	var total int64
	for i, l := range m.Layers {
		for _, k := range []string{"/kernel", "/depthwise_kernel"} {
			if a, ok := w[l.LayerName()+k]; ok {
				positions := int64(1)
				for _, d := range shapes[i][:len(shapes[i])-1] {
					positions *= d
				}
				total += positions * int64(len(a.Data))
			}
		}
	}
	return total, nil
}

// interpolate returns y at x on the lines through the points (xs
// increasing), continued beyond the first and the last.
func interpolate(xs, ys []float64, x float64) float64 {
	i := 1
	for i < len(xs)-1 && x > xs[i] {
		i++
	}
	return ys[i-1] + (x-xs[i-1])*(ys[i]-ys[i-1])/(xs[i]-xs[i-1])
}

// fitLine returns the least-squares line y = a + s x.
func fitLine(xs, ys []float64) (a, s float64) {
	n := float64(len(xs))
	var sx, sy, sxx, sxy float64
	for i := range xs {
		sx, sy, sxx, sxy = sx+xs[i], sy+ys[i], sxx+xs[i]*xs[i], sxy+xs[i]*ys[i]
	}
	s = (n*sxy - sx*sy) / (n*sxx - sx*sx)
	return (sy - s*sx) / n, s
}

// links are the networks of the table, in bits per second.
var links = []float64{10e9, 25e9}

// table writes the notes on each profile and the speedup of 1..8 workers
// on each link as markdown.
func table(w io.Writer, ps []profile, roundTrip time.Duration) error {
	fmt.Fprintf(w, "Modelled with `cluster.Scaling` (`go run ./bench/scaling`), one ps, one thread a task, a barrier round trip of %v (assumed):\n\n", roundTrip)
	head, rule := "| workers |", "|---:|"
	for _, p := range ps {
		fmt.Fprintf(w, "- %s, global batch %d: %s; %.2f MB of trainable weights read and %.2f MB of gradients written by each worker a step; %d barriers a step.\n",
			p.name, p.globalBatch, p.measured, float64(p.paramBytes)/1e6, float64(p.paramBytes)/1e6, p.barriers)
		for _, l := range links {
			head += fmt.Sprintf(" %s, %g Gb/s |", p.name, l/1e9)
			rule += "---:|"
		}
	}
	fmt.Fprintf(w, "\nSpeedup over one process (and the modelled step):\n\n%s\n%s\n", head, rule)
	for n := 1; n <= 8; n++ {
		row := fmt.Sprintf("| %d |", n)
		for _, p := range ps {
			for _, l := range links {
				s := cluster.Scaling{Compute: p.compute, GlobalBatch: p.globalBatch,
					ParamBytes: p.paramBytes, Bandwidth: l, RoundTrip: roundTrip, Barriers: p.barriers}
				e, err := s.Estimate(n)
				if err != nil {
					return err
				}
				row += fmt.Sprintf(" %.2fx (%s) |", e.Speedup, ms(e.Step))
			}
		}
		fmt.Fprintln(w, row)
	}
	return nil
}

// ms formats d with about three significant digits, in ms below a second.
func ms(d time.Duration) string {
	v, unit := float64(d)/1e6, " ms"
	if d >= time.Second {
		v, unit = d.Seconds(), " s"
	}
	digits := 2
	if v >= 100 {
		digits = 0
	} else if v >= 10 {
		digits = 1
	}
	return strconv.FormatFloat(v, 'f', digits, 64) + unit
}
