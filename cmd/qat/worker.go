package main

import (
	"fmt"

	"github.com/qat-go/qat/cluster"
	"github.com/spf13/cobra"
)

func newWorker() *cobra.Command {
	var f cluster.Flags
	var task, threads int
	c := &cobra.Command{
		Use:   "worker",
		Short: "Serve one task of a TensorFlow cluster (TF_CONFIG or --cluster/--job/--task)",
		Long: `Start TensorFlow's gRPC server for one task of a cluster and serve until
SIGTERM or SIGINT (exit 143 or 130). The cluster and the task come from the
TF_CONFIG environment variable, as tf.distribute and Kubeflow's TFJob set it:

  TF_CONFIG='{"cluster": {"worker": ["localhost:2222", "localhost:2223"], "ps": ["localhost:2224"]},
              "task": {"type": "worker", "index": 1}}' qat worker

or from flags:

  qat worker --cluster 'worker=localhost:2222,localhost:2223;ps=localhost:2224' --job worker --task 1

The server listens on its address's port on every interface. A session
whose target is any task's grpc://host:port runs ops placed on
/job:<job>/task:<index> on that task (TensorFlow's distributed runtime).`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if c.Flags().Changed("task") {
				f.Task = &task
			}
			if threads < 1 {
				return fmt.Errorf("--threads %d: want at least 1", threads)
			}
			cfg, from, err := cluster.Resolve(f)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.ErrOrStderr(), "qat worker: task %s from %s\n", cfg.Task, from)
			return cfg.Serve(c.Context(), cluster.ServerOptions{IntraOpThreads: threads, InterOpThreads: threads}, c.OutOrStdout())
		},
	}
	fl := c.Flags()
	fl.StringArrayVar(&f.Cluster, "cluster", nil, "the cluster: `job=host:port,...` entries, separated by ; or given again")
	fl.StringVar(&f.Job, "job", "", "this task's `job` (chief, worker, ps)")
	fl.IntVar(&task, "task", 0, "this task's `index` in its job")
	fl.IntVar(&threads, "threads", 1, "TensorFlow intra- and inter-op threads of the task's devices")
	return c
}
