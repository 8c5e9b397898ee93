package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sre-copilot/incident-collector/internal/loadgen"
	"github.com/sre-copilot/incident-collector/internal/testutil"
)

// restart starts the collector again on the same config (and store).
func (c *collector) restart(t *testing.T) {
	t.Helper()
	c.launch(t)
	c.waitHealthy(t)
}

func (c *collector) kill9(t *testing.T) {
	t.Helper()
	require.NoError(t, c.cmd.Process.Signal(syscall.SIGKILL))
	<-c.exited
}

// storedOnce asserts every acknowledged fingerprint is in the store exactly once.
func storedOnce(t *testing.T, st store, acked []string) (lost, doubled int) {
	t.Helper()
	db := st.db(t)
	counts := map[string]int{}
	rows, err := db.Query("SELECT fingerprint, COUNT(*) FROM incidents GROUP BY fingerprint")
	require.NoError(t, err)
	defer rows.Close()
	for rows.Next() {
		var fp string
		var n int
		require.NoError(t, rows.Scan(&fp, &n))
		counts[fp] = n
	}
	require.NoError(t, rows.Err())
	for _, fp := range acked {
		switch counts[fp] {
		case 0:
			lost++
		case 1:
		default:
			doubled++
		}
	}
	return lost, doubled
}

// kill -9 under load: every alert answered 2xx is stored exactly once after a
// restart on the same store.
func TestCrashDurability(t *testing.T) {
	for _, s := range stores {
		t.Run(s.name, func(t *testing.T) {
			st := s.open(t)
			c := startCollector(t, st, defaultPipeline)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var res *loadgen.Result
			done := make(chan struct{})
			go func() {
				defer close(done)
				res, _ = loadgen.Run(ctx, loadgen.Options{
					URL: c.base + "/webhooks/alertmanager", Mode: loadgen.ModeUnique, AlertsPerRequest: 5,
					Connections: 16, Duration: 4 * time.Second, TrackAcked: true, Timeout: 5 * time.Second,
				})
			}()
			time.Sleep(1500 * time.Millisecond)
			c.kill9(t)
			<-done
			require.NotNil(t, res)
			require.NotEmpty(t, res.AckedAlerts, "load was acknowledged before the kill")
			c.restart(t)
			lost, doubled := storedOnce(t, st, res.AckedAlerts)
			assert.Zero(t, lost, "acknowledged alerts lost")
			assert.Zero(t, doubled, "acknowledged alerts stored twice")
			record(t, "crash durability ("+s.name+")", fmt.Sprintf("kill -9 under load after 1.5 s, restart on the same store; %d alerts acknowledged", len(res.AckedAlerts)),
				fmt.Sprintf("lost %d, stored twice %d", lost, doubled))
		})
	}
}

// PostgreSQL behind a proxy the test cuts: 503 with Retry-After while it is
// down, never a 4xx, never a hang; stored once when it is back.
func TestStoreOutage(t *testing.T) {
	dsn := testutil.PostgresSchema(t)
	proxy := testutil.NewProxy(t, "127.0.0.1:5432")
	proxied := strings.Replace(strings.Replace(dsn, "127.0.0.1:5432", proxy.Addr(), 1), "localhost:5432", proxy.Addr(), 1)
	st := store{driver: "postgres", dsn: proxied}
	c := startCollector(t, st, defaultPipeline)
	body := fixture(t, "alertmanager/real-02-group-two-firing.json")
	require.Equal(t, 200, c.post(t, "/webhooks/alertmanager", fixture(t, "alertmanager/seed-example.json")).Code)

	proxy.Cut()
	codes := map[int]int{}
	var slowest time.Duration
	for range 5 {
		began := time.Now()
		a := c.post(t, "/webhooks/alertmanager", body)
		slowest = max(slowest, time.Since(began))
		codes[a.Code]++
		if a.Code == http.StatusServiceUnavailable {
			assert.Equal(t, "5", a.Header.Get("Retry-After"))
		}
	}
	assert.Equal(t, map[int]int{503: 5}, codes, "every webhook during the outage is a 503")
	assert.Less(t, slowest, 7*time.Second, "answered within the exporter timeout (5 s)")

	// A partition: the database answers nothing and closes nothing. The
	// exporter timeout (5 s) ends each wait with a 503, never a hang.
	proxy.Restore()
	require.Equal(t, 200, c.post(t, "/webhooks/alertmanager", fixture(t, "alertmanager/seed-curl-test.json")).Code)
	proxy.Stall()
	var stalledSlowest time.Duration
	for range 2 {
		began := time.Now()
		a := c.post(t, "/webhooks/alertmanager", body)
		stalledSlowest = max(stalledSlowest, time.Since(began))
		assert.Equal(t, http.StatusServiceUnavailable, a.Code, a.Raw)
		assert.Equal(t, "5", a.Header.Get("Retry-After"))
	}
	assert.Less(t, stalledSlowest, 8*time.Second, "a stalled store is cut off by the exporter timeout")

	proxy.Restore()
	var a testutil.Answer
	eventually(t, 30*time.Second, "deliveries succeed again", func() bool {
		a = c.post(t, "/webhooks/alertmanager", body)
		return a.Code == 200
	})
	a = c.post(t, "/webhooks/alertmanager", body)
	assert.Equal(t, "duplicate", a.Body["status"])
	direct := store{driver: "postgres", dsn: dsn}
	db := direct.db(t)
	assert.Equal(t, 1, count(t, db, "fingerprint = '21473860c0a3436e'"))
	assert.Equal(t, 1, count(t, db, "fingerprint = 'ca83fc25b3aceae7'"))
	record(t, "store outage (PostgreSQL behind a proxy)", "5 webhooks while the proxy refuses connections, 2 while it stalls them (a partition), then the same alerts retried after restore",
		fmt.Sprintf("503 + Retry-After for all (slowest %.1f s refused, %.1f s stalled; exporter timeout 5 s), then 200; each incident once",
			slowest.Seconds(), stalledSlowest.Seconds()))
}

// An Alertmanager HA pair: both instances deliver each notification to two
// collector replicas at the same moment → one incident per alert.
func TestHASendersOnePostgres(t *testing.T) {
	st := postgresStore(t)
	a := startCollector(t, st, defaultPipeline)
	b := startCollector(t, st, defaultPipeline)
	const alerts, perRequest = 1000, 10
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	errs := make(chan string, 2*alerts/perRequest)
	for r := range alerts / perRequest {
		var sb strings.Builder
		sb.WriteString(`{"version":"4","status":"firing","alerts":[`)
		for i := range perRequest {
			if i > 0 {
				sb.WriteByte(',')
			}
			fmt.Fprintf(&sb, `{"status":"firing","labels":{"alertname":"HAPair","instance":"i-%d"},"startsAt":"2026-11-28T19:00:00Z"}`, r*perRequest+i)
		}
		sb.WriteString(`]}`)
		body := []byte(sb.String())
		for _, c := range []*collector{a, b} {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				if ans := c.post(t, "/webhooks/alertmanager", body); ans.Code != 200 {
					errs <- ans.Raw
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("a delivery failed: %s", e)
	}
	db := st.db(t)
	assert.Equal(t, alerts, count(t, db, "title = 'HAPair'"))
	assert.Equal(t, alerts, count(t, db, "title = 'HAPair' AND occurrences = 2"))
	record(t, "HA senders", "1 000 alerts, each delivered to two replicas on one PostgreSQL at once",
		fmt.Sprintf("%d incidents, each with 2 occurrences", count(t, db, "title = 'HAPair'")))
}
