// Package cluster describes a TensorFlow cluster and starts its tasks:
// the cluster spec and this process's task, read from TF_CONFIG (as
// tf.distribute and Kubeflow's TFJob set it) or from flags, and the
// TensorFlow gRPC server (tfgraph.Server) that runs one task.
//
// TF_CONFIG is JSON:
//
//	{"cluster": {"chief": ["host0:2222"], "worker": ["host1:2222", "host2:2222"], "ps": ["host3:2222"]},
//	 "task": {"type": "worker", "index": 1}}
//
// Ops of a graph run on a task when their device names it
// (tfgraph.Graph.WithDevice("/job:ps/task:0")), in a session whose target
// is any task's server (Config.Target).
package cluster

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
)

// Task types TF_CONFIG may name, as tf.distribute knows them.
const (
	Chief     = "chief"
	Worker    = "worker"
	PS        = "ps"
	Evaluator = "evaluator"
	// Master is the chief's name in TF 1.x Estimator clusters.
	Master = "master"
)

// knownTypes lists every task type, in the order errors list them.
var knownTypes = []string{Chief, Worker, PS, Evaluator, Master}

// Spec maps each job name to its tasks' "host:port" addresses, task i at
// index i (tf.train.ClusterSpec's dictionary form).
type Spec map[string][]string

// Task is one task of a cluster: its job name and index.
type Task struct {
	Type  string `json:"type"`
	Index int    `json:"index"`
}

// String returns the task's device name, "/job:worker/task:1".
func (t Task) String() string { return fmt.Sprintf("/job:%s/task:%d", t.Type, t.Index) }

// Config is a cluster and the task this process runs in it.
type Config struct {
	Cluster Spec
	Task    Task
}

// tfConfig is TF_CONFIG's JSON. Other keys ("environment", "rpc_layer")
// are allowed, as TensorFlow allows them.
type tfConfig struct {
	Cluster  *map[string]json.RawMessage `json:"cluster"`
	Task     *json.RawMessage            `json:"task"`
	RPCLayer string                      `json:"rpc_layer"`
}

// ParseTFConfig reads a TF_CONFIG value and checks it (Validate).
func ParseTFConfig(s string) (*Config, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("TF_CONFIG is empty")
	}
	var raw tfConfig
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) || errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "unexpected end of JSON input") {
			return nil, fmt.Errorf("TF_CONFIG is not valid JSON: %w", jsonErr(err))
		}
		return nil, fmt.Errorf(`TF_CONFIG: want a JSON object {"cluster": {...}, "task": {...}}: %w`, jsonErr(err))
	}
	if raw.RPCLayer != "" && raw.RPCLayer != "grpc" {
		return nil, fmt.Errorf("TF_CONFIG: rpc_layer %q: only \"grpc\" is served", raw.RPCLayer)
	}
	if raw.Cluster == nil {
		return nil, errors.New(`TF_CONFIG has no "cluster" (want {"cluster": {"worker": ["host:port", ...], ...}, "task": {...}})`)
	}
	if raw.Task == nil {
		return nil, errors.New(`TF_CONFIG has no "task" (want "task": {"type": "worker", "index": 0})`)
	}
	cfg := &Config{Cluster: Spec{}}
	for job, addrs := range *raw.Cluster {
		var list []string
		if err := strictUnmarshal(addrs, &list); err != nil {
			return nil, fmt.Errorf("TF_CONFIG: cluster job %q: want a list of \"host:port\" strings: %w", job, jsonErr(err))
		}
		cfg.Cluster[job] = list
	}
	var task struct {
		Type  *string `json:"type"`
		Index *int    `json:"index"`
	}
	if err := strictUnmarshal(*raw.Task, &task); err != nil {
		return nil, fmt.Errorf(`TF_CONFIG: task: want {"type": "worker", "index": 0}: %w`, jsonErr(err))
	}
	if task.Type == nil {
		return nil, errors.New(`TF_CONFIG: task has no "type"`)
	}
	cfg.Task.Type = *task.Type
	if task.Index != nil { // TensorFlow's default index is 0
		cfg.Task.Index = *task.Index
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("TF_CONFIG: %w", err)
	}
	return cfg, nil
}

// strictUnmarshal decodes b into v, refusing keys v does not have.
func strictUnmarshal(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	return d.Decode(v)
}

// jsonErr rewords encoding/json's errors to name the JSON, not Go, types.
func jsonErr(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			field = "value"
		}
		return fmt.Errorf("%s is %s at offset %d, want %s", field, te.Value, te.Offset, goToJSON(te.Type.String()))
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("%v (at offset %d)", se, se.Offset)
	}
	return err
}

func goToJSON(t string) string {
	switch {
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case t == "string":
		return "a string"
	case t == "int":
		return "an integer"
	}
	return "an object"
}

