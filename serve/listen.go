package serve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"google.golang.org/grpc"
)

// Addrs are where ListenAndServe listens ("" for none; one is required).
type Addrs struct {
	GRPC, REST string
	// Ready, if set, is called with the bound addresses once both listen
	// (useful with port 0).
	Ready func(grpcAddr, restAddr net.Addr)
}

// ShutdownGrace is how long a shutdown waits for requests in flight.
const ShutdownGrace = 30 * time.Second

// ListenAndServe serves s over gRPC and REST and polls its base paths
// until ctx is done, then stops taking connections, lets the requests in
// flight finish (up to ShutdownGrace) and unloads every version.
func ListenAndServe(ctx context.Context, s *Server, a Addrs) error {
	if a.GRPC == "" && a.REST == "" {
		return errors.New("serve: neither a gRPC nor a REST address")
	}
	var gl, rl net.Listener
	var err error
	if a.GRPC != "" {
		if gl, err = net.Listen("tcp", a.GRPC); err != nil {
			return fmt.Errorf("serve: gRPC: %w", err)
		}
	}
	if a.REST != "" {
		if rl, err = net.Listen("tcp", a.REST); err != nil {
			if gl != nil {
				gl.Close()
			}
			return fmt.Errorf("serve: REST: %w", err)
		}
	}
	errc := make(chan error, 2)
	var gs *grpc.Server
	if gl != nil {
		gs = grpc.NewServer(grpc.MaxRecvMsgSize(int(s.opts.MaxBodyBytes)))
		s.RegisterGRPC(gs)
		go func() { errc <- gs.Serve(gl) }()
	}
	var hs *http.Server
	if rl != nil {
		hs = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
		go func() { errc <- hs.Serve(rl) }()
	}
	if a.Ready != nil {
		var ga, ra net.Addr
		if gl != nil {
			ga = gl.Addr()
		}
		if rl != nil {
			ra = rl.Addr()
		}
		a.Ready(ga, ra)
	}
	pctx, stopPoll := context.WithCancel(ctx)
	go s.Run(pctx)
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	stopPoll()
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
	defer cancel()
	if hs != nil {
		hs.Shutdown(sctx)
	}
	if gs != nil {
		done := make(chan struct{})
		go func() { gs.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-sctx.Done():
			gs.Stop()
		}
	}
	s.Close()
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", serveErr)
	}
	return nil
}
