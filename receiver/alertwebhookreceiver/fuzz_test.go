package alertwebhookreceiver

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"

	"github.com/sre-copilot/incident-collector/internal/incident"
)

// fuzzHandler checks one body against one path through the whole handler: no
// panic, never a 5xx, and a parse error is always a payload error (a 400).
func fuzzHandler(f *testing.F, path string, seeds []string, parse func([]byte) error) {
	for _, s := range seeds {
		matches, err := filepath.Glob(filepath.Join("..", "..", "testdata", s))
		require.NoError(f, err)
		for _, m := range matches {
			f.Add(fixture(f, filepath.Join(filepath.Base(filepath.Dir(m)), filepath.Base(m))))
		}
	}
	f.Add([]byte(`{"alerts":[null,{},{"labels":null},{"labels":{"alertname":""}}]}`))
	f.Add([]byte(`[{"labels":{"alertname":"x"},"startsAt":"not a time"}]`))
	f.Add([]byte(`{"alerts":[{"labels":{"alertname":"x"},"values":{"a":[1,{"b":null}]}}],"orgId":"1"}`))

	cfg := testConfig()
	cfg.Integrations[0].Secret = "s"
	cfg.Integrations[1].Secret = "s"
	// Fuzzing checks parsing, not the token bucket.
	cfg.RateLimit = RateLimitConfig{RequestsPerSecond: 1e9, Burst: 1 << 30}
	// Fuzzing checks parsing and answers, not the store: a sink is enough.
	r, err := newReceiver(cfg, receiverSettings(), new(consumertest.LogsSink))
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, body []byte) {
		if err := parse(body); err != nil {
			var pe *payloadError
			if !errors.As(err, &pe) {
				t.Fatalf("parse error is not a payload error: %v", err)
			}
		}
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		req.Header.Set("X-Webhook-Secret", "s")
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("status %d for %q: %s", w.Code, body, w.Body.String())
		}
	})
}

func FuzzAlertmanagerPayload(f *testing.F) {
	fuzzHandler(f, "/webhooks/alertmanager", []string{"alertmanager/*.json"}, func(b []byte) error {
		_, err := parseNotification(b, "alertmanager", time.Now())
		return err
	})
}

func FuzzGrafanaPayload(f *testing.F) {
	fuzzHandler(f, "/webhooks/grafana/"+grafID, []string{"grafana/*.json"}, func(b []byte) error {
		_, err := parseNotification(b, "grafana", time.Now())
		return err
	})
}

func FuzzPrometheusPush(f *testing.F) {
	fuzzHandler(f, "/webhooks/prometheus/"+promID+"/api/v2/alerts", []string{"prometheus/*.json"}, func(b []byte) error {
		_, err := parsePush(b, time.Now())
		return err
	})
}

// The streaming count of alerts never lets a body through that the parser
// would find over the limit: whatever the spelling of the field, the strings,
// numbers, blanks and nesting around it.
func FuzzAlertsOver(f *testing.F) {
	f.Add([]byte(`{"alerts":[1,2,3,4]}`))
	f.Add([]byte(`{"a":"]\"[","ALERTS":[{},{},{"x":[1,2]},[],null]}`))
	f.Add([]byte(`{"\u0061lerts":[1e5,-2,true,false]}`))
	f.Add([]byte(`[{"labels":{}},{},{},{}]`))
	f.Add([]byte("\f{\"alerts\":[{},{},{},{}]}"))
	f.Add([]byte(`{"` + strings.Repeat("k", 1100) + `":1,"alerts":[{},{},{},{}]}`))
	now := time.Now()
	f.Fuzz(func(t *testing.T, body []byte) {
		const limit = 3
		if n, err := parseNotification(body, incident.SourceAlertmanager, now); err == nil && len(n.Alerts)+len(n.Rejected) > limit {
			if !alertsOver(bytes.NewReader(body), kindAlertmanager, limit) {
				t.Fatalf("%d alerts parsed, the count let them through: %q", len(n.Alerts)+len(n.Rejected), body)
			}
		}
		if n, err := parsePush(body, now); err == nil && len(n.Alerts)+len(n.Rejected) > limit {
			if !alertsOver(bytes.NewReader(body), kindPrometheusPush, limit) {
				t.Fatalf("%d pushed alerts parsed, the count let them through: %q", len(n.Alerts)+len(n.Rejected), body)
			}
		}
		if n, err := parseJSONAlerts(body, 1<<30); err == nil && len(n.Alerts)+len(n.Rejected) > limit {
			if !alertsOver(bytes.NewReader(body), kindJSON, limit) {
				t.Fatalf("%d JSON alerts parsed, the count let them through: %q", len(n.Alerts)+len(n.Rejected), body)
			}
		}
	})
}

