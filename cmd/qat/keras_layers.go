package main

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/qat-go/qat/layers"
	"github.com/qat-go/qat/models"
)

// kerasLayer is one layer as keras_export.py describes it.
type kerasLayer struct {
	Name    string         `json:"name"`
	Class   string         `json:"class"`
	Config  map[string]any `json:"config"`
	Inbound []string       `json:"inbound"`
	Weights []kerasWeight  `json:"weights"`
	// OutputShape is the layer's output shape without the batch axis
	// (nil if Keras did not say).
	OutputShape []*int64 `json:"output_shape"`
	Nested      bool     `json:"nested"`
}

// kerasWeight is one of a layer's variables; Key names its array in the
// exporter's .npz (empty for non-float32 state, such as a seed).
type kerasWeight struct {
	Name  string  `json:"name"`
	Key   string  `json:"key"`
	Shape []int64 `json:"shape"`
	Dtype string  `json:"dtype"`
}

// translated is what one Keras layer becomes: a qat layer (nil: none, the
// layer passes its input through) and the Keras weight behind each of the
// qat layer's variables (qat variable -> Keras variable name).
type translated struct {
	layer *models.LayerConfig
	vars  map[string]string
	note  string
}

// kerasContext tells a layer's translation what it cannot see in its own
// config: whether it is the model's output.
type kerasContext struct {
	isOutput bool
	// keras3 is set when Keras 3 read the model (not tf_keras).
	keras3 bool
}

// kerasTranslators maps a Keras layer class to its translation: one small
// function per class. The classes not here are not supported.
var kerasTranslators = map[string]func(k kerasSettings, ctx kerasContext) (translated, error){
	"Dense":              kerasDense,
	"Conv2D":             kerasConv2D,
	"DepthwiseConv2D":    kerasDepthwise,
	"BatchNormalization": kerasBatchNorm,
	"MaxPooling2D":       kerasPool(models.TypeMaxPool),
	"AveragePooling2D":   kerasPool(models.TypeAvgPool),
	"Flatten":            kerasFlatten,
	"ReLU":               kerasReLU,
	"Activation":         kerasActivationLayer,
	"Softmax":            kerasSoftmax,
	// The graph layers.
	"Add":                    kerasAdd,
	"Concatenate":            kerasConcatenate,
	"GlobalAveragePooling2D": kerasGlobalAvgPool,
	"ZeroPadding2D":          kerasZeroPadding2D,
	"Dropout":                kerasDropout,
	"Reshape":                kerasReshape,
}

// supportedKeras lists the supported Keras layer classes, for errors.
func supportedKeras() string {
	names := []string{"InputLayer"}
	for n := range kerasTranslators {
		names = append(names, n)
	}
	sort.Strings(names[1:])
	return strings.Join(names, ", ")
}

// kerasSettings reads a layer's Keras config; its errors name the layer,
// its class and the setting.
type kerasSettings struct {
	l *kerasLayer
}

func (k kerasSettings) errorf(format string, args ...any) error {
	return fmt.Errorf("layer %q (%s): %s", k.l.Name, k.l.Class, fmt.Sprintf(format, args...))
}

// unsupported is the error for a setting qat's layers do not have.
func (k kerasSettings) unsupported(key string, v any, want string) error {
	return k.errorf("%s %s is not supported (qat supports %s)", key, show(v), want)
}

// show prints a config value as Keras users write it.
func show(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("%q", v)
	case nil:
		return "None"
	case bool:
		if v {
			return "True"
		}
		return "False"
	case []any:
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = show(x)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return fmt.Sprint(v)
}

func (k kerasSettings) str(key, def string) string {
	if s, ok := k.l.Config[key].(string); ok {
		return s
	}
	return def
}

func (k kerasSettings) number(key string) (float64, bool) {
	f, ok := k.l.Config[key].(float64)
	return f, ok
}

// integer reads a whole-number setting.
func (k kerasSettings) integer(key string) (int, error) {
	f, ok := k.number(key)
	if !ok || f != math.Trunc(f) || f < 1 || f > math.MaxInt32 {
		return 0, k.errorf("%s %s: want a positive whole number", key, show(k.l.Config[key]))
	}
	return int(f), nil
}

