// Command ociregistry serves a small OCI registry on one address for the release
// pipeline's tests and dry runs.
//
// zot itself cannot be fetched through the Go module proxy, so this wraps the
// registry of go-containerregistry instead: blobs live on disk under -storage,
// manifests in memory, and the referrers API is on so signatures and SBOMs can
// be attached to what the pipeline pushes.
package main

import (
	"context"
	"errors"
	"flag"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

func main() {
	address := flag.String("address", "127.0.0.1:5000", "host:port to listen on")
	storage := flag.String("storage", "", "directory for blobs (required)")
	flag.Parse()

	logger := log.New(os.Stderr, "ociregistry: ", log.LstdFlags|log.LUTC)
	if *storage == "" {
		logger.Fatal("-storage is required")
	}
	if err := os.MkdirAll(*storage, 0o755); err != nil {
		logger.Fatalf("cannot create storage: %v", err)
	}

	// Listen before logging readiness, so "listening" in the log means the
	// port is already bound.
	listener, err := net.Listen("tcp", *address)
	if err != nil {
		logger.Fatalf("cannot listen on %s: %v", *address, err)
	}

	handler := registry.New(
		registry.Logger(logger),
		registry.WithReferrersSupport(true),
		registry.WithBlobHandler(registry.NewDiskBlobHandler(*storage)),
	)
	server := &http.Server{Handler: handler, ReadHeaderTimeout: 30 * time.Second}

	// Stop cleanly on SIGTERM/SIGINT so the parent's terminate() ends us quickly.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = server.Shutdown(shutdown)
	}()

	logger.Printf("listening on %s, storage %s", listener.Addr(), *storage)
	if err := server.Serve(listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
		logger.Fatalf("serve: %v", err)
	}
}