// A PagerDuty event through the whole handler: no panic, never a 5xx; an
// event accepted has a fingerprint both stores keep as it is, a title within
// PagerDuty's bound and one of the three statuses; one refused names each
// problem.
func FuzzPagerDutyEvent(f *testing.F) {
	for _, name := range []string{"docs-trigger.json", "docs-acknowledge.json", "docs-resolve.json", "alertmanager-trigger.json", "alertmanager-resolve.json"} {
		f.Add(fixture(f, "pagerduty/"+name))
	}
	f.Add([]byte(`{"routing_key":"` + pdKey + `","event_action":"trigger","payload":{"summary":"\ud800","source":1,"severity":"info","timestamp":"2015-07-17T08:42:58+0000","custom_details":{"a":[1e400]}}}`))
	f.Add([]byte(`{"routing_key":"` + pdKey + `","event_action":"resolve","dedup_key":"\u0000"}`))
	cfg := senderConfig()
	cfg.RateLimit = RateLimitConfig{RequestsPerSecond: 1e9, Burst: 1 << 30}
	r, err := newReceiver(cfg, receiverSettings(), new(consumertest.LogsSink))
	require.NoError(f, err)
	now := time.Now()
	f.Fuzz(func(t *testing.T, body []byte) {
		if ev, err := decodeEvent(body); err == nil {
			a, problems := ev.alert(now)
			switch {
			case len(problems) > 0:
				for _, p := range problems {
					if !strings.HasPrefix(p, "'") {
						t.Fatalf("a problem that names no field: %q", p)
					}
				}
			case incident.FingerprintProblem(a.Fingerprint) != "" || strings.ContainsRune(a.Fingerprint, utf8.RuneError):
				t.Fatalf("accepted an unusable dedup key %q", a.Fingerprint)
			case len(a.Title) > maxSummaryBytes:
				t.Fatalf("title of %d bytes", len(a.Title))
			case a.Status != incident.StatusFiring && a.Status != incident.StatusResolved && a.Status != incident.StatusAcknowledged:
				t.Fatalf("status %q", a.Status)
			}
		} else if pe := (*payloadError)(nil); !errors.As(err, &pe) {
			t.Fatalf("decode error is not a payload error: %v", err)
		}
		req := httptest.NewRequest(http.MethodPost, "/webhooks/pagerduty/"+pdID, bytes.NewReader(body))
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("status %d for %q: %s", w.Code, body, w.Body.String())
		}
	})
}

// Any JSON through the whole handler: no panic, never a 5xx, and every
// element of an array is either an alert or rejected, at its index.
func FuzzJSONBody(f *testing.F) {
	for _, name := range []string{"zabbix/problem.json", "datadog/triggered.json", "cloudwatch/alarm.json", "cloudwatch/subscription-confirmation.json"} {
		f.Add(fixture(f, name))
	}
	f.Add([]byte(`[{"a":1},2,null,[3],{"b":{"c":[1e400,-0,12345678901234567890]}}]`))
	f.Add([]byte(`"\ud800"`))
	cfg := senderConfig()
	cfg.RateLimit = RateLimitConfig{RequestsPerSecond: 1e9, Burst: 1 << 30}
	r, err := newReceiver(cfg, receiverSettings(), new(consumertest.LogsSink))
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, body []byte) {
		n, err := parseJSONAlerts(body, 1<<30)
		if err != nil {
			if pe := (*payloadError)(nil); !errors.As(err, &pe) {
				t.Fatalf("parse error is not a payload error: %v", err)
			}
		} else {
			seen := map[int]bool{}
			for _, a := range n.Alerts {
				seen[a.Index] = true
			}
			for _, rj := range n.Rejected {
				if seen[rj.Index] {
					t.Fatalf("element %d both an alert and rejected", rj.Index)
				}
				seen[rj.Index] = true
			}
			for i := range len(seen) {
				if !seen[i] {
					t.Fatalf("element %d lost among %d", i, len(seen))
				}
			}
		}
		req := httptest.NewRequest(http.MethodPost, "/webhooks/json/"+jsonID, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+jsonSecret)
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("status %d for %q: %s", w.Code, body, w.Body.String())
		}
	})
}
