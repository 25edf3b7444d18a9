package models

// This file writes a config as YAML and words the YAML decoder's errors
// in the config's own terms.

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// decimal32 is the shortest decimal that rounds to f, as a float64 (0.1,
// not 0.10000000149011612), so configs print as people write them.
func decimal32(f float32) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(float64(f), 'g', -1, 32), 64)
	return v
}

// Encode writes the config as YAML that ParseConfig reads back (without
// steps when Epochs is set).
func (c *Config) Encode(w io.Writer) error {
	if c.Epochs > 0 {
		cp := *c
		cp.Steps = 0
		c = &cp
	}
	if _, err := io.WriteString(w, "# qat train config\n"); err != nil {
		return err
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return err
	}
	return enc.Close()
}

// yamlTypes names the decoder's types the way a config's author knows them.
var yamlTypes = strings.NewReplacer(
	"[]models.rawLayer", "a list of layers",
	"*models.rawQuantizer", "a quantizer",
	"models.rawQuantizer", "a quantizer",
	"*models.rawOptimizer", "optimizer",
	"models.rawOptimizer", "optimizer",
	"*models.rawData", "data",
	"*models.rawLoss", "loss",
	"models.rawLoss", "loss",
	"models.rawData", "data",
	"models.rawLayer", "a layer",
	"*models.ValidationConfig", "validation",
	"*models.EarlyStoppingConfig", "early_stopping",
	"*models.BestCheckpointConfig", "best_checkpoint",
	"models.ValidationConfig", "validation",
	"models.EarlyStoppingConfig", "early_stopping",
	"models.BestCheckpointConfig", "best_checkpoint",
	"models.rawConfig", "the config (a mapping of keys)",
)

var unknownField = regexp.MustCompile(`^line (\d+): field (.*) not found in type (.*)$`)

// knownKeys names each part of a config and lists the keys it accepts.
var knownKeys = map[string]struct{ where, keys string }{
	"models.rawConfig":      {"the config", "inputs, input, seed, steps, epochs, batch_size, calibration_batches, optimizer, loss, data, init, layers, output, scheme, fold_batch_norm, numerics, validation_split, validation, early_stopping, best_checkpoint"},
	"models.rawLoss":        {"loss", "name, label_smoothing"},
	"models.rawOptimizer":   {"optimizer", "name, learning_rate, weight_decay, schedule; beta_1, beta_2, epsilon, fused (adam, adamw); momentum, nesterov (sgd)"},
	"models.ScheduleConfig": {"the optimizer's schedule", "name; decay_steps, decay_rate, staircase (exponential_decay); decay_steps, alpha, warmup_steps, warmup_target (cosine_decay); boundaries, values (piecewise_constant_decay)"},
	"models.rawData":        {"data", "examples, npz, mnist, scale"},
	"models.rawLayer":       {"a layer", "type, name, inputs, units, filters, multiplier, kernel, strides, size, padding, activation, no_bias, momentum, epsilon, fused, axis, pad, rate, shape, weights, bias, output"},
	"qat.Scheme":            {"scheme", "default, layers, input_bits, ema_decay, schedule, tfmot"},
	"qat.TFMOTCompat":       {"tfmot", "depthwise_ranges_by_multiplier, float_kernel_before_relu, batch_norm_output_after_dense"},
	"qat.Policy":            {"a scheme policy", "weight_bits, activation_bits, per_channel, asymmetric, learnable_ranges"},
	"qat.Schedule":          {"schedule", "quant_delay, freeze_ranges_after, freeze_bn_after"},
	"models.rawQuantizer":   {"a quantizer", "min, max, num_bits, narrow_range"},
}

// yamlError rewrites a yaml.v3 error so it names config keys, not Go types.
func yamlError(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return fmt.Errorf("malformed YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	msgs := make([]string, len(te.Errors))
	for i, m := range te.Errors {
		if sm := unknownField.FindStringSubmatch(m); sm != nil {
			k := knownKeys[sm[3]]
			m = fmt.Sprintf("line %s: unknown key %q in %s (known keys: %s)", sm[1], sm[2], k.where, k.keys)
		}
		msgs[i] = yamlTypes.Replace(m)
	}
	return fmt.Errorf("%s", strings.Join(msgs, "; "))
}
