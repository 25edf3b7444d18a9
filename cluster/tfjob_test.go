package cluster_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/qat-go/qat/cluster"
	"github.com/qat-go/qat/models"
	"gopkg.in/yaml.v3"
)

// The manifest and the facts of Kubeflow's training-operator (TFJob,
// kubeflow.org/v1) that decide each pod's TF_CONFIG: the container it sets
// TF_CONFIG in, the name of the port it reads, and that port's default.
const (
	manifestFile  = "../docker/tfjob.yaml"
	tfContainer   = "tensorflow"
	tfPortName    = "tfjob-port"
	tfDefaultPort = 2222
	qatBinary     = "/usr/local/bin/qat" // the runtime image's ENTRYPOINT
)

// k8sObject is the part of a Kubernetes object the test reads.
type k8sObject struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct{ Name string }
	Data       map[string]string // ConfigMap
	Spec       yaml.Node
}

type tfJobSpec struct {
	RunPolicy struct {
		CleanPodPolicy string `yaml:"cleanPodPolicy"`
	} `yaml:"runPolicy"`
	EnableDynamicWorker bool                   `yaml:"enableDynamicWorker"`
	Replicas            map[string]replicaSpec `yaml:"tfReplicaSpecs"`
}

type replicaSpec struct {
	Replicas      *int   `yaml:"replicas"`
	RestartPolicy string `yaml:"restartPolicy"`
	Template      struct {
		Spec struct {
			Containers []container
			Volumes    []struct {
				Name      string
				ConfigMap *struct{ Name string } `yaml:"configMap"`
				PVC       *struct {
					ClaimName string `yaml:"claimName"`
				} `yaml:"persistentVolumeClaim"`
			}
		}
	}
}

type container struct {
	Name, Image   string
	Command, Args []string
	Ports         []struct {
		Name          string
		ContainerPort int `yaml:"containerPort"`
	}
	VolumeMounts []struct {
		Name      string
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
}

// readManifest decodes docker/tfjob.yaml's documents by kind.
func readManifest(t *testing.T) (map[string]k8sObject, tfJobSpec) {
	t.Helper()
	b, err := os.ReadFile(manifestFile)
	if err != nil {
		t.Fatal(err)
	}
	objs := map[string]k8sObject{}
	d := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var o k8sObject
		if err := d.Decode(&o); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("%s: %v", manifestFile, err)
		}
		objs[o.Kind] = o
	}
	job, ok := objs["TFJob"]
	if !ok || job.APIVersion != "kubeflow.org/v1" {
		t.Fatalf("%s: no kubeflow.org/v1 TFJob (kinds %v)", manifestFile, slices.Sorted(func(yield func(string) bool) {
			for k := range objs {
				yield(k)
			}
		}))
	}
	var spec tfJobSpec
	if err := job.Spec.Decode(&spec); err != nil {
		t.Fatalf("TFJob spec: %v", err)
	}
	return objs, spec
}

// tfContainerOf returns the container the operator sets TF_CONFIG in.
func tfContainerOf(t *testing.T, rtype string, r replicaSpec) container {
	t.Helper()
	for _, c := range r.Template.Spec.Containers {
		if c.Name == tfContainer {
			return c
		}
	}
	t.Fatalf("replica %s has no container named %q: the operator would set no TF_CONFIG", rtype, tfContainer)
	return container{}
}

