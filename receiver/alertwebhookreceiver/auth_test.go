package alertwebhookreceiver

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/sre-copilot/incident-collector/receiver/alertwebhookreceiver/internal/metadatatest"
)

func basic(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

func TestSecretForms(t *testing.T) {
	tests := []struct {
		name    string
		headers map[string]string
		code    int
	}{
		{"X-Webhook-Secret", map[string]string{"X-Webhook-Secret": promSecret}, 200},
		{"Bearer", map[string]string{"Authorization": "Bearer " + promSecret}, 200},
		{"bearer lower case", map[string]string{"Authorization": "bearer " + promSecret}, 200},
		{"Basic password", map[string]string{"Authorization": basic("alertmanager", promSecret)}, 200},
		{"wrong X-Webhook-Secret", map[string]string{"X-Webhook-Secret": promSecret + "x"}, 403},
		{"wrong Bearer", map[string]string{"Authorization": "Bearer nope"}, 403},
		{"secret as Basic user", map[string]string{"Authorization": basic(promSecret, "")}, 403},
		{"secret of another integration", map[string]string{"X-Webhook-Secret": grafSecret}, 403},
		{"missing", nil, 403},
		{"prefix of the secret", map[string]string{"X-Webhook-Secret": promSecret[:4]}, 403},
	}
	_, base := startReceiver(t, testConfig(), newStoreConsumer(t))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := post(t, base+"/webhooks/prometheus/"+promID, fixture(t, "alertmanager/seed-example.json"), tt.headers)
			assert.Equal(t, tt.code, resp.code, string(resp.body))
			if tt.code == 403 {
				assert.JSONEq(t, `{"detail":"Invalid webhook secret"}`, string(resp.body))
			}
			assert.NotContains(t, string(resp.body), promSecret)
		})
	}
}

func TestGlobalEndpointSecret(t *testing.T) {
	cfg := testConfig()
	cfg.Alertmanager.Secret = "global-secret"
	_, base := startReceiver(t, cfg, newStoreConsumer(t))
	body := fixture(t, "alertmanager/seed-example.json")
	assert.Equal(t, 403, post(t, base+"/webhooks/alertmanager", body, nil).code)
	assert.Equal(t, 403, post(t, base+"/webhooks/alertmanager", body, map[string]string{"X-Webhook-Secret": promSecret}).code)
	assert.Equal(t, 200, post(t, base+"/webhooks/alertmanager", body, map[string]string{"Authorization": "Bearer global-secret"}).code)
}

