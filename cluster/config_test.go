package cluster

import (
	"fmt"
	"net"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// kubeflow is TF_CONFIG as Kubeflow's TFJob operator sets it for worker 1
// of a job with a chief, 2 workers and a ps.
const kubeflow = `{"cluster":{"chief":["mnist-chief-0.default.svc:2222"],"ps":["mnist-ps-0.default.svc:2222"],"worker":["mnist-worker-0.default.svc:2222","mnist-worker-1.default.svc:2222"]},"task":{"type":"worker","index":1},"environment":"cloud"}`

func TestParseTFConfig(t *testing.T) {
	for _, c := range []struct {
		name, in string
		want     Config
	}{
		{"kubeflow", kubeflow, Config{
			Cluster: Spec{"chief": {"mnist-chief-0.default.svc:2222"}, "ps": {"mnist-ps-0.default.svc:2222"},
				"worker": {"mnist-worker-0.default.svc:2222", "mnist-worker-1.default.svc:2222"}},
			Task: Task{"worker", 1}}},
		{"index defaults to 0", `{"cluster":{"worker":["localhost:1"]},"task":{"type":"worker"},"rpc_layer":"grpc"}`,
			Config{Cluster: Spec{"worker": {"localhost:1"}}, Task: Task{"worker", 0}}},
		{"evaluator outside the cluster", `{"cluster":{"chief":["h:1"],"worker":["h:2"]},"task":{"type":"evaluator","index":0}}`,
			Config{Cluster: Spec{"chief": {"h:1"}, "worker": {"h:2"}}, Task: Task{"evaluator", 0}}},
		{"ipv6", `{"cluster":{"ps":["[::1]:2222"]},"task":{"type":"ps","index":0}}`,
			Config{Cluster: Spec{"ps": {"[::1]:2222"}}, Task: Task{"ps", 0}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseTFConfig(c.in)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, c.want) {
				t.Errorf("got %+v, want %+v", *got, c.want)
			}
		})
	}
}

