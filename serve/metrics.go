package serve

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are a server's Prometheus series, in a registry of its own.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	loaded   *prometheus.GaugeVec
	batch    *prometheus.HistogramVec
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "qat_serve_requests_total",
			Help: "Requests by model, method (predict, metadata, status), API (rest, grpc) and HTTP status code.",
		}, []string{"model", "method", "api", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "qat_serve_request_duration_seconds",
			Help:    "Time from a request's arrival to its answer.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18),
		}, []string{"model", "method", "api"}),
		loaded: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "qat_serve_loaded_versions",
			Help: "Versions loaded in memory (served ones and retired ones still finishing requests).",
		}, []string{"model"}),
		batch: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "qat_serve_batch_examples",
			Help:    "Examples per session run with batching on (requests merged).",
			Buckets: prometheus.ExponentialBuckets(1, 2, 12),
		}, []string{"model"}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.loaded, m.batch,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