// The signatures in the fixture were computed independently for the exact
// bytes of grafana/seed-example.json.
func TestGrafanaHMAC(t *testing.T) {
	body := fixture(t, "grafana/seed-example.json")
	const sigPlain = "191240e9e9da1968e0ce1f8205aee4bcd2ae446e1c59f6de717e11bd62d73700"
	const sigTS = "b5ecdcdf376832abe4de6520fce3abe2d98c71107962b91ac0a67b851f4c57ea"
	const ts = "1764360000"
	tsTime := time.Unix(1764360000, 0)

	var clock time.Time
	_, base := startReceiver(t, testConfig(), newStoreConsumer(t), func(r *alertReceiver) {
		r.now = func() time.Time { return clock }
	})
	tests := []struct {
		name    string
		id      string
		now     time.Time
		headers map[string]string
		body    []byte
		code    int
		detail  string
	}{
		{"good", hmacID, time.Now(), map[string]string{"X-Grafana-Alerting-Signature": sigPlain}, body, 200, ""},
		{"good with sha256= prefix", hmacID, time.Now(), map[string]string{"X-Grafana-Alerting-Signature": "sha256=" + sigPlain}, body, 200, ""},
		{"bad", hmacID, time.Now(), map[string]string{"X-Grafana-Alerting-Signature": sigTS}, body, 403, detailBadSignature},
		{"tampered body", hmacID, time.Now(), map[string]string{"X-Grafana-Alerting-Signature": sigPlain}, append([]byte(" "), body...), 403, detailBadSignature},
		{"missing", hmacID, time.Now(), nil, body, 403, detailBadSignature},
		{"plain secret is not enough", hmacID, time.Now(), map[string]string{"Authorization": "Bearer " + hmacSecret}, body, 403, detailBadSignature},
		{"not hex", hmacID, time.Now(), map[string]string{"X-Grafana-Alerting-Signature": "zz"}, body, 403, detailBadSignature},
		{"timestamped good", hmacTSID, tsTime.Add(30 * time.Second), map[string]string{
			"X-Grafana-Alerting-Signature": sigTS, "X-Grafana-Alerting-Timestamp": ts,
		}, body, 200, ""},
		{"timestamped skewed", hmacTSID, tsTime.Add(2 * time.Minute), map[string]string{
			"X-Grafana-Alerting-Signature": sigTS, "X-Grafana-Alerting-Timestamp": ts,
		}, body, 403, detailBadTimestamp},
		{"timestamped from the future", hmacTSID, tsTime.Add(-2 * time.Minute), map[string]string{
			"X-Grafana-Alerting-Signature": sigTS, "X-Grafana-Alerting-Timestamp": ts,
		}, body, 403, detailBadTimestamp},
		{"timestamp changed", hmacTSID, tsTime, map[string]string{
			"X-Grafana-Alerting-Signature": sigTS, "X-Grafana-Alerting-Timestamp": "1764360001",
		}, body, 403, detailBadSignature},
		{"timestamp missing", hmacTSID, tsTime, map[string]string{"X-Grafana-Alerting-Signature": sigTS}, body, 403, detailBadTimestamp},
		{"untimestamped signature on a timestamped integration", hmacTSID, tsTime, map[string]string{
			"X-Grafana-Alerting-Signature": sigPlain, "X-Grafana-Alerting-Timestamp": ts,
		}, body, 403, detailBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock = tt.now
			resp := post(t, base+"/webhooks/grafana/"+tt.id, tt.body, tt.headers)
			assert.Equal(t, tt.code, resp.code, string(resp.body))
			if tt.detail != "" {
				assert.JSONEq(t, `{"detail":"`+tt.detail+`"}`, string(resp.body))
			}
		})
	}
}

// Our own signer agrees with the fixture, so the test above checks the
// receiver, not a copy of its code.
func TestFixtureSignatureIsHMACOfBody(t *testing.T) {
	mac := hmac.New(sha256.New, []byte(hmacSecret))
	mac.Write(fixture(t, "grafana/seed-example.json"))
	assert.Equal(t, "191240e9e9da1968e0ce1f8205aee4bcd2ae446e1c59f6de717e11bd62d73700", hex.EncodeToString(mac.Sum(nil)))
}

func TestAllowedCIDRs(t *testing.T) {
	cfg := testConfig()
	cfg.Integrations[0].AllowedCIDRs = []string{"10.0.0.0/8"}
	cfg.Integrations[1].AllowedCIDRs = []string{"127.0.0.0/8", "::1/128"}
	_, base := startReceiver(t, cfg, newStoreConsumer(t))
	resp := post(t, base+"/webhooks/prometheus/"+promID, fixture(t, "alertmanager/seed-example.json"),
		map[string]string{"X-Webhook-Secret": promSecret, "X-Forwarded-For": "10.1.2.3"})
	assert.Equal(t, http.StatusForbidden, resp.code, "the peer is 127.0.0.1; X-Forwarded-For must not count")
	assert.JSONEq(t, `{"detail":"Source address not allowed"}`, string(resp.body))

	resp = post(t, base+"/webhooks/grafana/"+grafID, fixture(t, "grafana/seed-example.json"), grafBearer)
	assert.Equal(t, http.StatusOK, resp.code, string(resp.body))
}

func TestSourceAllowed(t *testing.T) {
	cfg := testConfig()
	cfg.Integrations[0].AllowedCIDRs = []string{"10.0.0.0/8", "2001:db8::/32"}
	r, err := newReceiver(cfg, receiverSettings(), newStoreConsumer(t))
	require.NoError(t, err)
	cidrs := r.integrations[promID].cidrs
	assert.True(t, sourceAllowed(cidrs, "10.9.8.7:5555"))
	assert.True(t, sourceAllowed(cidrs, "[::ffff:10.9.8.7]:5555"), "IPv4-mapped IPv6 peers match IPv4 prefixes")
	assert.True(t, sourceAllowed(cidrs, "[2001:db8::1]:443"))
	assert.False(t, sourceAllowed(cidrs, "11.0.0.1:5555"))
	assert.False(t, sourceAllowed(cidrs, "garbage"))
	assert.True(t, sourceAllowed(nil, "garbage"), "no list: every source")
}

