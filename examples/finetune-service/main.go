// Command finetune-service is a Go service built on the library: it
// serves a QAT model with TF Serving's REST API and fine-tunes it in the
// background on data posted to it, then exports the result as the next
// version and serves it, without failing a request.
//
//	go run ./examples/finetune-service --run out/qat8 --base models/mnist --addr :8501
//	curl --data-binary @data.npz 'localhost:8501/finetune?steps=200'   # x [N, input...], y as the config's loss wants
//	curl localhost:8501/finetune                                       # {"state": "running", "done": 120, "steps": 200, "loss": ...}
//	curl -d '{"instances": [...]}' localhost:8501/v1/models/model:predict
//
// --run is a qat train run folder (config.yaml, weights.npz): the model,
// its optimizer and batch size, and the weights the first fine-tuning
// starts from; each later one starts from the one before. If --base has no
// version yet, the run is exported as version 1. Ctrl-C or SIGTERM cancels
// a running job (nothing is exported) and stops the server.
package main

import (
	"context"
	"errors"
	"flag"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/qat-go/qat/serve"
)

func main() {
	run := flag.String("run", "", "a qat train run `folder` (required)")
	base := flag.String("base", "", "the base `folder` of numbered versions (required)")
	addr := flag.String("addr", ":8501", "listen `address`")
	name := flag.String("model_name", "model", "the model's `name` in requests")
	flag.Parse()
	if *run == "" || *base == "" {
		log.Fatal("--run and --base are required")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	svc, err := newService(ctx, *run, *base, *name)
	if err != nil {
		log.Fatal(err)
	}
	defer svc.srv.Close()
	go svc.srv.Run(ctx)
	hs := &http.Server{Addr: *addr, Handler: svc.handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), serve.ShutdownGrace)
		defer cancel()
		hs.Shutdown(sctx)
	}()
	log.Printf("serving %s from %s on %s", *name, *base, *addr)
	if err := hs.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
	svc.wait()
}
