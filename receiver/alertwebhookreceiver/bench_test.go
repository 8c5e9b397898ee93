package alertwebhookreceiver

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"

	"github.com/sre-copilot/incident-collector/internal/incident"
)

// notificationOf returns an Alertmanager v4 notification with n distinct alerts.
func notificationOf(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"version":"4","groupKey":"{}:{alertname=\"HighErrorRate\"}","status":"firing","receiver":"sre","externalURL":"http://alertmanager:9093","truncatedAlerts":0,"alerts":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"status":"firing","labels":{"alertname":"HighErrorRate","severity":"critical","service":"api-gateway","job":"api","instance":"gw-%d:8080"},"annotations":{"summary":"High error rate detected","description":"Error rate is above 5%% for the api-gateway service"},"startsAt":"2026-11-28T19:00:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus:9090/graph?g0.expr=rate","fingerprint":"%016x"}`, i, i)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

func BenchmarkParseAlertmanager(b *testing.B) {
	for _, n := range []int{1, 100} {
		body := notificationOf(n)
		b.Run(fmt.Sprintf("alerts=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			now := time.Now()
			for b.Loop() {
				if _, err := parseNotification(body, incident.SourceAlertmanager, now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkParsePrometheusPush(b *testing.B) {
	body := fixture(b, "prometheus/push-firing.json")
	b.ReportAllocs()
	now := time.Now()
	for b.Loop() {
		if _, err := parsePush(body, now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFingerprint(b *testing.B) {
	labels := map[string]string{"alertname": "HighErrorRate", "severity": "critical", "service": "api-gateway", "job": "api", "instance": "gw-1:8080"}
	b.ReportAllocs()
	for b.Loop() {
		_ = incident.Fingerprint(labels, nil)
	}
}

func BenchmarkBuildRecords(b *testing.B) {
	for _, n := range []int{1, 100} {
		note, err := parseNotification(notificationOf(n), incident.SourceAlertmanager, time.Now())
		require.NoError(b, err)
		builder := newRecordBuilder(FingerprintConfig{}, "bench")
		builder.identify(note)
		ep := &endpoint{id: typeAlertmanager, typ: typeAlertmanager}
		b.Run(fmt.Sprintf("alerts=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			now := time.Now()
			for b.Loop() {
				_ = builder.build(note, ep, now)
			}
		})
	}
}

// BenchmarkHandler is one whole request through the handler, without the
// network, into a sink.
func BenchmarkHandler(b *testing.B) {
	cfg := testConfig()
	cfg.RateLimit = RateLimitConfig{RequestsPerSecond: 1e12, Burst: 1 << 30}
	r, err := newReceiver(cfg, receiverSettings(), consumertest.NewNop())
	require.NoError(b, err)
	body := notificationOf(1)
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/webhooks/alertmanager", bytes.NewReader(body))
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

func BenchmarkParsePagerDutyEvent(b *testing.B) {
	body := fixture(b, "pagerduty/alertmanager-trigger.json")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	now := time.Now()
	for b.Loop() {
		ev, err := decodeEvent(body)
		if err != nil {
			b.Fatal(err)
		}
		if _, problems := ev.alert(now); problems != nil {
			b.Fatal(problems)
		}
	}
}

func BenchmarkParseJSON(b *testing.B) {
	one := bytes.TrimSpace(fixture(b, "datadog/triggered.json"))
	for _, n := range []int{1, 100} {
		body := []byte("[" + strings.TrimSuffix(strings.Repeat(string(one)+",", n), ",") + "]")
		b.Run(fmt.Sprintf("alerts=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := parseJSONAlerts(body, n); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
