package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// kill -9 of the collector while a sink is down, a restart, the sink back:
// every event is delivered, none lost, none twice.
func TestNotifyThroughACrashWhileTheSinkIsDown(t *testing.T) {
	eachStore(t, func(t *testing.T, st store) {
		sinkPort := freePort(t)
		sink := fmt.Sprintf(`    notify:
      - name: audit
        kind: webhook
        url: http://127.0.0.1:%d/incidents
        secret: audit-secret
        events: [created, resolved]
        retry: {initial_interval: 100ms, max_interval: 300ms, max_age: 1h}
        client: {timeout: 1s}`, sinkPort)
		c := startCollector(t, st, defaultPipeline, sink)
		// The sink is down: nothing listens on its port.
		for i := range 5 {
			body := fmt.Sprintf(`{"version":"4","status":"firing","receiver":"r","groupKey":"g%d","alerts":[
				{"status":"firing","labels":{"alertname":"Crash%d"},"startsAt":"2026-11-28T19:00:00Z","fingerprint":"crash%012d"}]}`, i, i, i)
			a := c.post(t, "/webhooks/alertmanager", []byte(body))
			require.Equal(t, 200, a.Code, a.Raw)
		}
		db := st.db(t)
		eventually(t, 20*time.Second, "the dispatcher tried the sink", func() bool {
			var n int
			require.NoError(t, db.QueryRow(`SELECT COUNT(*) FROM outbox WHERE sink = 'audit' AND attempts > 0`).Scan(&n))
			return n > 0
		})
		c.kill9(t)
		c.restart(t)

		rec := serveCounter(t, fmt.Sprintf("127.0.0.1:%d", sinkPort))

		eventually(t, 30*time.Second, "every event delivered", func() bool {
			var pending int
			require.NoError(t, db.QueryRow(`SELECT COUNT(*) FROM outbox WHERE status <> 'delivered'`).Scan(&pending))
			return pending == 0
		})
		c.stop()
		got := rec.snapshot()
		assert.Len(t, got, 5, "every created event")
		for k, n := range got {
			assert.Equal(t, 1, n, "%s once", k)
			assert.True(t, strings.HasSuffix(k, ":created"), k)
		}
		record(t, "notifications through a crash ("+st.driver+")",
			"a webhook sink down, 5 incidents, kill -9 of the collector after its first attempts, restart, the sink back",
			fmt.Sprintf("%d of 5 events delivered, each once", len(got)))
	})
}
