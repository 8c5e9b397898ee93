package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// One route to the global endpoint; %s is the collector's base URL.
const groupedAlertmanager = `
route:
  receiver: incidents
  group_by: [service]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
receivers:
  - name: incidents
    webhook_configs:
      - url: %s/webhooks/alertmanager
        send_resolved: true
`

// A real Alertmanager groups 6 alerts over 2 services (group_by: [service]);
// with grouping.by: group_key the collector makes one incident per group.
func TestGroupingWithRealAlertmanager(t *testing.T) {
	for _, s := range stores {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			st := s.open(t)
			c := startCollector(t, st, defaultPipeline, "    grouping: {by: group_key}")
			am := runAlertmanager(t, fmt.Sprintf(groupedAlertmanager, c.base))
			var alerts []string
			for i := range 6 {
				service := []string{"checkout", "payments"}[i%2]
				alerts = append(alerts, fmt.Sprintf(`{"labels":{"alertname":"E2EGrouped%d","service":%q,"severity":"warning"},"startsAt":%q}`,
					i, service, time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)))
			}
			am.push(t, "["+strings.Join(alerts, ",")+"]")
			db := st.db(t)
			eventually(t, 20*time.Second, "two incidents of three alerts", func() bool {
				return count(t, db, "alert_count = 3 AND status = 'open'") == 2
			})
			assert.Equal(t, 2, count(t, db, "1 = 1"), "one incident per notification group")
			assert.Equal(t, 1, count(t, db, "group_key LIKE '%checkout%'"))
			var members int
			require.NoError(t, db.QueryRow(`SELECT COUNT(*) FROM incident_alerts WHERE status = 'firing'`).Scan(&members))
			assert.Equal(t, 6, members)
		})
	}
}

// analysisCounter counts the notifications a sink receives, by
// Idempotency-Key.
type analysisCounter struct {
	mu   sync.Mutex
	got  map[string]int
	addr string
}

func (a *analysisCounter) ServeHTTP(_ http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	a.mu.Lock()
	a.got[r.Header.Get("Idempotency-Key")]++
	a.mu.Unlock()
}

func (a *analysisCounter) snapshot() map[string]int {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[string]int, len(a.got))
	for k, v := range a.got {
		out[k] = v
	}
	return out
}

func serveAnalysis(t *testing.T) (*analysisCounter, string) {
	t.Helper()
	counter := serveCounter(t, "127.0.0.1:0")
	return counter, "http://" + counter.addr + "/analyze"
}

// serveCounter counts what arrives on addr until the test ends.
func serveCounter(t *testing.T, addr string) *analysisCounter {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	counter := &analysisCounter{got: map[string]int{}, addr: ln.Addr().String()}
	srv := &http.Server{Handler: counter, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return counter
}

// Two collector processes on one PostgreSQL receive the same 20-alert group
// at once (an Alertmanager HA pair sends every notification to both): one
// incident, 20 members, one created event.
func TestTwoCollectorsOneGroup(t *testing.T) {
	st := postgresStore(t)
	counter, endpoint := serveAnalysis(t)
	extra := []string{"    grouping: {by: group_key}", analysisTo(endpoint)}
	a := startCollector(t, st, defaultPipeline, extra...)
	b := startCollector(t, st, defaultPipeline, extra...)
	var alerts []string
	for i := range 20 {
		alerts = append(alerts, fmt.Sprintf(`{"status":"firing","labels":{"alertname":"HAGroup","instance":"i-%02d","service":"db"},
			"startsAt":"2026-11-28T19:00:00Z","fingerprint":"ha-group-%02d"}`, i, i))
	}
	body := []byte(`{"version":"4","status":"firing","groupKey":"{}:{service=\"db\"}","alerts":[` + strings.Join(alerts, ",") + `]}`)
	var wg sync.WaitGroup
	start := make(chan struct{})
	codes := make([]int, 6)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, err := http.Post([]*collector{a, b}[i%2].base+"/webhooks/alertmanager", "application/json", bytes.NewReader(body))
			if !assert.NoError(t, err) {
				return
			}
			resp.Body.Close()
			codes[i] = resp.StatusCode
		}()
	}
	close(start)
	wg.Wait()
	assert.Equal(t, []int{200, 200, 200, 200, 200, 200}, codes)
	db := st.db(t)
	assert.Equal(t, 1, count(t, db, "1 = 1"))
	assert.Equal(t, 1, count(t, db, "alert_count = 20 AND firing_alerts = 20"))
	var members int
	require.NoError(t, db.QueryRow(`SELECT COUNT(*) FROM incident_alerts`).Scan(&members))
	assert.Equal(t, 20, members)
	eventually(t, 20*time.Second, "the created event", func() bool { return len(counter.snapshot()) == 1 })
	time.Sleep(time.Second) // a second delivery would come from the other replica's dispatcher
	for key, n := range counter.snapshot() {
		assert.True(t, strings.HasSuffix(key, ":created"), key)
		assert.Equal(t, 1, n, "delivered once")
	}
}

// The Watchdog route of kube-prometheus, with a short repeat_interval.
const watchdogAlertmanager = `
route:
  receiver: blackhole
  routes:
    - matchers: ['alertname="Watchdog"']
      receiver: heartbeat
      group_wait: 0s
      group_interval: 1s
      repeat_interval: 1s
receivers:
  - name: blackhole
  - name: heartbeat
    webhook_configs:
      - url: %s/webhooks/alertmanager
`

// A real Alertmanager keeps a Watchdog firing: no incident while it runs.
// Once it stops, a heartbeat incident opens within the timeout plus one sweep.
func TestHeartbeatWithRealAlertmanager(t *testing.T) {
	for _, s := range stores {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			st := s.open(t)
			c := startCollector(t, st, defaultPipeline, "    heartbeat: {alertname: Watchdog, timeout: 4s}")
			am := runAlertmanager(t, fmt.Sprintf(watchdogAlertmanager, c.base))
			am.push(t, fmt.Sprintf(`[{"labels":{"alertname":"Watchdog","severity":"none"},"startsAt":%q,"endsAt":%q}]`,
				time.Now().UTC().Format(time.RFC3339), time.Now().Add(time.Hour).UTC().Format(time.RFC3339)))
			db := st.db(t)
			eventually(t, 15*time.Second, "the first heartbeat", func() bool {
				var n int
				return db.QueryRow(`SELECT COUNT(*) FROM heartbeats WHERE dedup_scope = 'alertmanager'`).Scan(&n) == nil && n == 1
			})
			time.Sleep(8 * time.Second) // twice the timeout, heartbeats arriving
			assert.Equal(t, 0, count(t, db, "1 = 1"), "no incident while the Watchdog arrives")

			am.stop()
			stopped := time.Now()
			eventually(t, 10*time.Second, "the heartbeat incident", func() bool {
				return count(t, db, "source = 'heartbeat' AND status = 'open' AND title = 'Heartbeat missing: Watchdog'") == 1
			})
			took := time.Since(stopped)
			t.Logf("heartbeat incident %v after Alertmanager stopped (timeout 4s, sweep every 1s)", took)
			assert.Less(t, took, 4*time.Second+time.Second+2*time.Second, "within the timeout and one sweep, plus the last repeat")
		})
	}
}
