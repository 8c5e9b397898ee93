package alertwebhookreceiver

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configauth"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/pdata/plog"
)

// startOwned runs a receiver whose Shutdown the test calls itself.
func startOwned(t *testing.T, cfg *Config, next *blockingConsumer) (*alertReceiver, string) {
	t.Helper()
	require.NoError(t, cfg.Validate())
	r, err := newReceiver(cfg, receiverSettings(), next)
	require.NoError(t, err)
	require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
	return r, r.addr.String()
}

// blockingConsumer holds every request in the pipeline until released.
type blockingConsumer struct {
	*storeConsumer
	entered chan struct{}
	release chan struct{}
}

func (b *blockingConsumer) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	if isInventory(ld) {
		return nil
	}
	b.entered <- struct{}{}
	<-b.release
	return b.storeConsumer.ConsumeLogs(ctx, ld)
}

// dialSlow opens a connection and sends the beginning of a request.
func dialSlow(t *testing.T, addr, head string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	_, err = io.WriteString(conn, head)
	require.NoError(t, err)
	return conn
}

// Shutdown does not wait for the read timeout of clients that are sending
// slowly: their connections are closed at once, and they get nothing more.
func TestShutdownCutsOffSlowClients(t *testing.T) {
	cfg := testConfig()
	cfg.HTTP.ReadTimeout = 5 * time.Minute
	cfg.HTTP.ReadHeaderTimeout = 5 * time.Minute
	next := &blockingConsumer{storeConsumer: newStoreConsumer(t), entered: make(chan struct{}), release: make(chan struct{})}
	r, addr := startOwned(t, cfg, next)

	slow := []net.Conn{
		dialSlow(t, addr, "POST /webhooks/alertmanager HTTP/1.1\r\nHost: x\r\nContent-Length: 20971000\r\n\r\n{"),
		dialSlow(t, addr, "POST /webhooks/grafana/"+hmacID+" HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\nX-Grafana-Alerting-Signature: "+strings.Repeat("ab", 32)+"\r\n\r\n{"),
		dialSlow(t, addr, "POST /webhooks/prometheus/"+promID+" HTTP/1.1\r\nHost: x\r\nX-Webhook-Sec"),
		dialSlow(t, addr, ""),
	}
	// Every connection is known to the server before shutdown begins.
	require.Eventually(t, func() bool {
		r.conns.mu.Lock()
		defer r.conns.mu.Unlock()
		return len(r.conns.open) == len(slow)
	}, 5*time.Second, 5*time.Millisecond)

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	require.NoError(t, r.Shutdown(ctx), "Shutdown waited for the slow clients until its deadline")
	for i, conn := range slow {
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, err := io.ReadAll(conn)
		// Closed: an end of stream, or a reset when the server had unread bytes.
		var netErr net.Error
		assert.False(t, errors.As(err, &netErr) && netErr.Timeout(), "connection %d is closed, not left hanging", i)
		assert.Empty(t, b, "connection %d gets nothing", i)
	}
}