func TestParseTFConfigErrors(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"empty", " ", "TF_CONFIG is empty"},
		{"malformed JSON", `{"cluster": {"worker": ["h:1"]`, "TF_CONFIG is not valid JSON: unexpected end of JSON input"},
		{"JSON syntax", `{"cluster": {"worker": ['h:1']}}`, "TF_CONFIG is not valid JSON: invalid character '\\'' looking for beginning of value (at offset 25)"},
		{"not an object", `["h:1"]`, `TF_CONFIG: want a JSON object {"cluster": {...}, "task": {...}}: value is array at offset 1, want an object`},
		{"missing cluster", `{"task":{"type":"worker","index":0}}`, `TF_CONFIG has no "cluster"`},
		{"missing task", `{"cluster":{"worker":["h:1"]}}`, `TF_CONFIG has no "task"`},
		{"task without type", `{"cluster":{"worker":["h:1"]},"task":{"index":0}}`, `TF_CONFIG: task has no "type"`},
		{"task key typo", `{"cluster":{"worker":["h:1"]},"task":{"type":"worker","indx":0}}`, `TF_CONFIG: task: want {"type": "worker", "index": 0}: json: unknown field "indx"`},
		{"index a string", `{"cluster":{"worker":["h:1"]},"task":{"type":"worker","index":"0"}}`, `task: want {"type": "worker", "index": 0}: index is string at offset`},
		{"job not a list", `{"cluster":{"worker":"h:1"},"task":{"type":"worker","index":0}}`, `TF_CONFIG: cluster job "worker": want a list of "host:port" strings: value is string`},
		{"empty cluster", `{"cluster":{},"task":{"type":"worker","index":0}}`, "TF_CONFIG: cluster has no jobs"},
		{"unknown task type", `{"cluster":{"worker":["h:1"]},"task":{"type":"trainer","index":0}}`, `TF_CONFIG: task type "trainer" is unknown (known: chief, worker, ps, evaluator, master)`},
		{"unknown job", `{"cluster":{"worker":["h:1"],"gpu":["h:2"]},"task":{"type":"worker","index":0}}`, `cluster job "gpu" is not a task type`},
		{"task type not in cluster", `{"cluster":{"worker":["h:1"]},"task":{"type":"ps","index":0}}`, `TF_CONFIG: task type "ps" has no job in the cluster (jobs: worker)`},
		{"index out of range", `{"cluster":{"worker":["h:1","h:2"]},"task":{"type":"worker","index":2}}`, `TF_CONFIG: task /job:worker/task:2: index 2 is out of range: job "worker" has 2 task(s), indices 0..1`},
		{"negative index", `{"cluster":{"worker":["h:1"]},"task":{"type":"worker","index":-1}}`, "TF_CONFIG: task worker: index -1 is negative"},
		{"empty job", `{"cluster":{"worker":["h:1"],"ps":[]},"task":{"type":"worker","index":0}}`, `TF_CONFIG: cluster job "ps" has no tasks`},
		{"two chiefs", `{"cluster":{"chief":["h:1","h:2"]},"task":{"type":"chief","index":0}}`, `cluster job "chief" has 2 tasks; a cluster has one chief`},
		{"duplicate address", `{"cluster":{"ps":["h:1"],"worker":["h:2","h:1"]},"task":{"type":"worker","index":0}}`, `TF_CONFIG: task /job:worker/task:1: address "h:1" is also task /job:ps/task:0's`},
		{"address without port", `{"cluster":{"worker":["localhost"]},"task":{"type":"worker","index":0}}`, `task /job:worker/task:0: address "localhost": want host:port`},
		{"port out of range", `{"cluster":{"worker":["localhost:70000"]},"task":{"type":"worker","index":0}}`, `address "localhost:70000": port "70000" is not in 1..65535`},
		{"no host", `{"cluster":{"worker":[":2222"]},"task":{"type":"worker","index":0}}`, `address ":2222": no host`},
		{"rpc layer", `{"cluster":{"worker":["h:1"]},"task":{"type":"worker","index":0},"rpc_layer":"grpc+verbs"}`, `rpc_layer "grpc+verbs": only "grpc" is served`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseTFConfig(c.in)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestParseFlags(t *testing.T) {
	got, err := ParseFlags([]string{"chief=h:1; worker=h:2,h:3", "ps=h:4"}, "worker", 1)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Cluster: Spec{"chief": {"h:1"}, "worker": {"h:2", "h:3"}, "ps": {"h:4"}}, Task: Task{"worker", 1}}
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("got %+v, want %+v", *got, want)
	}
	for _, c := range []struct {
		name    string
		cluster []string
		job     string
		index   int
		want    string
	}{
		{"no cluster", nil, "worker", 0, "--cluster is empty"},
		{"no job", []string{"worker=h:1"}, "", 0, "--job is empty"},
		{"no =", []string{"h:1,h:2"}, "worker", 0, `--cluster "h:1,h:2": want job=host:port,host:port`},
		{"job twice", []string{"worker=h:1", "worker=h:2"}, "worker", 0, `--cluster: job "worker" is given twice`},
		{"empty job", []string{"worker=h:1;ps="}, "worker", 0, `cluster job "ps" has no tasks`},
		{"out of range", []string{"worker=h:1"}, "worker", 1, "index 1 is out of range"},
		{"bad address", []string{"worker=h:1,h"}, "worker", 0, `task /job:worker/task:1: address "h": want host:port`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseFlags(c.cluster, c.job, c.index)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestServerDef(t *testing.T) {
	cfg, err := ParseTFConfig(kubeflow)
	if err != nil {
		t.Fatal(err)
	}
	def, err := cfg.ServerDef(ServerOptions{IntraOpThreads: 1, InterOpThreads: 2})
	if err != nil {
		t.Fatal(err)
	}
	var jobs []string
	for _, j := range def.Cluster.Job {
		jobs = append(jobs, fmt.Sprintf("%s:%v", j.Name, j.Tasks))
	}
	if got := strings.Join(jobs, " "); got != "chief:map[0:mnist-chief-0.default.svc:2222] ps:map[0:mnist-ps-0.default.svc:2222] worker:map[0:mnist-worker-0.default.svc:2222 1:mnist-worker-1.default.svc:2222]" {
		t.Errorf("cluster %s", got)
	}
	if def.JobName != "worker" || def.TaskIndex != 1 || def.Protocol != "grpc" ||
		def.DefaultSessionConfig.IntraOpParallelismThreads != 1 || def.DefaultSessionConfig.InterOpParallelismThreads != 2 {
		t.Errorf("server def %v", def)
	}
	if tg, err := cfg.Cluster.Target(Task{"chief", 0}); err != nil || tg != "grpc://mnist-chief-0.default.svc:2222" {
		t.Errorf("target %q, %v", tg, err)
	}
	if _, err := cfg.Cluster.Target(Task{"worker", 2}); err == nil {
		t.Error("target of a task outside the cluster: no error")
	}
	ev := &Config{Cluster: cfg.Cluster, Task: Task{Evaluator, 0}}
	if _, err := ev.ServerDef(ServerOptions{}); err == nil || !strings.Contains(err.Error(), "evaluator runs outside it") {
		t.Errorf("evaluator: %v", err)
	}
}

// TestStartPortInUse starts a task whose port another listener holds.
func TestStartPortInUse(t *testing.T) {
	l, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	cfg, err := ParseFlags([]string{"worker=localhost:" + port}, "worker", 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = cfg.Start(ServerOptions{})
	if want := "task /job:worker/task:0: port " + port + " is in use"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v, want one containing %q", err, want)
	}
}

// ExampleParseTFConfig reads the TF_CONFIG Kubeflow's TFJob gives a
// worker.
func ExampleParseTFConfig() {
	cfg, err := ParseTFConfig(`{"cluster": {"chief": ["chief-0:2222"], "worker": ["worker-0:2222", "worker-1:2222"], "ps": ["ps-0:2222"]},
		"task": {"type": "worker", "index": 1}}`)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cfg.Task, cfg.Address(), cfg.Cluster.Jobs())
	// Output: /job:worker/task:1 worker-1:2222 [chief ps worker]
}
