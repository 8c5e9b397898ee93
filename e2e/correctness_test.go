package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Reproductions of what an adversarial run got past (issue "Correctness,
// round 3"), each through the built collector, on both stores.

// correctnessConfig: integrations p1 and (when withP2) p2, heartbeats with a
// 2 s timeout, grouping by the notification's groupKey.
func correctnessConfig(port, metrics int, st store, withP2 bool) string {
	p2 := ""
	if withP2 {
		p2 = `
      - {id: p2, type: prometheus, secret: p2-secret}`
	}
	return fmt.Sprintf(`
receivers:
  alertwebhook:
    http:
      endpoint: 127.0.0.1:%d
    integrations:
      - {id: p1, type: prometheus, secret: p1-secret}%s
exporters:
  incident:
    store: {driver: %s, dsn: "%s"}
    grouping: {by: group_key}
    heartbeat: {alertname: Watchdog, timeout: 2s}
service:
  telemetry:
    metrics:
      readers:
        - pull: {exporter: {prometheus: {host: 127.0.0.1, port: %d}}}
  pipelines:
    logs/alerts:
      receivers: [alertwebhook]
      exporters: [incident]
`, port, p2, st.driver, st.dsn, metrics)
}

const watchdog = `{"version":"4","status":"firing","receiver":"wd","groupKey":"{}:{alertname=\"Watchdog\"}","alerts":[
	{"status":"firing","labels":{"alertname":"Watchdog"},"startsAt":"2026-11-28T19:00:00Z","fingerprint":"e1b0c9a8d7f6e5d4"}]}`

// eachStore runs fn on a fresh store of each kind.
func eachStore(t *testing.T, fn func(t *testing.T, st store)) {
	for _, s := range stores {
		t.Run(s.name, func(t *testing.T) { fn(t, s.open(t)) })
	}
}

// An integration removed from the config is no longer watched: its open
// heartbeat incident resolves (integration_removed) and no other opens; the
// integrations still configured are watched as before. The heartbeat that
// resolves a heartbeat incident is counted in the answer.
func TestRemovedIntegrationIsNoLongerWatched(t *testing.T) {
	eachStore(t, func(t *testing.T, st store) {
		port := freePort(t)
		first := runConfig(t, correctnessConfig(port, freePort(t), st, true), port, st)
		for _, id := range []string{"p1", "p2"} {
			a := first.post(t, "/webhooks/prometheus/"+id, []byte(watchdog), "X-Webhook-Secret", id+"-secret")
			require.Equal(t, 200, a.Code, a.Raw)
		}
		db := st.db(t)
		eventually(t, 20*time.Second, "both heartbeat incidents", func() bool {
			return count(t, db, "source = 'heartbeat' AND status = 'open'") == 2
		})
		first.stop()

		second := runConfig(t, correctnessConfig(port, freePort(t), st, false), port, st)
		eventually(t, 20*time.Second, "p2's heartbeat incident resolved", func() bool {
			return count(t, db, "dedup_scope = 'p2' AND source = 'heartbeat' AND status = 'resolved' AND resolution_reason = 'integration_removed'") == 1
		})
		assert.Equal(t, 1, count(t, db, "dedup_scope = 'p1' AND source = 'heartbeat' AND status = 'open'"), "p1 is still watched")
		a := second.post(t, "/webhooks/prometheus/p2", []byte(watchdog), "X-Webhook-Secret", "p2-secret")
		assert.Equal(t, 404, a.Code, "p2 is gone")

		// The next sweeps open nothing for p2 again.
		a = second.post(t, "/webhooks/prometheus/p1", []byte(watchdog), "X-Webhook-Secret", "p1-secret")
		require.Equal(t, 200, a.Code, a.Raw)
		assert.EqualValues(t, 1, a.Body["incidents_resolved"], "the heartbeat resolved p1's incident: %s", a.Raw)
		assert.EqualValues(t, 1, a.Body["heartbeats"])
		eventually(t, 20*time.Second, "p1 missing again", func() bool {
			return count(t, db, "dedup_scope = 'p1' AND source = 'heartbeat' AND status = 'open'") == 1
		})
		assert.Equal(t, 1, count(t, db, "dedup_scope = 'p2'"), "one incident for p2, resolved")
	})
}

func notificationWithKey(groupKey, fingerprint string) []byte {
	return []byte(`{"version":"4","status":"firing","receiver":"r","groupKey":` + groupKey + `,"alerts":[
		{"status":"firing","labels":{"alertname":"A","instance":"` + fingerprint + `"},"startsAt":"2026-11-28T19:00:00Z","fingerprint":"` + fingerprint + `"}]}`)
}

// Group keys are identities: keys that differ only in invalid bytes, a
// long key and its stored form sent as a key, each make their own incident;
// the same key again joins its incident.
func TestGroupKeysNeverMerge(t *testing.T) {
	eachStore(t, func(t *testing.T, st store) {
		port := freePort(t)
		c := runConfig(t, correctnessConfig(port, freePort(t), st, false), port, st)
		long := strings.Repeat("k", 513)
		sum := sha256.Sum256([]byte(long))
		stored := "sha256:" + hex.EncodeToString(sum[:])
		keys := []string{`"k` + "\xff" + `"`, `"k` + "\xfe" + `"`, `"k\udcff"`, `"k\ufffd"`, `"` + long + `"`, `"` + stored + `"`}
		for i, k := range keys {
			a := c.post(t, "/webhooks/prometheus/p1", notificationWithKey(k, fmt.Sprintf("fp%016d", i)), "X-Webhook-Secret", "p1-secret")
			require.Equal(t, 200, a.Code, a.Raw)
			assert.Equal(t, "success", a.Body["status"], "key %d: %s", i, a.Raw)
			assert.EqualValues(t, 1, a.Body["incidents_created"], "key %d opens its own incident: %s", i, a.Raw)
		}
		a := c.post(t, "/webhooks/prometheus/p1", notificationWithKey(keys[0], "fpjoins"), "X-Webhook-Secret", "p1-secret")
		require.Equal(t, 200, a.Code, a.Raw)
		assert.EqualValues(t, 1, a.Body["alerts_grouped"], "the same key again joins: %s", a.Raw)
		db := st.db(t)
		assert.Equal(t, len(keys), count(t, db, "status = 'open'"))
		assert.Equal(t, 1, count(t, db, "group_key = $1", stored), "the long key is stored as its hash")
		assert.Equal(t, 0, count(t, db, "group_key LIKE 'k%' AND group_key <> $1", "k\ufffd"), "invalid keys are stored only as hashes")
	})
}

// A sender that states no startsAt: repeats of the firing alert are the same
// instance; a new one after it resolved is a new incident.
func TestRepeatsWithoutStartsAtAreOneInstance(t *testing.T) {
	eachStore(t, func(t *testing.T, st store) {
		port := freePort(t)
		c := runConfig(t, correctnessConfig(port, freePort(t), st, false), port, st)
		body := []byte(`[{"labels":{"alertname":"NoStart","service":"api"},"annotations":{"summary":"s"}}]`)
		for i := range 3 {
			a := c.post(t, "/webhooks/prometheus/p1/api/v2/alerts", body, "X-Webhook-Secret", "p1-secret")
			require.Equal(t, 200, a.Code, a.Raw)
			want := "duplicate"
			if i == 0 {
				want = "success"
			}
			assert.Equal(t, want, a.Body["status"], a.Raw)
		}
		db := st.db(t)
		assert.Equal(t, 1, count(t, db, "title = 'NoStart' AND alert_count = 1 AND occurrences = 3"))
		var members int
		require.NoError(t, db.QueryRow(`SELECT COUNT(*) FROM incident_alerts`).Scan(&members))
		assert.Equal(t, 1, members)
		resolved := []byte(`[{"labels":{"alertname":"NoStart","service":"api"},"endsAt":"2000-01-01T00:00:00Z"}]`)
		a := c.post(t, "/webhooks/prometheus/p1/api/v2/alerts", resolved, "X-Webhook-Secret", "p1-secret")
		require.Equal(t, 200, a.Code, a.Raw)
		assert.EqualValues(t, 1, a.Body["incidents_resolved"], a.Raw)
		a = c.post(t, "/webhooks/prometheus/p1/api/v2/alerts", body, "X-Webhook-Secret", "p1-secret")
		assert.EqualValues(t, 1, a.Body["incidents_created"], "fired again after it resolved: %s", a.Raw)
	})
}
