package main

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/models"
)

// importedModel is a Keras model in qat's terms.
type importedModel struct {
	input   []int64
	layers  []models.LayerConfig
	weights map[string]data.Array
	notes   []string
	// output names the output layer when it is not the last one.
	output string
}

// modelInput is the name a graph config gives the model's input.
const modelInput = "input"

// translateKeras turns keras_export.py's description and weights into qat
// layers and their variables' values.
func translateKeras(km *kerasModel, arrays map[string]data.Array) (*importedModel, error) {
	im := &importedModel{weights: map[string]data.Array{}}
	for _, d := range km.InputShape {
		if d == nil {
			return nil, fmt.Errorf("the model's input shape %s has unknown dimensions; qat needs a fixed one (build the model on keras.Input(shape=...) with every dimension given)", shapeText(km.InputShape))
		}
		im.input = append(im.input, *d)
	}
	if len(im.input) == 0 {
		return nil, fmt.Errorf("the model's input is a scalar per example; qat needs a vector or an image")
	}
	if km.InputDtype != "" && km.InputDtype != "float32" {
		return nil, fmt.Errorf("the model's input is %s; qat needs float32", km.InputDtype)
	}
	if len(km.Outputs) != 1 {
		return nil, fmt.Errorf("the model has %d outputs; want one", len(km.Outputs))
	}
	names := qatNames(km.Layers)
	produced := map[string]string{} // Keras layer -> the qat layer (or input) that holds its output
	for _, in := range km.Inputs {
		produced[in] = modelInput
	}
	prev := modelInput
	for i := range km.Layers {
		l := &km.Layers[i]
		if l.Class == "InputLayer" {
			produced[l.Name] = modelInput
			continue
		}
		k := kerasSettings{l}
		translate, ok := kerasTranslators[l.Class]
		switch {
		case l.Nested:
			return nil, fmt.Errorf("layer %q (%s) is a model inside the model; qat imports one level of layers (rebuild it without the nested model)", l.Name, l.Class)
		case !ok:
			return nil, fmt.Errorf("layer %q (%s) is not supported; supported: %s", l.Name, l.Class, supportedKeras())
		}
		if err := k.float32Policy(); err != nil {
			return nil, err
		}
		ins := make([]string, len(l.Inbound))
		for j, from := range l.Inbound {
			p, ok := produced[from]
			if !ok {
				return nil, k.errorf("its input %q comes from a layer the model does not list before it", from)
			}
			ins[j] = p
		}
		if km.Class == "Sequential" && len(ins) == 0 {
			ins = []string{prev}
		}
		t, err := translate(k, kerasContext{isOutput: l.Name == km.Outputs[0], keras3: strings.HasPrefix(km.Keras, "keras ")})
		if err != nil {
			return nil, err
		}
		if t.note != "" {
			im.notes = append(im.notes, t.note)
		}
		if t.layer == nil { // passes its input through
			if len(ins) != 1 {
				return nil, k.errorf("takes %d inputs; want one", len(ins))
			}
			produced[l.Name] = ins[0]
			continue
		}
		if len(ins) != 1 || ins[0] != prev {
			t.layer.Inputs = ins // a graph: the inputs are named
		}
		name := names[l.Name]
		if name != l.Name {
			im.notes = append(im.notes, fmt.Sprintf("layer %q is named %q (qat names are letters, digits, '_', '.' and '-', and %q names the model input)", l.Name, name, modelInput))
		}
		if b, ok := l.Config["trainable"].(bool); ok && !b {
			im.notes = append(im.notes, fmt.Sprintf("layer %q is frozen in Keras (trainable=False); qat train trains every layer", l.Name))
		}
		t.layer.Name = name
		if err := im.addWeights(k, name, t.vars, arrays); err != nil {
			return nil, err
		}
		im.layers = append(im.layers, *t.layer)
		produced[l.Name] = name
		prev = name
	}
	if len(im.layers) == 0 {
		return nil, fmt.Errorf("the model has no layers qat computes")
	}
	out, ok := produced[km.Outputs[0]]
	switch {
	case !ok || out == modelInput:
		return nil, fmt.Errorf("the model's output %q is not a layer qat computes", km.Outputs[0])
	case out != prev:
		im.output = out
	}
	return im, nil
}

// addWeights stores the Keras weights behind the qat layer name's
// variables (vars: qat variable -> Keras weight name) and checks that the
// Keras layer has no other float weights.
func (im *importedModel) addWeights(k kerasSettings, name string, vars map[string]string, arrays map[string]data.Array) error {
	used := map[string]bool{}
	for qv, kv := range vars {
		i := slices.IndexFunc(k.l.Weights, func(w kerasWeight) bool { return w.Name == kv })
		if i < 0 {
			return k.errorf("has no weight %q (it has %s)", kv, weightNames(k.l.Weights))
		}
		w := k.l.Weights[i]
		a, ok := arrays[w.Key]
		if w.Key == "" || !ok {
			return k.errorf("weight %q is %s; qat needs float32", kv, w.Dtype)
		}
		im.weights[name+"/"+qv] = a
		used[kv] = true
	}
	for _, w := range k.l.Weights {
		if w.Key != "" && !used[w.Name] {
			return k.errorf("has a weight %q that qat's layer does not (it uses %s)", w.Name, weightNames(k.l.Weights))
		}
	}
	return nil
}

func weightNames(ws []kerasWeight) string {
	if len(ws) == 0 {
		return "none"
	}
	names := make([]string, len(ws))
	for i, w := range ws {
		names[i] = fmt.Sprintf("%q %v", w.Name, w.Shape)
	}
	return strings.Join(names, ", ")
}

// float32Policy checks the layer computes in float32 (not a mixed
// precision or quantized dtype policy).
func (k kerasSettings) float32Policy() error {
	v, ok := k.l.Config["dtype"]
	if !ok || v == nil {
		return nil
	}
	name := v
	if m, ok := v.(map[string]any); ok { // Keras 3: a DTypePolicy
		name = nil
		if c, ok := m["config"].(map[string]any); ok {
			name = c["name"]
		}
	}
	if name != "float32" {
		return k.unsupported("dtype", name, "float32 only")
	}
	return nil
}

// invalidName matches what a qat layer name may not contain.
var invalidName = regexp.MustCompile(`[^A-Za-z0-9_.\-]`)

// qatNames gives every Keras layer a valid, distinct qat name: its own
// where it is one, else with each other character replaced by '_' (and a
// prefix where it must not start with '_' or '-', or is "input"), made
// distinct with a suffix.
func qatNames(ls []kerasLayer) map[string]string {
	out := map[string]string{}
	taken := map[string]bool{modelInput: true}
	valid := func(n string) bool {
		return n != "" && n != modelInput && !invalidName.MatchString(n) && n[0] != '_' && n[0] != '-'
	}
	for _, l := range ls {
		if valid(l.Name) {
			taken[l.Name] = true
		}
	}
	for _, l := range ls {
		if valid(l.Name) {
			out[l.Name] = l.Name
			continue
		}
		base := invalidName.ReplaceAllString(l.Name, "_")
		if base == "" || base == modelInput || base[0] == '_' || base[0] == '-' {
			base = "layer" + base
		}
		name := base
		for n := 2; taken[name]; n++ {
			name = fmt.Sprintf("%s_%d", base, n)
		}
		taken[name] = true
		out[l.Name] = name
	}
	return out
}

func shapeText(s []*int64) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = "None"
		if d != nil {
			parts[i] = fmt.Sprint(*d)
		}
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