// pair reads an [h, w] setting (Keras also writes a single n for [n, n]);
// a missing or None setting is def.
func (k kerasSettings) pair(key string, def []int) ([]int, error) {
	v, ok := k.l.Config[key]
	if !ok || v == nil {
		return def, nil
	}
	if f, ok := v.(float64); ok {
		v = []any{f, f}
	}
	list, ok := v.([]any)
	if !ok || len(list) != 2 {
		return nil, k.errorf("%s %s: want [height, width]", key, show(v))
	}
	out := make([]int, 2)
	for i, x := range list {
		f, ok := x.(float64)
		if !ok || f != math.Trunc(f) || f < 1 || f > math.MaxInt32 {
			return nil, k.errorf("%s %s: want two positive whole numbers", key, show(v))
		}
		out[i] = int(f)
	}
	return out, nil
}

// want checks that setting key, if present, is one of the values allowed
// (compared as printed).
func (k kerasSettings) want(key, qat string, allowed ...any) error {
	v, ok := k.l.Config[key]
	if !ok {
		return nil
	}
	for _, a := range allowed {
		if fmt.Sprint(v) == fmt.Sprint(a) {
			return nil
		}
	}
	return k.unsupported(key, v, qat)
}

// channelsLast checks data_format.
func (k kerasSettings) channelsLast() error {
	return k.want("data_format", "channels_last only", "channels_last", nil)
}

// padding maps Keras's padding to qat's ("" is qat's default, valid).
func (k kerasSettings) padding() (string, error) {
	switch p := k.str("padding", "valid"); p {
	case "valid":
		return "", nil
	case "same":
		return "same", nil
	default:
		return "", k.unsupported("padding", p, `"valid" and "same"`)
	}
}

// activation maps a Keras activation setting to qat's. A softmax is
// accepted on the model's output only, where it is dropped: qat trains on
// logits with softmax cross-entropy, which is Keras's categorical
// cross-entropy of the softmax's outputs.
func (k kerasSettings) activation(key string, ctx kerasContext) (act string, note string, err error) {
	v := k.l.Config[key]
	switch v {
	case nil, "linear":
		return "", "", nil
	case "relu":
		return layers.ReLUAct, "", nil
	case "relu6":
		return layers.ReLU6Act, "", nil
	case "softmax":
		if ctx.isOutput {
			return "", fmt.Sprintf("layer %q: its softmax is left out (qat trains on the logits with softmax cross-entropy)", k.l.Name), nil
		}
	}
	return "", "", k.unsupported(key, v, `"linear", "relu", "relu6" (and "softmax" on the model's output)`)
}

// useBias reads use_bias (default true).
func (k kerasSettings) useBias() bool {
	b, ok := k.l.Config["use_bias"].(bool)
	return !ok || b
}

// weighted is the common part of Dense and the convolutions: their
// variables, one setting qat lacks.
func (k kerasSettings) weighted(kernel string) (map[string]string, error) {
	if err := k.want("lora_rank", "no LoRA", nil); err != nil {
		return nil, err
	}
	vars := map[string]string{kernel: "kernel"}
	if kernel == "depthwise_kernel" && k.hasWeight("depthwise_kernel") { // tf_keras's name
		vars[kernel] = "depthwise_kernel"
	}
	if k.useBias() {
		vars["bias"] = "bias"
	}
	return vars, nil
}

func (k kerasSettings) hasWeight(name string) bool {
	return slices.ContainsFunc(k.l.Weights, func(w kerasWeight) bool { return w.Name == name })
}

func kerasDense(k kerasSettings, ctx kerasContext) (translated, error) {
	units, err := k.integer("units")
	if err != nil {
		return translated{}, err
	}
	act, note, err := k.activation("activation", ctx)
	if err != nil {
		return translated{}, err
	}
	if !k.useBias() {
		return translated{}, k.unsupported("use_bias", false, "dense layers with a bias only")
	}
	vars, err := k.weighted("kernel")
	return translated{layer: &models.LayerConfig{Type: models.TypeDense, Units: units, Activation: act}, vars: vars, note: note}, err
}

