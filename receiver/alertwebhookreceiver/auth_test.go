package alertwebhookreceiver

import (
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
	_, base := startReceiver(t, testConfig(), newDedupConsumer())
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
	_, base := startReceiver(t, cfg, newDedupConsumer())
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
	_, base := startReceiver(t, testConfig(), newDedupConsumer(), func(r *alertReceiver) {
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
	_, base := startReceiver(t, cfg, newDedupConsumer())
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
	r, err := newReceiver(cfg, receiverSettings(), newDedupConsumer())
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
	_, base := startReceiver(t, cfg, newDedupConsumer())
	body := fixture(t, "alertmanager/seed-example.json")
	headers := map[string]string{"X-Webhook-Secret": promSecret}
	for i := 0; i < 3; i++ {
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