func TestRateLimit(t *testing.T) {
	cfg := testConfig()
	cfg.Integrations[0].RateLimit = &RateLimitConfig{RequestsPerSecond: 0.5, Burst: 3}
	cfg.RateLimit = RateLimitConfig{RequestsPerSecond: 1000, Burst: 1000}
	_, base := startReceiver(t, cfg, newStoreConsumer(t))
	body := fixture(t, "alertmanager/seed-example.json")
	headers := map[string]string{"X-Webhook-Secret": promSecret}
	for i := range 3 {
		assert.Equal(t, 200, post(t, base+"/webhooks/prometheus/"+promID, body, headers).code, "burst request %d", i)
	}
	resp := post(t, base+"/webhooks/prometheus/"+promID, body, headers)
	require.Equal(t, http.StatusTooManyRequests, resp.code)
	wait, err := strconv.Atoi(resp.header.Get("Retry-After"))
	require.NoError(t, err)
	assert.True(t, wait >= 1 && wait <= 2, "one token every 2 s: Retry-After %d", wait)
	assert.JSONEq(t, `{"detail":"Too many webhook requests. Please retry after `+strconv.Itoa(wait)+` seconds."}`, string(resp.body))

	// Other integrations and the global endpoint have their own buckets.
	assert.Equal(t, 200, post(t, base+"/webhooks/grafana/"+grafID, fixture(t, "grafana/seed-example.json"), grafBearer).code)
	assert.Equal(t, 200, post(t, base+"/webhooks/alertmanager", body, nil).code)
	// Refused requests do not use up tokens of authenticated senders.
	assert.Equal(t, 403, post(t, base+"/webhooks/prometheus/"+promID, body, nil).code)
}

func sign(ts string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(hmacSecret))
	if ts != "" {
		mac.Write([]byte(ts + ":"))
	}
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// Timestamps in seconds and in milliseconds are both understood; a value out
// of range is refused, never wrapped around into an accepted one.
func TestSignatureTimestamps(t *testing.T) {
	body := fixture(t, "grafana/seed-example.json")
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	_, base := startReceiver(t, testConfig(), newStoreConsumer(t), func(r *alertReceiver) {
		r.now = func() time.Time { return now }
	})
	sec, ms := strconv.FormatInt(now.Unix(), 10), strconv.FormatInt(now.UnixMilli(), 10)
	tests := []struct {
		name string
		ts   string
		code int
	}{
		{"seconds, now", sec, 200},
		{"milliseconds, now", ms, 200},
		{"seconds, 30 s ago", strconv.FormatInt(now.Add(-30*time.Second).Unix(), 10), 200},
		{"milliseconds, 30 s ahead", strconv.FormatInt(now.Add(30*time.Second).UnixMilli(), 10), 200},
		{"milliseconds, an hour ago", strconv.FormatInt(now.Add(-time.Hour).UnixMilli(), 10), 403},
		{"seconds, an hour ago", strconv.FormatInt(now.Add(-time.Hour).Unix(), 10), 403},
		{"20000000000 (year 2603 in seconds)", "20000000000", 403},
		{"1e11 written out", "100000000000", 403},
		{"1e11 as an exponent", "1e11", 403},
		{"the largest int64", "9223372036854775807", 403},
		{"past the int64 range", "99999999999999999999", 403},
		{"microseconds, now", strconv.FormatInt(now.UnixMicro(), 10), 403},
		{"negative", "-" + sec, 403},
		{"with a plus sign", "+" + sec, 403},
		{"zero", "0", 403},
		{"fractional", sec + ".5", 403},
		{"empty", "", 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := post(t, base+"/webhooks/grafana/"+hmacTSID, body, map[string]string{
				"X-Grafana-Alerting-Signature": sign(tt.ts, body), "X-Grafana-Alerting-Timestamp": tt.ts,
			})
			assert.Equal(t, tt.code, resp.code, string(resp.body))
			if tt.code == 403 {
				assert.JSONEq(t, `{"detail":"`+detailBadTimestamp+`"}`, string(resp.body))
			}
		})
	}
}

