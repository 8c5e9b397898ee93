package alertwebhookreceiver // import "github.com/sre-copilot/incident-collector/receiver/alertwebhookreceiver"

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.uber.org/zap"

	"github.com/sre-copilot/incident-collector/receiver/alertwebhookreceiver/internal/metadata"
)

// endpoint is what one webhook path resolves to: the global Alertmanager
// endpoint or a configured integration, with its checks ready to run.
type endpoint struct {
	id        string
	typ       string
	project   string
	secret    *secret // nil: no secret required (global endpoint only)
	signature *SignatureConfig
	cidrs     []netip.Prefix
	limit     limiter
	// unauthenticated bounds the bodies read before the sender is known (an
	// HMAC integration, the global endpoint without a secret); nil when the
	// sender is authenticated by its headers before the body is read.
	unauthenticated *budget
}

type alertReceiver struct {
	cfg      *Config
	settings receiver.Settings
	next     consumer.Logs
	obsrecv  *receiverhelper.ObsReport
	logger   *zap.Logger
	answers  *answers
	records  recordBuilder
	now      func() time.Time

	bodyLimit int64 // confighttp's max_request_body_size, default filled in
	maxAlerts int
	encodings encodings

	global       *endpoint // nil when alertmanager.enabled is false
	integrations map[string]*endpoint

	conns     *connections
	server    *http.Server
	addr      net.Addr // where the listener is, once started
	serveErr  sync.WaitGroup
	inventory inventory
}

func newReceiver(cfg *Config, set receiver.Settings, next consumer.Logs) (*alertReceiver, error) {
	obsrecv, err := receiverhelper.NewObsReport(receiverhelper.ObsReportSettings{
		ReceiverID:             set.ID,
		Transport:              "http",
		ReceiverCreateSettings: set,
	})
	if err != nil {
		return nil, fmt.Errorf("creating obsreport: %w", err)
	}
	r := &alertReceiver{
		cfg:          cfg,
		settings:     set,
		next:         next,
		obsrecv:      obsrecv,
		logger:       set.Logger,
		answers:      newAnswers(set.Logger),
		records:      newRecordBuilder(cfg.Fingerprint, set.BuildInfo.Version),
		now:          time.Now,
		integrations: make(map[string]*endpoint, len(cfg.Integrations)),
		bodyLimit:    cfg.bodyLimit(),
		maxAlerts:    cfg.maxAlertsPerRequest(),
		encodings:    newEncodings(cfg.HTTP.CompressionAlgorithms),
		conns:        newConnections(),
		inventory:    inventory{period: inventoryPeriod},
	}
	if am := cfg.Alertmanager; am.Enabled {
		// The global endpoint is an integration of its own type and id.
		ep, err := r.newEndpoint(IntegrationConfig{
			ID: typeAlertmanager, Type: typeAlertmanager, Secret: am.Secret, AllowedCIDRs: am.AllowedCIDRs, RateLimit: am.RateLimit,
		})
		if err != nil {
			return nil, fmt.Errorf("alertmanager: %w", err)
		}
		r.global = ep
	}
	for _, in := range cfg.Integrations {
		ep, err := r.newEndpoint(in)
		if err != nil {
			return nil, fmt.Errorf("integration %q: %w", in.ID, err)
		}
		r.integrations[in.ID] = ep
	}
	return r, nil
}

func (r *alertReceiver) newEndpoint(in IntegrationConfig) (*endpoint, error) {
	ep := &endpoint{id: in.ID, typ: in.Type, project: in.Project, secret: newSecret(in.Secret), signature: in.Signature}
	limit := r.cfg.RateLimit
	if in.RateLimit != nil {
		limit = *in.RateLimit
	}
	ep.limit = newLimiter(limit)
	for _, c := range in.AllowedCIDRs {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, fmt.Errorf("allowed_cidrs: %w", err)
		}
		ep.cidrs = append(ep.cidrs, p.Masked())
	}
	// The body is read before the sender is known where there is no secret,
	// where the body is signed, and where a PagerDuty sender authenticates
	// with the routing_key inside it.
	if ep.secret == nil || ep.signature != nil || in.Type == typePagerDuty {
		ep.unauthenticated = newBudget(r.cfg.unauthenticatedBodyBudget())
	}
	return ep, nil
}

// unauthenticatedEndpoints counts the endpoints that read bodies before
// knowing the sender: each can hold up to one budget.
func (r *alertReceiver) unauthenticatedEndpoints() int {
	n := 0
	if r.global != nil && r.global.unauthenticated != nil {
		n++
	}
	for _, ep := range r.integrations {
		if ep.unauthenticated != nil {
			n++
		}
	}
	return n
}

// Start opens the listener and serves in the background, and announces the
// receiver's integrations (inventory.go).
func (r *alertReceiver) Start(ctx context.Context, host component.Host) error {
	tb, err := metadata.NewTelemetryBuilder(r.settings.TelemetrySettings)
	if err != nil {
		return fmt.Errorf("creating telemetry: %w", err)
	}
	r.answers.telemetry = tb

	ln, err := r.cfg.HTTP.ToListener(ctx)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", r.cfg.HTTP.NetAddr.Endpoint, err)
	}
	// The receiver decodes bodies itself (encoding.go): confighttp's decoding
	// runs before any credential is checked and answers in plain text.
	httpCfg := r.cfg.HTTP
	httpCfg.CompressionAlgorithms = []string{}
	r.server, err = httpCfg.ToServer(ctx, host.GetExtensions(), r.settings.TelemetrySettings, http.HandlerFunc(r.ServeHTTP),
		confighttp.WithErrorHandler(r.serveHTTPError))
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("creating HTTP server: %w", err)
	}
	r.server.ConnState = r.conns.track
	r.server.ConnContext = withConn
	// Go's default is 1 MiB of headers per connection, held for up to
	// read_header_timeout before a single check has run; a webhook sends a
	// few hundred bytes.
	r.server.MaxHeaderBytes = maxHeaderBytes
	r.addr = ln.Addr()
	r.logger.Info("Alert webhooks listening", zap.String("endpoint", ln.Addr().String()),
		zap.Int("unauthenticated_endpoints", r.unauthenticatedEndpoints()),
		zap.Int64("unauthenticated_body_budget", r.cfg.unauthenticatedBodyBudget()))
	r.serveErr.Add(1)
	go func() {
		defer r.serveErr.Done()
		if err := r.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			componentstatus.ReportStatus(host, componentstatus.NewFatalErrorEvent(err))
		}
	}()
	r.startInventory()
	return nil
}

// Shutdown stops the inventory's announcements and accepting requests,
// closes the connections that have
// nothing in the pipeline (slow uploads are cut off, not waited for), lets the
// requests handing alerts on finish within ctx, and closes the listener so
// that the port is free at once.
func (r *alertReceiver) Shutdown(ctx context.Context) error {
	r.stopInventory()
	var err error
	if r.server != nil {
		r.conns.drain()
		err = r.server.Shutdown(ctx)
		r.serveErr.Wait()
	}
	if r.answers.telemetry != nil {
		r.answers.telemetry.Shutdown()
	}
	return err
}

// maxHeaderBytes bounds a request's headers (Go's default is 1 MiB): a
// webhook's are a few hundred bytes, and a connection holds them for up to
// read_header_timeout before any check has run. Larger headers are answered 431.
const maxHeaderBytes = 16 << 10
