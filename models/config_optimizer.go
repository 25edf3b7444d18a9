package models

// This file holds the optimizer part of a config: its settings, its
// learning-rate schedule and how they read from and write to YAML.

import (
	"fmt"
	"strings"
)

// OptimizerConfig holds the optimizer's settings as plain numbers (the
// training loop maps them to its own optimizer type). Name is "adam" or
// "adamw" (LearningRate, Beta1, Beta2, Epsilon, Fused, WeightDecay apply)
// or "sgd" (LearningRate, Momentum, Nesterov, WeightDecay apply); the
// others are zero.
type OptimizerConfig struct {
	Name         string
	LearningRate float64
	Beta1        float64
	Beta2        float64
	Epsilon      float64
	// Fused selects TensorFlow's fused ResourceApplyAdam kernel instead of
	// Keras's op-by-op update.
	Fused bool
	// Momentum and Nesterov are SGD's, as Keras's SGD takes them.
	Momentum float64
	Nesterov bool
	// WeightDecay is Keras's decoupled weight decay (0: none; AdamW's
	// default is DefaultAdamWWeightDecay).
	WeightDecay float64
	// Schedule, if set, makes the learning rate change with the step, from
	// LearningRate (which is 0 for piecewise_constant_decay, whose values
	// are the rates).
	Schedule *ScheduleConfig
}

// The learning-rate schedules, named as Keras's classes in snake case.
const (
	ScheduleExponential = "exponential_decay"
	ScheduleCosine      = "cosine_decay"
	SchedulePiecewise   = "piecewise_constant_decay"
)

// ScheduleConfig is a learning-rate schedule: exponential_decay
// (DecaySteps, DecayRate, Staircase), cosine_decay (DecaySteps, Alpha,
// WarmupSteps, WarmupTarget) or piecewise_constant_decay (Boundaries,
// Values), each as the Keras schedule of that name.
type ScheduleConfig struct {
	Name         string    `yaml:"name"`
	DecaySteps   int64     `yaml:"decay_steps,omitempty"`
	DecayRate    float64   `yaml:"decay_rate,omitempty"`
	Staircase    bool      `yaml:"staircase,omitempty"`
	Alpha        float64   `yaml:"alpha,omitempty"`
	WarmupSteps  int64     `yaml:"warmup_steps,omitempty"`
	WarmupTarget float64   `yaml:"warmup_target,omitempty"`
	Boundaries   []int64   `yaml:"boundaries,omitempty"`
	Values       []float64 `yaml:"values,omitempty"`
}

// check says which keys of other schedules s sets, naming the first.
func (s *ScheduleConfig) check() error {
	set := map[string]bool{
		"decay_steps": s.DecaySteps != 0, "decay_rate": s.DecayRate != 0, "staircase": s.Staircase,
		"alpha": s.Alpha != 0, "warmup_steps": s.WarmupSteps != 0, "warmup_target": s.WarmupTarget != 0,
		"boundaries": s.Boundaries != nil, "values": s.Values != nil,
	}
	own := map[string]string{
		ScheduleExponential: "decay_steps, decay_rate, staircase",
		ScheduleCosine:      "decay_steps, alpha, warmup_steps, warmup_target",
		SchedulePiecewise:   "boundaries, values",
	}
	takes, ok := own[s.Name]
	if !ok {
		return fmt.Errorf("optimizer: schedule: unknown name %q (supported: %s, %s, %s)", s.Name, ScheduleExponential, ScheduleCosine, SchedulePiecewise)
	}
	for _, k := range []string{"decay_steps", "decay_rate", "staircase", "alpha", "warmup_steps", "warmup_target", "boundaries", "values"} {
		if set[k] && !strings.Contains(takes, k) {
			return fmt.Errorf("optimizer: schedule: %s is not a setting of %s (it takes %s)", k, s.Name, takes)
		}
	}
	return nil
}

// The YAML of each optimizer: its own keys only.
type (
	adamYAML struct {
		Name         string          `yaml:"name"`
		LearningRate float64         `yaml:"learning_rate,omitempty"`
		Beta1        float64         `yaml:"beta_1"`
		Beta2        float64         `yaml:"beta_2"`
		Epsilon      float64         `yaml:"epsilon"`
		Fused        bool            `yaml:"fused"`
		WeightDecay  float64         `yaml:"weight_decay"`
		Schedule     *ScheduleConfig `yaml:"schedule,omitempty"`
	}
	sgdYAML struct {
		Name         string          `yaml:"name"`
		LearningRate float64         `yaml:"learning_rate,omitempty"`
		Momentum     float64         `yaml:"momentum"`
		Nesterov     bool            `yaml:"nesterov"`
		WeightDecay  float64         `yaml:"weight_decay"`
		Schedule     *ScheduleConfig `yaml:"schedule,omitempty"`
	}
)

