package incidentexporter // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter"

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/metadata"
	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/store"
)

// The incident API and web view (README, "Incident API"): the exporter owns
// the store, so it serves them, on a confighttp server of their own, as the
// Prometheus exporter serves /metrics.

const (
	// maxAPIBodySize is the default body limit: an action's body is its
	// `by` and `note` (4 KiB, up to six times that as JSON escapes).
	maxAPIBodySize = 64 << 10
	// maxAPIHeaderBytes: browsers send every cookie of the host with each
	// request, and localhost collects them from every local service.
	maxAPIHeaderBytes = 64 << 10
	// apiRetryAfter is the Retry-After of a 503, in seconds, as on the
	// webhook port.
	apiRetryAfter = "5"
	// routeUnmatched is the route label of a path no route serves.
	routeUnmatched = "unmatched"
)

// apiServer serves the incident API and the web view.
type apiServer struct {
	cfg       *APIConfig
	store     *store.Store
	tokens    tokens
	pages     *pages
	logger    *zap.Logger
	telemetry *metadata.TelemetryBuilder
	now       func() time.Time
	// timeout bounds each request's store calls (the exporter's timeout):
	// an unreachable store is a 503 within it, not a hung page.
	timeout time.Duration

	mux     *http.ServeMux
	server  *http.Server
	serving sync.WaitGroup
}

func newAPIServer(cfg *APIConfig, s *store.Store, tb *metadata.TelemetryBuilder, logger *zap.Logger, now func() time.Time, timeout time.Duration) (*apiServer, error) {
	p, err := newPages()
	if err != nil {
		return nil, fmt.Errorf("parsing the web view's templates: %w", err)
	}
	a := &apiServer{
		cfg: cfg, store: s, tokens: newTokens(cfg.ReadTokens, cfg.WriteTokens), pages: p,
		logger: logger, telemetry: tb, now: now, timeout: timeout,
	}
	if a.timeout <= 0 {
		// timeout: 0 lets a webhook wait on the store for ever; a page
		// must still answer.
		a.timeout = defaultTimeout
	}
	a.mux = http.NewServeMux()
	for _, rt := range a.routes() {
		a.mux.Handle(rt.pattern, a.serve(rt))
	}
	return a, nil
}

// start listens and serves in the background. A listener that cannot be
// opened fails the start (the collector does not run without its API); an
// error while serving is reported as fatal, as the otlp receiver does.
func (a *apiServer) start(ctx context.Context, host component.Host, set component.TelemetrySettings) error {
	ln, err := a.cfg.ServerConfig.ToListener(ctx)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", a.cfg.ServerConfig.NetAddr.Endpoint, err)
	}
	serverCfg := a.cfg.ServerConfig // ToServer fills in defaults; the config stays as loaded
	a.server, err = serverCfg.ToServer(ctx, host.GetExtensions(), set, a, confighttp.WithErrorHandler(a.serveHTTPError))
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("creating the API's HTTP server: %w", err)
	}
	a.server.MaxHeaderBytes = maxAPIHeaderBytes
	a.logger.Info("Incident API listening", zap.String("endpoint", ln.Addr().String()),
		zap.Int("read_tokens", len(a.cfg.ReadTokens)), zap.Int("write_tokens", len(a.cfg.WriteTokens)))
	a.serving.Go(func() {
		if err := a.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			componentstatus.ReportStatus(host, componentstatus.NewFatalErrorEvent(err))
		}
	})
	return nil
}

// shutdown stops accepting requests and lets those in flight finish within
// ctx (they are short: each store call is bounded by the timeout). It
// closes the listener, so that the port is free at once.
func (a *apiServer) shutdown(ctx context.Context) error {
	if a.server == nil {
		return nil
	}
	err := a.server.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		err = errors.Join(err, a.server.Close())
	}
	a.serving.Wait()
	return err
}

// ServeHTTP counts each answer by route and status code around the routes.
func (a *apiServer) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	began := time.Now()
	_, pattern := a.mux.Handler(req)
	if pattern == "" || pattern == routeCatchAll {
		pattern = routeUnmatched
	}
	sw := &statusWriter{ResponseWriter: w}
	a.mux.ServeHTTP(sw, req)
	a.record(req.Context(), pattern, sw.status(), began)
}

func (a *apiServer) record(ctx context.Context, route string, code int, began time.Time) {
	a.telemetry.IncidentAPIRequests.Add(ctx, 1, metric.WithAttributes(attribute.String("route", route), attribute.Int("code", code)))
	if ce := a.logger.Check(zap.DebugLevel, "Incident API answered"); ce != nil {
		// The route, never the path's query or a header: no credential.
		ce.Write(zap.String("route", route), zap.Int("code", code), zap.Duration("duration", time.Since(began)))
	}
}

// serveHTTPError answers, in JSON, what confighttp refuses before a route
// sees the request: an auth extension's refusal, a body that does not
// decode.
func (a *apiServer) serveHTTPError(w http.ResponseWriter, req *http.Request, _ string, status int) {
	detail := http.StatusText(status)
	if status == http.StatusUnauthorized {
		// The authenticator's message may name what it checked.
		detail = "Not authenticated by the collector's authenticator"
	}
	writeJSON(w, status, errorBody{Detail: detail})
	a.record(req.Context(), routeUnmatched, status, time.Now())
}

// statusWriter remembers the status code written.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

func (w *statusWriter) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// storeContext bounds a request's store calls by the timeout.
func (a *apiServer) storeContext(req *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(req.Context(), a.timeout)
}
