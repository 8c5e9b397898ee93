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
}

type alertReceiver struct {
	cfg       *Config
	settings  receiver.Settings
	next      consumer.Logs
	obsrecv   *receiverhelper.ObsReport
	telemetry *metadata.TelemetryBuilder
	logger    *zap.Logger
	records   recordBuilder
	now       func() time.Time

	requestAttrs attrCache
	bodyLimit    int64 // confighttp's max_request_body_size, default filled in

	global       *endpoint // nil when alertmanager.enabled is false
	integrations map[string]*endpoint

	server   *http.Server
	addr     net.Addr // where the listener is, once started
	serveErr sync.WaitGroup
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
		records:      newRecordBuilder(cfg.Fingerprint, set.BuildInfo.Version),
		now:          time.Now,
		integrations: make(map[string]*endpoint, len(cfg.Integrations)),
		bodyLimit:    cfg.HTTP.MaxRequestBodySize,
	}
	if r.bodyLimit <= 0 {
		r.bodyLimit = defaultMaxRequestBodySize
	}
	if cfg.Alertmanager.Enabled {
		r.global = &endpoint{
			id: typeAlertmanager, typ: typeAlertmanager,
			secret: newSecret(cfg.Alertmanager.Secret),
			limit:  newLimiter(cfg.RateLimit),
		}
	}
	for _, in := range cfg.Integrations {
		ep := &endpoint{
			id: in.ID, typ: in.Type, project: in.Project,
			secret: newSecret(in.Secret), signature: in.Signature,
		}
		limit := cfg.RateLimit
		if in.RateLimit != nil {
			limit = *in.RateLimit
		}
		ep.limit = newLimiter(limit)
		for _, c := range in.AllowedCIDRs {
			p, err := netip.ParsePrefix(c)
			if err != nil {
				return nil, fmt.Errorf("integration %q: allowed_cidrs: %w", in.ID, err)
			}
			ep.cidrs = append(ep.cidrs, p.Masked())
		}
		r.integrations[in.ID] = ep
	}
	return r, nil
}

// Start opens the listener and serves in the background.
func (r *alertReceiver) Start(ctx context.Context, host component.Host) error {
	tb, err := metadata.NewTelemetryBuilder(r.settings.TelemetrySettings)
	if err != nil {
		return fmt.Errorf("creating telemetry: %w", err)
	}
	r.telemetry = tb

	ln, err := r.cfg.HTTP.ToListener(ctx)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", r.cfg.HTTP.NetAddr.Endpoint, err)
	}
	r.server, err = r.cfg.HTTP.ToServer(ctx, host.GetExtensions(), r.settings.TelemetrySettings, http.HandlerFunc(r.ServeHTTP))
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("creating HTTP server: %w", err)
	}
	r.addr = ln.Addr()
	r.logger.Info("Alert webhooks listening", zap.String("endpoint", ln.Addr().String()))
	r.serveErr.Add(1)
	go func() {
		defer r.serveErr.Done()
		if err := r.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			componentstatus.ReportStatus(host, componentstatus.NewFatalErrorEvent(err))
		}
	}()
	return nil
}

// Shutdown stops accepting requests, lets the ones in flight finish within
// ctx, and closes the listener so that the port is free at once.
func (r *alertReceiver) Shutdown(ctx context.Context) error {
	var err error
	if r.server != nil {
		err = r.server.Shutdown(ctx)
		r.serveErr.Wait()
	}
	if r.telemetry != nil {
		r.telemetry.Shutdown()
	}
	return err
}