func TestSignatureTime(t *testing.T) {
	for ts, want := range map[string]int64{
		"1764417600":     1764417600000,
		"1764417600123":  1764417600123,
		"99999999999":    99999999999000, // the last second: year 5138
		"100000000000":   100000000000,   // the first millisecond reading: 1973
		"99999999999999": 99999999999999,
	} {
		got, ok := signatureTime(ts)
		assert.True(t, ok, ts)
		assert.Equal(t, want, got, ts)
	}
	for _, ts := range []string{"100000000000000", "9223372036854775807", "1e11", "-1", "+1", " 1", "0x10", "١٢٣"} {
		_, ok := signatureTime(ts)
		assert.False(t, ok, ts)
	}
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	assert.True(t, withinSkew(now.UnixMilli()-300_000, now, 5*time.Minute))
	assert.False(t, withinSkew(now.UnixMilli()-300_001, now, 5*time.Minute))
	assert.False(t, withinSkew(99999999999999, now, 5*time.Minute))
}

// Refused requests take no rate-limit token, whatever the form of
// authentication: ten strangers, then the real sender still gets through a
// bucket of three.
func TestStrangersSpendNoTokens(t *testing.T) {
	body := fixture(t, "grafana/seed-example.json")
	now := time.Now()
	ts := strconv.FormatInt(now.Unix(), 10)
	slow := &RateLimitConfig{RequestsPerSecond: 0.001, Burst: 3}
	cfg := testConfig()
	cfg.Alertmanager.Secret = "global-secret"
	cfg.Alertmanager.RateLimit = slow
	for i := range cfg.Integrations {
		cfg.Integrations[i].RateLimit = slow
	}
	tests := []struct {
		name      string
		path      string
		good      map[string]string
		strangers []map[string]string
	}{
		{
			"X-Webhook-Secret", "/webhooks/prometheus/" + promID,
			map[string]string{"X-Webhook-Secret": promSecret},
			[]map[string]string{nil, {"X-Webhook-Secret": "nope"}, {"X-Webhook-Secret": grafSecret}},
		},
		{
			"Bearer", "/webhooks/grafana/" + grafID,
			map[string]string{"Authorization": "Bearer " + grafSecret},
			[]map[string]string{nil, {"Authorization": "Bearer nope"}, {"Authorization": "Bearer " + promSecret}},
		},
		{
			"Basic", "/webhooks/prometheus/" + promID,
			map[string]string{"Authorization": basic("alertmanager", promSecret)},
			[]map[string]string{{"Authorization": basic("alertmanager", "nope")}, {"Authorization": basic(promSecret, "")}},
		},
		{
			"global secret", "/webhooks/alertmanager",
			map[string]string{"Authorization": "Bearer global-secret"},
			[]map[string]string{nil, {"Authorization": "Bearer " + promSecret}},
		},
		{
			"HMAC", "/webhooks/grafana/" + hmacID,
			map[string]string{"X-Grafana-Alerting-Signature": sign("", body)},
			[]map[string]string{nil, {"Authorization": "Bearer " + hmacSecret}, {"X-Grafana-Alerting-Signature": sign("", []byte("other"))}},
		},
		{
			"HMAC with timestamp", "/webhooks/grafana/" + hmacTSID,
			map[string]string{"X-Grafana-Alerting-Signature": sign(ts, body), "X-Grafana-Alerting-Timestamp": ts},
			[]map[string]string{
				nil,
				{"X-Grafana-Alerting-Signature": sign(ts, body)},
				{"X-Grafana-Alerting-Signature": sign("1", body), "X-Grafana-Alerting-Timestamp": "1"},
				{"X-Grafana-Alerting-Signature": sign(ts, []byte("other")), "X-Grafana-Alerting-Timestamp": ts},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, base := startReceiver(t, cfg, newStoreConsumer(t), func(r *alertReceiver) { r.now = func() time.Time { return now } })
			for i := range 10 {
				resp := post(t, base+tt.path, body, tt.strangers[i%len(tt.strangers)])
				require.Equal(t, http.StatusForbidden, resp.code, string(resp.body))
			}
			for i := range 3 {
				resp := post(t, base+tt.path, body, tt.good)
				assert.Equal(t, http.StatusOK, resp.code, "authenticated request %d: %s", i, resp.body)
			}
			assert.Equal(t, http.StatusTooManyRequests, post(t, base+tt.path, body, tt.good).code, "the bucket holds three")
		})
	}
}