// A request handing its alerts to the pipeline when shutdown begins finishes
// and is answered: an acknowledged alert is never cut off.
func TestShutdownLetsThePipelineFinish(t *testing.T) {
	next := &blockingConsumer{storeConsumer: newStoreConsumer(t), entered: make(chan struct{}, 1), release: make(chan struct{})}
	r, addr := startOwned(t, testConfig(), next)
	answered := make(chan response, 1)
	go func() {
		resp, err := http.Post("http://"+addr+"/webhooks/alertmanager", "application/json",
			strings.NewReader(string(fixture(t, "alertmanager/seed-example.json"))))
		if err != nil {
			answered <- response{code: -1, body: []byte(err.Error())}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		answered <- response{code: resp.StatusCode, body: b}
	}()
	<-next.entered
	shutdown := make(chan error, 1)
	go func() { shutdown <- r.Shutdown(context.Background()) }()
	require.Eventually(t, r.conns.isDraining, 5*time.Second, time.Millisecond)
	close(next.release)
	resp := <-answered
	assert.Equal(t, http.StatusOK, resp.code, string(resp.body))
	assert.NoError(t, <-shutdown)
	assert.Equal(t, 1, next.LogRecordCount())
}

// Once shutdown has begun, a request that reaches the pipeline's door is
// refused with a retryable 503.
func TestRequestsAfterDrainAre503(t *testing.T) {
	r, err := newReceiver(testConfig(), receiverSettings(), newStoreConsumer(t))
	require.NoError(t, err)
	r.conns.drain()
	w := &recorder{header: http.Header{}}
	req, _ := http.NewRequest(http.MethodPost, "/webhooks/alertmanager", strings.NewReader(string(fixture(t, "alertmanager/seed-example.json"))))
	r.ServeHTTP(w, req)
	assert.Equal(t, http.StatusServiceUnavailable, w.code)
	assert.Equal(t, retryAfterUnavailable, w.header.Get("Retry-After"))
	assert.JSONEq(t, `{"detail":"The collector is shutting down, retry later"}`, w.body.String())
}

type recorder struct {
	header http.Header
	code   int
	body   strings.Builder
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) WriteHeader(code int)        { r.code = code }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }

// An auth extension's refusal is answered in JSON too, and counted.
func TestAuthenticatorRefusalIsJSON(t *testing.T) {
	authID := component.MustNewID("denyall")
	cfg := testConfig()
	cfg.HTTP.Auth = configoptional.Some(confighttp.AuthConfig{Config: configauth.Config{AuthenticatorID: authID}})
	r, err := newReceiver(cfg, receiverSettings(), newStoreConsumer(t))
	require.NoError(t, err)
	require.NoError(t, r.Start(context.Background(), hostWith{authID: denyAll{}}))
	t.Cleanup(func() { require.NoError(t, r.Shutdown(context.Background())) })
	resp := post(t, "http://"+r.addr.String()+"/webhooks/alertmanager", fixture(t, "alertmanager/seed-example.json"), nil)
	assert.Equal(t, http.StatusUnauthorized, resp.code)
	assert.Equal(t, "application/json", resp.header.Get("Content-Type"))
	assert.JSONEq(t, `{"detail":"Not authenticated by the collector's authenticator"}`, string(resp.body))
	assert.NotContains(t, string(resp.body), "token-xyz", "the authenticator's own message stays out")
}

type denyAll struct{}

func (denyAll) Start(context.Context, component.Host) error { return nil }
func (denyAll) Shutdown(context.Context) error              { return nil }
func (denyAll) Authenticate(context.Context, map[string][]string) (context.Context, error) {
	return nil, errors.New("bad token-xyz")
}

type hostWith map[component.ID]component.Component

func (h hostWith) GetExtensions() map[component.ID]component.Component { return h }

// The receiver's own Connection tracking is per server: two receivers do not
// share it.
func TestConnectionsArePerReceiver(t *testing.T) {
	a, err := newReceiver(testConfig(), receiverSettings(), newStoreConsumer(t))
	require.NoError(t, err)
	b, err := newReceiver(testConfig(), receiverSettings(), newStoreConsumer(t))
	require.NoError(t, err)
	a.conns.drain()
	assert.False(t, b.conns.isDraining(), "%p %p", a.conns, b.conns)
}

// A body that does not arrive within read_timeout is a 503 with Retry-After:
// the sender may try again; a 4xx would make Alertmanager drop it.
func TestSlowBodyIsRetryable(t *testing.T) {
	cfg := testConfig()
	cfg.HTTP.ReadTimeout = 300 * time.Millisecond
	r, _ := startReceiver(t, cfg, newStoreConsumer(t))
	addr := r.addr.String()
	conn := dialSlow(t, addr, "POST /webhooks/prometheus/"+promID+" HTTP/1.1\r\nHost: x\r\nX-Webhook-Secret: "+promSecret+
		"\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{\"alerts\":[")
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(5*time.Second)))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Equal(t, retryAfterUnavailable, resp.Header.Get("Retry-After"))
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
}
