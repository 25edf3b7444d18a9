package main

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/qat-go/qat/serve"
	"github.com/qat-go/qat/tfgraph"
	"github.com/spf13/cobra"
)

type serveFlags struct {
	name, base, configFile string
	port, restPort         int
	pollSeconds            int
	restTimeoutMS          int
	maxBody                int64
	maxBatch, threads      int
	batching               bool
	batchingFile           string
}

func newServe() *cobra.Command {
	f := &serveFlags{}
	c := &cobra.Command{
		Use:   "serve",
		Short: "Serve exported models with TensorFlow Serving's REST and gRPC APIs",
		Long: `Serve SavedModels as tensorflow_model_server does, with its flags: a model is a
base path of numbered version folders (BASE/1/saved_model.pb, BASE/2/...,
as qat export --out BASE/N writes them). The newest version is served; the
base path is polled for new versions, which replace the old one without
failing a request (the old version is unloaded when its requests finish).
gRPC (--port): tensorflow.serving.PredictionService Predict and
GetModelMetadata, ModelService GetModelStatus. REST (--rest_api_port):
/v1/models/NAME[/versions/N][/metadata|:predict] and /metrics (Prometheus).
SIGTERM or Ctrl-C stops taking requests and finishes those in flight.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return runServe(c, f) },
	}
	fl := c.Flags()
	fl.StringVar(&f.name, "model_name", "default", "the model's `name` in requests")
	fl.StringVar(&f.base, "model_base_path", "", "the model's base `folder` of numbered versions")
	fl.StringVar(&f.configFile, "model_config_file", "", "a text-format ModelServerConfig `file` naming several models (instead of --model_name and --model_base_path)")
	fl.IntVar(&f.port, "port", 8500, "gRPC `port` (0: any free one)")
	fl.IntVar(&f.restPort, "rest_api_port", 0, "REST `port`; 0 turns REST off, as in TF Serving")
	fl.IntVar(&f.pollSeconds, "file_system_poll_wait_seconds", 1, "poll base paths for new versions every `N` seconds")
	fl.IntVar(&f.restTimeoutMS, "rest_api_timeout_in_ms", 30000, "a request's time limit in `ms` (REST and gRPC)")
	fl.Int64Var(&f.maxBody, "max_body_bytes", serve.DefaultMaxBodyBytes, "largest request body (REST) or message (gRPC) in `bytes`")
	fl.IntVar(&f.maxBatch, "max_batch_size", serve.DefaultMaxBatch, "most examples in one request")
	fl.BoolVar(&f.batching, "enable_batching", false, "merge concurrent requests into shared session runs")
	fl.StringVar(&f.batchingFile, "batching_parameters_file", "", "a text-format BatchingParameters `file` (max_batch_size, batch_timeout_micros, num_batch_threads; default 32, 1000, the cores)")
	fl.IntVar(&f.threads, "threads", 0, "intra-op threads per model (0: TensorFlow's default, all cores)")
	return c
}

func runServe(c *cobra.Command, f *serveFlags) error {
	var models []serve.ModelConfig
	switch {
	case f.configFile != "" && f.base != "":
		return fmt.Errorf("give --model_config_file or --model_base_path, not both")
	case f.configFile != "":
		var err error
		if models, err = serve.ReadModelConfig(f.configFile); err != nil {
			return err
		}
	case f.base != "":
		models = []serve.ModelConfig{{Name: f.name, BasePath: f.base}}
	default:
		return fmt.Errorf("--model_base_path (or --model_config_file) is required")
	}
	if f.restPort < 0 {
		return fmt.Errorf("--rest_api_port is %d", f.restPort)
	}
	if f.pollSeconds < 1 {
		return fmt.Errorf("--file_system_poll_wait_seconds is %d; it must be at least 1", f.pollSeconds)
	}
	var batching *serve.Batching
	if f.batchingFile != "" && !f.batching {
		return fmt.Errorf("--batching_parameters_file needs --enable_batching")
	}
	if f.batching {
		batching = &serve.Batching{}
		if f.batchingFile != "" {
			var err error
			if batching, err = serve.ReadBatchingParameters(f.batchingFile); err != nil {
				return err
			}
		}
	}
	s, err := serve.New(models, serve.Options{
		Batching:     batching,
		PollInterval: time.Duration(f.pollSeconds) * time.Second,
		Session:      tfgraph.SessionConfig{IntraOpThreads: f.threads},
		MaxBodyBytes: f.maxBody,
		MaxBatch:     f.maxBatch,
		Timeout:      time.Duration(f.restTimeoutMS) * time.Millisecond,
	})
	if err != nil {
		return err
	}
	a := serve.Addrs{GRPC: ":" + strconv.Itoa(f.port), Ready: func(g, r net.Addr) {
		msg := fmt.Sprintf("serving gRPC on %v", g)
		if r != nil {
			msg += fmt.Sprintf(", REST on %v", r)
		}
		fmt.Fprintln(c.ErrOrStderr(), msg)
	}}
	if f.restPort != 0 {
		a.REST = ":" + strconv.Itoa(f.restPort)
	}
	return serve.ListenAndServe(c.Context(), s, a)
}