// ParseFlags builds a Config from the flag forms: cluster entries
// "job=host:port,host:port" (several per entry separated by ";", or
// several entries), the job name and the task index.
func ParseFlags(cluster []string, job string, index int) (*Config, error) {
	cfg := &Config{Cluster: Spec{}, Task: Task{Type: job, Index: index}}
	for _, entry := range cluster {
		for part := range strings.SplitSeq(entry, ";") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			name, addrs, ok := strings.Cut(part, "=")
			name = strings.TrimSpace(name)
			if !ok || name == "" {
				return nil, fmt.Errorf("--cluster %q: want job=host:port,host:port (e.g. worker=localhost:2222,localhost:2223)", part)
			}
			if _, dup := cfg.Cluster[name]; dup {
				return nil, fmt.Errorf("--cluster: job %q is given twice", name)
			}
			var list []string
			if strings.TrimSpace(addrs) != "" {
				for a := range strings.SplitSeq(addrs, ",") {
					list = append(list, strings.TrimSpace(a))
				}
			}
			cfg.Cluster[name] = list
		}
	}
	if len(cfg.Cluster) == 0 {
		return nil, errors.New("--cluster is empty (want e.g. --cluster 'worker=localhost:2222,localhost:2223;ps=localhost:2224')")
	}
	if job == "" {
		return nil, errors.New("--job is empty (want the task's job, e.g. worker)")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// Validate checks the cluster and the task: every job known and non-empty,
// every address a valid host:port used once, at most one chief, and the
// task's type known and its index inside its job. An evaluator may be
// outside the cluster, as tf.distribute has it.
func (c *Config) Validate() error {
	if len(c.Cluster) == 0 {
		return errors.New("cluster has no jobs")
	}
	seen := map[string]Task{}
	for _, job := range c.Cluster.Jobs() {
		if !slices.Contains(knownTypes, job) {
			return fmt.Errorf("cluster job %q is not a task type (known: %s)", job, strings.Join(knownTypes, ", "))
		}
		addrs := c.Cluster[job]
		if len(addrs) == 0 {
			return fmt.Errorf("cluster job %q has no tasks", job)
		}
		if (job == Chief || job == Master) && len(addrs) > 1 {
			return fmt.Errorf("cluster job %q has %d tasks; a cluster has one %s", job, len(addrs), job)
		}
		for i, a := range addrs {
			t := Task{job, i}
			if err := checkAddr(a); err != nil {
				return fmt.Errorf("task %s: address %q: %w", t, a, err)
			}
			if o, dup := seen[a]; dup {
				return fmt.Errorf("task %s: address %q is also task %s's", t, a, o)
			}
			seen[a] = t
		}
	}
	t := c.Task
	if t.Type == "" {
		return errors.New("task has no type")
	}
	if !slices.Contains(knownTypes, t.Type) {
		return fmt.Errorf("task type %q is unknown (known: %s)", t.Type, strings.Join(knownTypes, ", "))
	}
	if t.Index < 0 {
		return fmt.Errorf("task %s: index %d is negative", t.Type, t.Index)
	}
	addrs, ok := c.Cluster[t.Type]
	if !ok {
		if t.Type == Evaluator {
			return nil
		}
		return fmt.Errorf("task type %q has no job in the cluster (jobs: %s)", t.Type, strings.Join(c.Cluster.Jobs(), ", "))
	}
	if t.Index >= len(addrs) {
		return fmt.Errorf("task %s: index %d is out of range: job %q has %d task(s), indices 0..%d", t, t.Index, t.Type, len(addrs), len(addrs)-1)
	}
	return nil
}

// checkAddr checks that a is host:port with a host and a port in 1..65535.
func checkAddr(a string) error {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return fmt.Errorf("want host:port: %w", err)
	}
	if host == "" {
		return errors.New("no host")
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("port %q is not in 1..65535", port)
	}
	return nil
}

// Jobs returns the job names in sorted order.
func (s Spec) Jobs() []string {
	jobs := make([]string, 0, len(s))
	for j := range s {
		jobs = append(jobs, j)
	}
	slices.Sort(jobs)
	return jobs
}

// Address returns the task's "host:port" ("" if the cluster lacks it).
func (c *Config) Address() string {
	addrs := c.Cluster[c.Task.Type]
	if c.Task.Index < 0 || c.Task.Index >= len(addrs) {
		return ""
	}
	return addrs[c.Task.Index]
}

// Target returns the gRPC target of task t ("grpc://host:port"), for a
// session that runs its graph on the cluster.
func (s Spec) Target(t Task) (string, error) {
	addrs := s[t.Type]
	if t.Index < 0 || t.Index >= len(addrs) {
		return "", fmt.Errorf("task %s is not in the cluster", t)
	}
	return "grpc://" + addrs[t.Index], nil
}
