package main

import (
	"math"
	"strings"
	"testing"

	"github.com/qat-go/qat/models"
)

// TestMultiplyAdds counts the MNIST CNN's multiply-adds, by hand: c1
// 26x26 positions x 3x3x1x32, c2 11x11 x 3x3x32x64, d1 1600x128, d 128x10.
func TestMultiplyAdds(t *testing.T) {
	cfg, err := models.LoadConfig("../../configs/mnist_cnn_qat8.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m, err := cfg.Model()
	if err != nil {
		t.Fatal(err)
	}
	w, err := cfg.InitialWeights()
	if err != nil {
		t.Fatal(err)
	}
	got, err := multiplyAdds(m, w)
	if want := int64(26*26*288 + 11*11*18432 + 1600*128 + 128*10); err != nil || got != want {
		t.Errorf("multiply-adds %d, %v; want %d", got, err, want)
	}
}

// TestMobileNetV2Size checks that the zoo's MobileNetV2 1.0 with 1000
// classes has the parameters of Keras's MobileNetV2 (model.summary():
// 3,538,984 in all, 3,504,872 trainable).
func TestMobileNetV2Size(t *testing.T) {
	m, err := models.MobileNetV2(1.0, []int64{224, 224, 3}, 1000, nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := m.InitialWeights(nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	var all, trainable int
	for name, a := range w {
		all += len(a.Data)
		if !strings.HasSuffix(name, "/moving_mean") && !strings.HasSuffix(name, "/moving_variance") {
			trainable += len(a.Data)
		}
	}
	if all != 3538984 || trainable != 3504872 {
		t.Errorf("%d parameters, %d trainable; Keras's MobileNetV2 has 3538984 and 3504872", all, trainable)
	}
}

func TestInterpolate(t *testing.T) {
	xs, ys := []float64{21, 32, 64}, []float64{10, 21, 53}
	for _, c := range []struct{ x, want float64 }{
		{21, 10}, {32, 21}, {64, 53}, {26.5, 15.5}, {48, 37}, // on the lines
		{8, -3}, {128, 117}, // beyond: the first and the last line continued
	} {
		if got := interpolate(xs, ys, c.x); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("interpolate(%g) = %g, want %g", c.x, got, c.want)
		}
	}
	if a, s := fitLine([]float64{1, 2, 3}, []float64{3, 5, 7}); math.Abs(a-1) > 1e-12 || math.Abs(s-2) > 1e-12 {
		t.Errorf("fitLine: %g + %g x, want 1 + 2x", a, s)
	}
}