// convolution reads what Conv2D and DepthwiseConv2D share.
func (k kerasSettings) convolution(ctx kerasContext) (l models.LayerConfig, note string, err error) {
	if err = k.channelsLast(); err != nil {
		return
	}
	if err = k.want("dilation_rate", "[1, 1] only", []any{1.0, 1.0}, 1.0); err != nil {
		return
	}
	if err = k.want("groups", "1 only", 1.0); err != nil {
		return
	}
	if l.Kernel, err = k.pair("kernel_size", nil); err != nil {
		return
	}
	if l.Kernel == nil {
		return l, "", k.errorf("kernel_size is missing")
	}
	if l.Strides, err = k.pair("strides", nil); err != nil {
		return
	}
	if slices.Equal(l.Strides, []int{1, 1}) {
		l.Strides = nil
	}
	if l.Padding, err = k.padding(); err != nil {
		return
	}
	l.Activation, note, err = k.activation("activation", ctx)
	l.NoBias = !k.useBias()
	return
}

func kerasConv2D(k kerasSettings, ctx kerasContext) (translated, error) {
	l, note, err := k.convolution(ctx)
	if err != nil {
		return translated{}, err
	}
	l.Type = models.TypeConv2D
	if l.Filters, err = k.integer("filters"); err != nil {
		return translated{}, err
	}
	vars, err := k.weighted("kernel")
	return translated{layer: &l, vars: vars, note: note}, err
}

func kerasDepthwise(k kerasSettings, ctx kerasContext) (translated, error) {
	l, note, err := k.convolution(ctx)
	if err != nil {
		return translated{}, err
	}
	l.Type = models.TypeDepthwise
	if m, err := k.integer("depth_multiplier"); err != nil {
		return translated{}, err
	} else if m != 1 {
		l.Multiplier = m
	}
	vars, err := k.weighted("depthwise_kernel")
	return translated{layer: &l, vars: vars, note: note}, err
}

func kerasBatchNorm(k kerasSettings, ctx kerasContext) (translated, error) {
	// The axis must be the last: -1, or the index of the last axis
	// counting the batch axis (tf_keras writes it as a one-element list).
	axis := k.l.Config["axis"]
	if list, ok := axis.([]any); ok && len(list) == 1 {
		axis = list[0]
	}
	last := float64(len(k.l.OutputShape))
	if a, ok := axis.(float64); !ok || (a != -1 && (k.l.OutputShape == nil || a != last)) {
		return translated{}, k.unsupported("axis", k.l.Config["axis"], "the last axis (channels) only")
	}
	for _, s := range []string{"center", "scale"} {
		if err := k.want(s, "True only: its batch_norm always has beta and gamma", true); err != nil {
			return translated{}, err
		}
	}
	for _, s := range []struct{ key, qat string }{
		{"renorm", "false only"}, {"virtual_batch_size", "None only"}, {"adjustment", "None only"},
	} {
		if err := k.want(s.key, s.qat, false, nil); err != nil {
			return translated{}, err
		}
	}
	l := models.LayerConfig{Type: models.TypeBatchNorm}
	if m, ok := k.number("momentum"); ok && m != layers.DefaultBNMomentum {
		l.Momentum = m
	}
	if e, ok := k.number("epsilon"); ok && e != layers.DefaultBNEpsilon {
		l.Epsilon = e
	}
	// Keras 3 has only the non-fused path; tf_keras fuses 4-D batch norms
	// unless the layer says fused=False.
	if fused, set := k.l.Config["fused"].(bool); ctx.keras3 || (set && !fused) {
		l.Fused = new(bool)
	}
	vars := map[string]string{"gamma": "gamma", "beta": "beta", "moving_mean": "moving_mean", "moving_variance": "moving_variance"}
	return translated{layer: &l, vars: vars}, nil
}