// Refusals are counted by integration and reason.
func TestAuthFailuresMetric(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	cfg := testConfig()
	cfg.Integrations[1].AllowedCIDRs = []string{"10.0.0.0/8"}
	_, base := startReceiver(t, cfg, newStoreConsumer(t), func(r *alertReceiver) { r.settings = metadatatest.NewSettings(tel) })
	body := fixture(t, "grafana/seed-example.json")
	post(t, base+"/webhooks/prometheus/"+promID, body, nil)
	post(t, base+"/webhooks/prometheus/"+promID, body, map[string]string{"X-Webhook-Secret": "nope"})
	post(t, base+"/webhooks/grafana/"+grafID, body, grafBearer)
	post(t, base+"/webhooks/grafana/"+hmacID, body, nil)
	post(t, base+"/webhooks/grafana/"+hmacID, body, map[string]string{"X-Grafana-Alerting-Signature": sign("", []byte("x"))})
	post(t, base+"/webhooks/grafana/"+hmacTSID, body, map[string]string{"X-Grafana-Alerting-Signature": sign("1", body), "X-Grafana-Alerting-Timestamp": "1"})
	require.Equal(t, 200, post(t, base+"/webhooks/grafana/"+hmacID, body, map[string]string{"X-Grafana-Alerting-Signature": sign("", body)}).code)

	point := func(integration, reason string, n int64) metricdata.DataPoint[int64] {
		return metricdata.DataPoint[int64]{Value: n, Attributes: attribute.NewSet(
			attribute.String("integration", integration), attribute.String("reason", reason))}
	}
	metadatatest.AssertEqualAlertwebhookAuthFailures(t, tel, []metricdata.DataPoint[int64]{
		point(promID, reasonSecret, 2),
		point(grafID, reasonSource, 1),
		point(hmacID, reasonSignature, 2),
		point(hmacTSID, reasonTimestamp, 1),
	}, metricdatatest.IgnoreTimestamp())
}

func TestGlobalEndpointCIDRsAndRateLimit(t *testing.T) {
	body := fixture(t, "alertmanager/seed-example.json")
	t.Run("allowed_cidrs", func(t *testing.T) {
		cfg := testConfig()
		cfg.Alertmanager.AllowedCIDRs = []string{"10.0.0.0/8"}
		_, base := startReceiver(t, cfg, newStoreConsumer(t))
		resp := post(t, base+"/webhooks/alertmanager", body, map[string]string{"X-Forwarded-For": "10.0.0.1"})
		assert.Equal(t, http.StatusForbidden, resp.code)
		assert.JSONEq(t, `{"detail":"Source address not allowed"}`, string(resp.body))
	})
	t.Run("rate_limit", func(t *testing.T) {
		cfg := testConfig()
		cfg.Alertmanager.RateLimit = &RateLimitConfig{RequestsPerSecond: 0.001, Burst: 2}
		_, base := startReceiver(t, cfg, newStoreConsumer(t))
		assert.Equal(t, 200, post(t, base+"/webhooks/alertmanager", body, nil).code)
		assert.Equal(t, 200, post(t, base+"/webhooks/alertmanager", body, nil).code)
		assert.Equal(t, http.StatusTooManyRequests, post(t, base+"/webhooks/alertmanager", body, nil).code)
		assert.Equal(t, 200, post(t, base+"/webhooks/prometheus/"+promID, body, map[string]string{"X-Webhook-Secret": promSecret}).code,
			"integrations keep the receiver's default bucket")
	})
}
