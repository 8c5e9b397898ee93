package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sre-copilot/incident-collector/internal/testutil"
)

// The Deployment's collector with PostgreSQL cut off: readiness (the
// health_check extension's component status, fed by the exporter) turns
// unhealthy within seconds and healthy again once the database is back,
// while liveness stays healthy and senders get 503, never a 4xx.
func TestReadinessFollowsTheStore(t *testing.T) {
	m := loadK8s(t)
	dsn := testutil.PostgresSchema(t)
	proxy := testutil.NewProxy(t, "127.0.0.1:5432")
	proxied := strings.Replace(strings.Replace(dsn, "127.0.0.1:5432", proxy.Addr(), 1), "localhost:5432", proxy.Addr(), 1)
	require.NotEqual(t, dsn, proxied)
	// The shipped recovery_duration (1m) keeps a replica in the Service
	// through a short blip; the test wants to see the change at once.
	r := startReplicas(t, m, proxied, 1, nil,
		"--config=yaml:extensions::health_check::component_health::recovery_duration: 1ms")[0]
	readiness := localURL(r.ports.health, "/status")
	liveness := localURL(r.ports.webhooks, "/health")
	waitStatus(t, readiness, http.StatusOK)

	proxy.Cut()
	cut := time.Now()
	waitStatus(t, readiness, http.StatusInternalServerError)
	t.Logf("readiness unhealthy %v after PostgreSQL was cut off", time.Since(cut))
	assert.Less(t, time.Since(cut), 10*time.Second)
	code, _ := httpGet(t, liveness)
	assert.Equal(t, http.StatusOK, code, "liveness does not depend on the store")
	a := r.post(t, "/webhooks/alertmanager", alertmanagerPayload("firing", "health-a"), "Authorization", "Bearer "+replicaSecrets["alertmanager-webhook-secret"])
	assert.Equal(t, http.StatusServiceUnavailable, a.Code, a.Raw)

	proxy.Restore()
	restored := time.Now()
	waitStatus(t, readiness, http.StatusOK)
	t.Logf("readiness healthy %v after PostgreSQL was back", time.Since(restored))
	a = r.post(t, "/webhooks/alertmanager", alertmanagerPayload("firing", "health-a"), "Authorization", "Bearer "+replicaSecrets["alertmanager-webhook-secret"])
	assert.Equal(t, http.StatusOK, a.Code, a.Raw)
}
