package main

import (
	"fmt"
	"os"

	"github.com/qat-go/qat/cluster"
	"github.com/qat-go/qat/loop"
	"github.com/spf13/cobra"
)

// clusterFlags are qat train's --cluster/--job/--task, as qat worker's.
type clusterFlags struct {
	f    cluster.Flags
	task int
}

// add registers the flags on c.
func (cf *clusterFlags) add(c *cobra.Command) {
	fl := c.Flags()
	fl.StringArrayVar(&cf.f.Cluster, "cluster", nil, "train data-parallel on this cluster as its chief: `job=host:port,...` entries, separated by ; or given again (with --job chief --task 0; or set TF_CONFIG)")
	fl.StringVar(&cf.f.Job, "job", "", "this task's `job` in --cluster (chief)")
	fl.IntVar(&cf.task, "task", 0, "this task's `index` in its job")
}

// dataParallel sets lc to train on the cluster that the flags or
// TF_CONFIG describe, when either does: this process is the chief and
// starts its task's server; the variables go to the ps tasks (the chief
// when there are none), one replica to each worker. It returns a line
// that says so, or "" for a run in this process.
func (cf *clusterFlags) dataParallel(c *cobra.Command, lc *loop.Config) (string, error) {
	if c.Flags().Changed("task") {
		cf.f.Task = &cf.task
	}
	_, env := os.LookupEnv(cluster.EnvVar)
	if !env && len(cf.f.Cluster) == 0 && cf.f.Job == "" && cf.f.Task == nil {
		return "", nil
	}
	cfg, from, err := cluster.Resolve(cf.f)
	if err != nil {
		return "", err
	}
	if cfg.Task.Type != cluster.Chief && cfg.Task.Type != cluster.Master {
		return "", fmt.Errorf("%s says this task is %s: qat train runs as the chief (type %q); a %s task runs `qat worker`", from, cfg.Task, cluster.Chief, cfg.Task.Type)
	}
	workers := cfg.Cluster[cluster.Worker]
	if len(workers) == 0 {
		return "", fmt.Errorf("%s: the cluster has no %q tasks to train on", from, cluster.Worker)
	}
	p := &loop.DataParallel{Chief: cfg.Task.String()}
	for i := range workers {
		p.Workers = append(p.Workers, cluster.Task{Type: cluster.Worker, Index: i}.String())
	}
	for i := range cfg.Cluster[cluster.PS] {
		p.Variables = append(p.Variables, cluster.Task{Type: cluster.PS, Index: i}.String())
	}
	if len(p.Variables) == 0 {
		p.Variables = []string{p.Chief}
	}
	if err := p.Validate(int64(lc.BatchSize)); err != nil {
		return "", err
	}
	// One thread each: a server in this process with TensorFlow's default
	// pools changes the numerics of the whole process (tfgraph.NewServer).
	s, err := cfg.Start(cluster.ServerOptions{IntraOpThreads: 1, InterOpThreads: 1})
	if err != nil {
		return "", err
	}
	lc.Parallel = p
	lc.Session.Target = s.Target()
	lc.Session.InterOpThreads = 1
	return fmt.Sprintf("qat train: data-parallel as %s (from %s): %d worker replica(s) of %d rows each, variables on %v",
		cfg.Task, from, len(p.Workers), lc.BatchSize/len(p.Workers), p.Variables), nil
}