// operatorTFConfig builds the TF_CONFIG the training-operator gives
// replica index of type rtype: every replica type's lower-case name as a
// job, task i at "<job>-<type>-<i>.<namespace>.svc[.<domain>]:<port>" (the
// headless Service of its pod), the port being the "tensorflow"
// container's port named "tfjob-port" (2222 without one), and
// "environment": "cloud". The operator's JSON comes from Go's
// encoding/json as here.
func operatorTFConfig(t *testing.T, name, namespace, domain string, spec tfJobSpec, rtype string, index int) string {
	t.Helper()
	cfg := struct {
		Cluster map[string][]string `json:"cluster"`
		Task    struct {
			Type  string `json:"type"`
			Index int    `json:"index"`
		} `json:"task"`
		Environment string `json:"environment"`
	}{Cluster: map[string][]string{}, Environment: "cloud"}
	for rt, r := range spec.Replicas {
		port := tfDefaultPort
		for _, p := range tfContainerOf(t, rt, r).Ports {
			if p.Name == tfPortName {
				port = p.ContainerPort
			}
		}
		job := strings.ToLower(rt)
		for i := range *r.Replicas {
			host := fmt.Sprintf("%s-%s-%d.%s.svc", name, job, i, namespace)
			if domain != "" {
				host += "." + domain
			}
			cfg.Cluster[job] = append(cfg.Cluster[job], fmt.Sprintf("%s:%d", host, port))
		}
	}
	cfg.Task.Type, cfg.Task.Index = strings.ToLower(rtype), index
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestTFJobManifest reads docker/tfjob.yaml as the training-operator
// would, builds every pod's TF_CONFIG from it (in two namespaces, with and
// without a custom cluster domain) and checks that cluster.ParseTFConfig
// reads the cluster and the task the pod is, and that each pod runs the
// qat command its role needs.
func TestTFJobManifest(t *testing.T) {
	objs, spec := readManifest(t)
	name := objs["TFJob"].Metadata.Name
	wantReplicas := map[string]int{"Chief": 1, "Worker": 2, "PS": 1}
	for rt, r := range spec.Replicas {
		if r.Replicas == nil || *r.Replicas != wantReplicas[rt] {
			t.Fatalf("replica type %s: replicas not %d (want types and counts %v)", rt, wantReplicas[rt], wantReplicas)
		}
		if r.RestartPolicy != "OnFailure" {
			t.Errorf("replica type %s: restartPolicy %q, want OnFailure", rt, r.RestartPolicy)
		}
	}
	if len(spec.Replicas) != len(wantReplicas) || spec.EnableDynamicWorker || spec.RunPolicy.CleanPodPolicy != "Running" {
		t.Errorf("TFJob spec %+v: want Chief, Worker and PS, no dynamic workers (sparse TF_CONFIG), cleanPodPolicy Running", spec)
	}

	// What the operator gives worker 1 in namespace "default", spelt out.
	const worker1 = `{"cluster":{"chief":["qat-mnist-chief-0.default.svc:2222"],"ps":["qat-mnist-ps-0.default.svc:2222"],` +
		`"worker":["qat-mnist-worker-0.default.svc:2222","qat-mnist-worker-1.default.svc:2222"]},` +
		`"task":{"type":"worker","index":1},"environment":"cloud"}`
	if got := operatorTFConfig(t, name, "default", "", spec, "Worker", 1); got != worker1 {
		t.Errorf("TF_CONFIG of worker 1:\n got %s\nwant %s", got, worker1)
	}
	for _, ns := range []struct{ namespace, domain string }{{"default", ""}, {"ml-team", "cluster.local"}} {
		svc := func(job string, i int) string {
			return fmt.Sprintf("qat-mnist-%s-%d.%s.svc%s:2222", job, i, ns.namespace, strings.TrimSuffix("."+ns.domain, "."))
		}
		want := cluster.Spec{"chief": {svc("chief", 0)}, "worker": {svc("worker", 0), svc("worker", 1)}, "ps": {svc("ps", 0)}}
		for rt, r := range spec.Replicas {
			for i := range *r.Replicas {
				tfc := operatorTFConfig(t, name, ns.namespace, ns.domain, spec, rt, i)
				cfg, err := cluster.ParseTFConfig(tfc)
				if err != nil {
					t.Fatalf("%s %d in %s: %v\nTF_CONFIG=%s", rt, i, ns.namespace, err, tfc)
				}
				task := cluster.Task{Type: strings.ToLower(rt), Index: i}
				if !reflect.DeepEqual(cfg.Cluster, want) || cfg.Task != task {
					t.Errorf("%s %d in %s: read %+v, want cluster %v and task %v", rt, i, ns.namespace, *cfg, want, task)
				}
				def, err := cfg.ServerDef(cluster.ServerOptions{IntraOpThreads: 1, InterOpThreads: 1})
				if err != nil || def.JobName != task.Type || int(def.TaskIndex) != i || len(def.Cluster.Job) != 3 {
					t.Errorf("%s %d: server def %v, %v", rt, i, def, err)
				}
			}
		}
	}
	checkCommands(t, objs, spec)
}

// checkCommands checks the replicas' containers: the runtime image and
// its qat, port 2222; `qat worker` on the ps and the workers; on the chief
// `qat train` of the ConfigMap's config (the same model as
// configs/mnist_cnn_qat8.yaml, its batch split evenly over the workers)
// with --out on the runs volume and --resume.
func checkCommands(t *testing.T, objs map[string]k8sObject, spec tfJobSpec) {
	for rt, r := range spec.Replicas {
		c := tfContainerOf(t, rt, r)
		if c.Image != "qat-go/qat:latest" || len(c.Ports) != 1 || c.Ports[0].Name != tfPortName || c.Ports[0].ContainerPort != tfDefaultPort || len(c.Args) != 0 {
			t.Errorf("%s: image %q, ports %+v, args %q; want qat-go/qat:latest (docker/build.sh), %s 2222, no args", rt, c.Image, c.Ports, c.Args, tfPortName)
		}
		if rt != "Chief" {
			if !slices.Equal(c.Command, []string{qatBinary, "worker"}) {
				t.Errorf("%s: command %q, want [%s worker]", rt, c.Command, qatBinary)
			}
			continue
		}
		if len(c.Command) < 2 || !slices.Equal(c.Command[:2], []string{qatBinary, "train"}) || !slices.Contains(c.Command, "--resume") {
			t.Fatalf("Chief: command %q, want %s train ... --resume", c.Command, qatBinary)
		}
		flag := func(f string) string {
			i := slices.Index(c.Command, f)
			if i < 0 || i+1 >= len(c.Command) {
				t.Fatalf("Chief: command %q has no %s", c.Command, f)
			}
			return c.Command[i+1]
		}
		mounted := map[string]string{} // mount path -> volume name
		for _, m := range c.VolumeMounts {
			mounted[m.MountPath] = m.Name
		}
		volumes := map[string]int{}
		for i, v := range r.Template.Spec.Volumes {
			volumes[v.Name] = i
		}
		vol := func(file string) int {
			i, ok := volumes[mounted[path.Dir(file)]]
			if !ok {
				t.Fatalf("Chief: %s is on no volume (mounts %v)", file, mounted)
			}
			return i
		}
		configFile, out := flag("--config"), flag("--out")
		cm, pvc := r.Template.Spec.Volumes[vol(configFile)].ConfigMap, r.Template.Spec.Volumes[vol(out)].PVC
		if cm == nil || cm.Name != objs["ConfigMap"].Metadata.Name || pvc == nil || pvc.ClaimName != objs["PersistentVolumeClaim"].Metadata.Name {
			t.Fatalf("Chief: --config %s and --out %s must be on the ConfigMap %q and the claim %q", configFile, out,
				objs["ConfigMap"].Metadata.Name, objs["PersistentVolumeClaim"].Metadata.Name)
		}
		text, ok := objs["ConfigMap"].Data[path.Base(configFile)]
		if !ok {
			t.Fatalf("ConfigMap has no key %s", path.Base(configFile))
		}
		got, err := models.ParseConfig(strings.NewReader(text))
		if err != nil {
			t.Fatalf("ConfigMap's %s: %v", path.Base(configFile), err)
		}
		want, err := models.LoadConfig("../configs/mnist_cnn_qat8.yaml")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("ConfigMap's config %+v differs from configs/mnist_cnn_qat8.yaml's %+v", got, want)
		}
		if workers := *spec.Replicas["Worker"].Replicas; got.BatchSize%workers != 0 {
			t.Errorf("batch size %d does not split over %d workers", got.BatchSize, workers)
		}
	}
}
