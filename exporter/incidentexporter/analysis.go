package incidentexporter // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter"

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/store"
)

// notification is the JSON body POSTed to the analysis service and to
// webhook sinks (README, "Analysis trigger").
type notification struct {
	Event string `json:"event"`
	// Sink names the webhook sink; absent for the analysis service.
	Sink string `json:"sink,omitempty"`
	// By and Note: the person who acknowledged, unacknowledged or resolved.
	By   string `json:"by,omitempty"`
	Note string `json:"note,omitempty"`
	// ResolutionReason: why a resolved incident resolved, then.
	ResolutionReason string       `json:"resolution_reason,omitempty"`
	Incident         incidentJSON `json:"incident"`
	// Alerts are the incident's member alerts, the first store.MaxNotifiedAlerts.
	Alerts []alertJSON `json:"alerts"`
}

// idempotencyKey is the same for every delivery of one event: the incident
// id and the event, plus the event's key when an incident can have several
// (a resolution after a reopen, each alert added).
func idempotencyKey(e *store.OutboxEvent) string {
	k := e.Incident.ID + ":" + e.Event
	if e.Key != "" {
		k += ":" + e.Key
	}
	return k
}

// Sign is the X-Incident-Signature value without its "sha256=" prefix: the
// lowercase hex HMAC-SHA256 of "<timestamp>.<body>".
func Sign(secret []byte, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(timestamp))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

func notificationOf(e *store.OutboxEvent) notification {
	n := notification{
		Event: e.Event, By: e.By, Note: e.Note, ResolutionReason: e.Reason,
		Incident: incidentJSONOf(&e.Incident), Alerts: make([]alertJSON, len(e.Alerts)),
	}
	for i := range e.Alerts {
		n.Alerts[i] = alertJSONOf(&e.Alerts[i])
	}
	return n
}

// signedPost is a notification's request: JSON, with the Idempotency-Key and,
// when there is a secret, the signature headers (README, "Analysis trigger").
func signedPost(ctx context.Context, url string, body []byte, secret []byte, e *store.OutboxEvent, now time.Time) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, errors.New("not a valid request") // never the URL: it may be a secret
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", idempotencyKey(e))
	if len(secret) > 0 {
		ts := strconv.FormatInt(now.Unix(), 10)
		req.Header.Set("X-Incident-Timestamp", ts)
		req.Header.Set("X-Incident-Signature", "sha256="+Sign(secret, ts, body))
	}
	return req, nil
}

// analysisSink delivers to the analysis service.
func analysisSink(cfg *AnalysisConfig, client *http.Client) *sink {
	return &sink{
		name: analysisSinkName, client: client, retry: cfg.Retry, maxInFlight: cfg.MaxInFlight,
		lease: cfg.Client.Timeout + leaseSlack,
		request: func(ctx context.Context, e *store.OutboxEvent, now time.Time) (*http.Request, error) {
			body, err := json.Marshal(notificationOf(e))
			if err != nil {
				return nil, err
			}
			return signedPost(ctx, cfg.Endpoint, body, []byte(cfg.Secret), e, now)
		},
	}
}