// String describes o as qat train reports it: "adam lr 0.001",
// "sgd lr 0.01 momentum 0.9 nesterov cosine_decay".
func (o OptimizerConfig) String() string {
	s := fmt.Sprintf("%s lr %g", o.Name, o.LearningRate)
	if o.Name == OptimizerSGD {
		if o.Momentum != 0 {
			s += fmt.Sprintf(" momentum %g", o.Momentum)
		}
		if o.Nesterov {
			s += " nesterov"
		}
	} else if o.Fused {
		s += " (fused)"
	}
	if o.WeightDecay != 0 {
		s += fmt.Sprintf(" weight_decay %g", o.WeightDecay)
	}
	if o.Schedule != nil {
		s += " " + o.Schedule.Name
	}
	return s
}

// MarshalYAML writes the keys of o's optimizer only, so that a written
// config reads back as the same one.
func (o OptimizerConfig) MarshalYAML() (any, error) {
	if o.Name == OptimizerSGD {
		return sgdYAML{o.Name, o.LearningRate, o.Momentum, o.Nesterov, o.WeightDecay, o.Schedule}, nil
	}
	return adamYAML{o.Name, o.LearningRate, o.Beta1, o.Beta2, o.Epsilon, o.Fused, o.WeightDecay, o.Schedule}, nil
}

// config is the optimizer a config's optimizer: block describes, with
// Keras's defaults for what it leaves out. A key of another optimizer
// (beta_1 for sgd, momentum for adam) is an error.
func (o *rawOptimizer) config() (OptimizerConfig, error) {
	c, err := o.optimizer()
	if err != nil || o.Schedule == nil {
		return c, err
	}
	sc := *o.Schedule
	sc.Name = strings.ToLower(sc.Name)
	if err := sc.check(); err != nil {
		return OptimizerConfig{}, err
	}
	if sc.Name == SchedulePiecewise {
		if o.LearningRate != nil {
			return OptimizerConfig{}, fmt.Errorf("optimizer: learning_rate: %s takes its rates from its values; leave learning_rate out", SchedulePiecewise)
		}
		c.LearningRate = 0
	}
	c.Schedule = &sc
	return c, nil
}

// optimizer is the optimizer without its schedule.
func (o *rawOptimizer) optimizer() (OptimizerConfig, error) {
	name := OptimizerAdam
	if o.Name != nil {
		name = strings.ToLower(*o.Name)
	}
	val := func(p *float64, def float64) float64 {
		if p != nil {
			return *p
		}
		return def
	}
	foreign := func(keys map[string]bool, takes string) error {
		for _, k := range []string{"beta_1", "beta_2", "epsilon", "fused", "momentum", "nesterov"} {
			if keys[k] {
				return fmt.Errorf("optimizer: %s is not a setting of %s (it takes %s)", k, name, takes)
			}
		}
		return nil
	}
	switch name {
	case OptimizerSGD:
		if err := foreign(map[string]bool{"beta_1": o.Beta1 != nil, "beta_2": o.Beta2 != nil, "epsilon": o.Epsilon != nil, "fused": o.Fused != nil}, "learning_rate, momentum, nesterov, weight_decay"); err != nil {
			return OptimizerConfig{}, err
		}
		c := OptimizerConfig{Name: name, LearningRate: val(o.LearningRate, DefaultSGDLearningRate), Momentum: val(o.Momentum, 0), WeightDecay: val(o.WeightDecay, 0)}
		if o.Nesterov != nil {
			c.Nesterov = *o.Nesterov
		}
		return c, nil
	case OptimizerAdam, OptimizerAdamW:
		if err := foreign(map[string]bool{"momentum": o.Momentum != nil, "nesterov": o.Nesterov != nil}, "learning_rate, beta_1, beta_2, epsilon, fused, weight_decay"); err != nil {
			return OptimizerConfig{}, err
		}
		wd := 0.0
		if name == OptimizerAdamW {
			wd = DefaultAdamWWeightDecay
		}
		c := OptimizerConfig{Name: name, LearningRate: val(o.LearningRate, DefaultLearningRate),
			Beta1: val(o.Beta1, DefaultBeta1), Beta2: val(o.Beta2, DefaultBeta2), Epsilon: val(o.Epsilon, DefaultEpsilon), WeightDecay: val(o.WeightDecay, wd)}
		if o.Fused != nil {
			c.Fused = *o.Fused
		}
		return c, nil
	}
	return OptimizerConfig{}, fmt.Errorf("optimizer: unknown name %q (supported: %s, %s, %s)", name, OptimizerAdam, OptimizerAdamW, OptimizerSGD)
}
