package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sre-copilot/incident-collector/internal/proc"
	"github.com/sre-copilot/incident-collector/internal/testutil"
)

// The attacks of issue #11, against the built collector.

const hmacTSID = "grafana-hmac-ts"

// securityConfig is the collector config of these tests: the global endpoint
// without a secret (the default config), an HMAC integration with a small
// bucket, a timestamped HMAC one, and two header-secret ones. Info-level logs
// and no processors: the tests measure the receiver, not debug output.
const securityConfig = `
receivers:
  alertwebhook:
    http:
      endpoint: 127.0.0.1:%[1]d
    integrations:
      - id: ` + promID + `
        type: prometheus
        secret: ` + promSecret + `
      - id: ` + grafID + `
        type: grafana
        secret: ` + grafSecret + `
      - id: ` + hmacID + `
        type: grafana
        secret: ` + hmacSecret + `
        signature: {}
        rate_limit: {requests_per_second: 2, burst: 3}
      - id: ` + hmacTSID + `
        type: grafana
        secret: ` + hmacSecret + `
        signature: {timestamp_header: X-Grafana-Alerting-Timestamp}
exporters:
  incident:
    store:
      driver: sqlite
      dsn: "%[2]s"
service:
  telemetry:
    logs:
      level: info
    metrics:
      level: none
  pipelines:
    logs/alerts:
      receivers: [alertwebhook]
      exporters: [incident]
`

func startSecurityCollector(t *testing.T) *collector {
	t.Helper()
	st := sqliteStore(t)
	port := freePort(t)
	return runConfig(t, fmt.Sprintf(securityConfig, port, st.dsn), port, st)
}

func hmacSign(ts string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(hmacSecret))
	if ts != "" {
		mac.Write([]byte(ts + ":"))
	}
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// alertBody is one firing alert with its own fingerprint.
func alertBody(fp string) []byte {
	return []byte(`{"alerts":[{"status":"firing","labels":{"alertname":"Legit","fp":"` + fp + `"},"fingerprint":"` + fp + `"}]}`)
}

// rssWatch samples a process's resident memory until stopped and keeps the peak.
type rssWatch struct {
	peak atomic.Int64
	stop chan struct{}
	done chan struct{}
}

func watchRSS(pid int) *rssWatch {
	w := &rssWatch{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			if rss := proc.RSS(pid); rss > w.peak.Load() {
				w.peak.Store(rss)
			}
			select {
			case <-w.stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	return w
}

func (w *rssWatch) end() int64 {
	close(w.stop)
	<-w.done
	return w.peak.Load()
}

// stalledUpload opens a connection that announces a 20 MB body and sends
// its first byte; the caller drips the rest.
func stalledUpload(addr, path string, headers string) (net.Conn, error) {
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	_, err = fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 20971000\r\n%s\r\n{", path, headers)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	return conn, nil
}

// Issue #11.1 and #11.2: 800 uploads to an HMAC integration and 800 to the
// global endpoint, each announcing 20 MB and sending a byte a second, with
// no valid credential; then a flood of unsigned requests. Resident memory
// stays small and every legitimate sender is answered 200 throughout.
func TestUnauthenticatedFlood(t *testing.T) {
	c := startSecurityCollector(t)
	addr := strings.TrimPrefix(c.base, "http://")
	watch := watchRSS(c.cmd.Process.Pid)
	peak := int64(0)
	defer func() {
		if peak == 0 {
			watch.end()
		}
	}()

	const perEndpoint = 800
	bogus := "X-Grafana-Alerting-Signature: " + strings.Repeat("ab", 32) + "\r\n"
	var conns []net.Conn
	defer func() {
		for _, conn := range conns {
			_ = conn.Close()
		}
	}()
	for range perEndpoint {
		for _, target := range []struct{ path, headers string }{{"/webhooks/grafana/" + hmacID, bogus}, {"/webhooks/alertmanager", ""}} {
			conn, err := stalledUpload(addr, target.path, target.headers)
			require.NoError(t, err, "connection %d", len(conns))
			conns = append(conns, conn)
		}
	}
	drip := make(chan struct{})
	dripped := make(chan struct{})
	go func() {
		defer close(dripped)
		for {
			select {
			case <-drip:
				return
			case <-time.After(time.Second):
			}
			for _, conn := range conns {
				_ = conn.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
				_, _ = conn.Write([]byte(" "))
			}
		}
	}()

	// Legitimate senders, every 600 ms for 4 s (the HMAC integration's bucket
	// is 2/s, burst 3), while strangers flood the HMAC integration unsigned.
	var strangers, strangerRefused atomic.Int64
	stopStrangers := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 10 * time.Second}
			for {
				select {
				case <-stopStrangers:
					return
				default:
				}
				resp, err := client.Post(c.base+"/webhooks/grafana/"+hmacID, "application/json", strings.NewReader(string(alertBody("stranger"))))
				if err != nil {
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				strangers.Add(1)
				if resp.StatusCode == http.StatusForbidden {
					strangerRefused.Add(1)
				}
			}
		}()
	}
	codes := map[string]int{}
	for i := range 7 {
		fp := fmt.Sprintf("flood-legit-%d", i)
		body := alertBody(fp + "-hmac")
		a := c.post(t, "/webhooks/grafana/"+hmacID, body, "X-Grafana-Alerting-Signature", hmacSign("", body))
		assert.Equal(t, 200, a.Code, "signed sender during the flood: %s", a.Raw)
		codes["hmac "+strconv.Itoa(a.Code)]++
		a = c.post(t, "/webhooks/alertmanager", alertBody(fp+"-global"))
		assert.Equal(t, 200, a.Code, "global endpoint during the flood: %s", a.Raw)
		codes["global "+strconv.Itoa(a.Code)]++
		a = c.post(t, "/webhooks/prometheus/"+promID, alertBody(fp+"-prom"), "X-Webhook-Secret", promSecret)
		assert.Equal(t, 200, a.Code, "secret integration during the flood: %s", a.Raw)
		codes["secret "+strconv.Itoa(a.Code)]++
		time.Sleep(600 * time.Millisecond)
	}
	close(stopStrangers)
	wg.Wait()
	close(drip)
	<-dripped
	peak = watch.end()
	assert.Equal(t, strangers.Load(), strangerRefused.Load(), "every unsigned request is refused")
	assert.Greater(t, strangers.Load(), int64(100), "the strangers did flood")
	assert.Less(t, peak, int64(300<<20), "resident memory under the flood")
	t.Logf("peak RSS %.0f MB with %d stalled uploads and %d unsigned requests; legitimate answers %v",
		float64(peak)/(1<<20), len(conns), strangers.Load(), codes)
	record(t, "unauthenticated flood", fmt.Sprintf("%d uploads announcing 20 MB and sending a byte a second (half to an HMAC integration with a wrong signature, half to the global endpoint without a secret), plus %d unsigned requests to the HMAC integration (bucket 2/s, burst 3); legitimate senders every 600 ms",
		len(conns), strangers.Load()),
		fmt.Sprintf("peak RSS %.0f MB (bound 300 MB); legitimate answers %s", float64(peak)/(1<<20), tally(codes)))
}

// Uploads that do send their bytes, fast, to an HMAC integration with a
// wrong signature: they fill the endpoint's budget (2 × 20 MiB + 9 MiB), the
// rest are answered 503 with Retry-After, memory stays bounded, and a signed
// sender gets 200 or a retryable 503, never a 4xx.
func TestUnauthenticatedBudget(t *testing.T) {
	c := startSecurityCollector(t)
	addr := strings.TrimPrefix(c.base, "http://")
	watch := watchRSS(c.cmd.Process.Pid)
	const uploads, each = 24, 6 << 20
	bogus := "X-Grafana-Alerting-Signature: " + strings.Repeat("ab", 32) + "\r\n"
	chunk := []byte(strings.Repeat("x", 64<<10))
	var refused atomic.Int64
	var wg sync.WaitGroup
	var conns sync.Map
	for i := range uploads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := stalledUpload(addr, "/webhooks/grafana/"+hmacID, bogus)
			if err != nil {
				t.Errorf("upload %d: %v", i, err)
				return
			}
			conns.Store(i, conn)
			_ = conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
			for sent := 0; sent < each; sent += len(chunk) {
				if _, err := conn.Write(chunk); err != nil {
					break // answered and closed: the budget refused it
				}
			}
			_ = conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			head := make([]byte, 12)
			if n, _ := io.ReadFull(conn, head); n == 12 && string(head[9:12]) == "503" {
				refused.Add(1)
			}
		}()
	}
	wg.Wait()
	body := alertBody("budget-legit")
	a := c.post(t, "/webhooks/grafana/"+hmacID, body, "X-Grafana-Alerting-Signature", hmacSign("", body))
	if a.Code == http.StatusServiceUnavailable {
		assert.Equal(t, "5", a.Header.Get("Retry-After"))
	} else {
		assert.Equal(t, 200, a.Code, a.Raw)
	}
	assert.Equal(t, 200, c.post(t, "/webhooks/grafana/"+grafID, body, "Authorization", "Bearer "+grafSecret).Code,
		"authenticated senders do not use the budget")
	peak := watch.end()
	conns.Range(func(_, v any) bool { _ = v.(net.Conn).Close(); return true })
	assert.Positive(t, refused.Load(), "%d × %d MiB cannot all fit in the budget", uploads, each>>20)
	assert.Less(t, peak, int64(300<<20), "resident memory")
	eventually(t, 10*time.Second, "the budget is free again", func() bool {
		body := alertBody("budget-after")
		return c.post(t, "/webhooks/grafana/"+hmacID, body, "X-Grafana-Alerting-Signature", hmacSign("", body)).Code == 200
	})
	t.Logf("peak RSS %.0f MB; %d of %d uploads refused with 503; signed sender meanwhile %d", float64(peak)/(1<<20), refused.Load(), uploads, a.Code)
	record(t, "unauthenticated budget", fmt.Sprintf("%d uploads sending %d MiB each at full speed to an HMAC integration, with a wrong signature", uploads, each>>20),
		fmt.Sprintf("%d refused with 503 + Retry-After once the budget was spent; peak RSS %.0f MB; signed sender %d meanwhile, 200 after", refused.Load(), float64(peak)/(1<<20), a.Code))
}

// manyAlerts is a body of n alerts of about 45 bytes each, every one distinct.
func manyAlerts(n int, alertname string) []byte {
	b := make([]byte, 0, n*(len(alertname)+40))
	b = append(b, `{"alerts":[`...)
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"labels":{"alertname":"`+alertname+`","i":"`...)
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, `"}}`...)
	}
	return append(b, `]}`...)
}

// Issue #11.3: 430 000 alerts in one request are refused with 413 at once;
// 10 000 are stored; other integrations are answered meanwhile.
func TestAlertsPerRequest(t *testing.T) {
	c := startSecurityCollector(t)
	huge := manyAlerts(430_000, "Huge")
	require.Less(t, len(huge), 20<<20, "within the body limit: refused by count, not size")
	began := time.Now()
	a := c.post(t, "/webhooks/prometheus/"+promID, huge, "X-Webhook-Secret", promSecret)
	refusedIn := time.Since(began)
	assert.Equal(t, http.StatusRequestEntityTooLarge, a.Code, a.Raw)
	assert.Contains(t, a.Body["detail"], "more than 10000 alerts")
	assert.Less(t, refusedIn, time.Second, "413 for %d MB", len(huge)>>20)

	stop := make(chan struct{})
	others := map[int]int{}
	var mu sync.Mutex
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			other, err := testutil.TryPost(c.base+"/webhooks/grafana/"+grafID, alertBody(fmt.Sprintf("meanwhile-%d", i)),
				"Authorization", "Bearer "+grafSecret)
			if err != nil {
				other.Code = -1 // a transport error, counted with the codes
			}
			mu.Lock()
			others[other.Code]++
			mu.Unlock()
			time.Sleep(50 * time.Millisecond)
		}
	}()
	began = time.Now()
	a = c.post(t, "/webhooks/prometheus/"+promID, manyAlerts(10_000, "Large"), "X-Webhook-Secret", promSecret)
	storedIn := time.Since(began)
	close(stop)
	<-done
	require.Equal(t, 200, a.Code, a.Raw)
	assert.EqualValues(t, 10_000, a.Body["incidents_created"])
	assert.Equal(t, 10_000, count(t, c.store.db(t), "title = 'Large'"))
	mu.Lock()
	assert.Equal(t, []int{200}, keys(others), "another integration meanwhile: %v", others)
	mu.Unlock()
	t.Logf("430 000 alerts (%d MB) refused in %v; 10 000 alerts stored in %v; other integration meanwhile %v",
		len(huge)>>20, refusedIn.Round(time.Millisecond), storedIn.Round(time.Millisecond), others)
	record(t, "alerts per request", fmt.Sprintf("430 000 alerts in one %d MB request; then 10 000, while another integration sends every 50 ms", len(huge)>>20),
		fmt.Sprintf("413 in %v; 10 000 stored in %v; the other integration %s", refusedIn.Round(time.Millisecond), storedIn.Round(time.Millisecond), tallyCodes(others)))
}

func keys(m map[int]int) []int {
	var out []int
	for k := range m {
		out = append(out, k)
	}
	return out
}

func tallyCodes(m map[int]int) string {
	s := map[string]int{}
	for k, v := range m {
		s[strconv.Itoa(k)] = v
	}
	return tally(s)
}

// Issue #11.4: timestamps that once overflowed the skew check, and
// milliseconds; issue #10.5: an alert without alertname is stored.
func TestSignedTimestampsAndTitles(t *testing.T) {
	c := startSecurityCollector(t)
	body := fixture(t, "grafana/seed-example.json")
	now := time.Now()
	for _, tt := range []struct {
		ts   string
		code int
	}{
		{"20000000000", 403},
		{"100000000000", 403},
		{"1e11", 403},
		{strconv.FormatInt(now.Add(-time.Hour).UnixMilli(), 10), 403},
		{strconv.FormatInt(time.Now().UnixMilli(), 10), 200},
		{strconv.FormatInt(time.Now().Unix(), 10), 200},
	} {
		a := c.post(t, "/webhooks/grafana/"+hmacTSID, body,
			"X-Grafana-Alerting-Signature", hmacSign(tt.ts, body), "X-Grafana-Alerting-Timestamp", tt.ts)
		assert.Equal(t, tt.code, a.Code, "timestamp %s: %s", tt.ts, a.Raw)
		if tt.code == 403 {
			assert.JSONEq(t, `{"detail":"Invalid webhook signature timestamp"}`, a.Raw)
		}
	}

	a := c.post(t, "/webhooks/alertmanager", []byte(`{"alerts":[{"labels":{"service":"api","severity":"critical"}}]}`))
	require.Equal(t, 200, a.Code, a.Raw)
	assert.Equal(t, 1, count(t, c.store.db(t), `title = '{service="api", severity="critical"}'`))
}

// Issue #11.5: an integration that would share the global endpoint's dedup
// scope is a config error naming the field.
func TestReservedIntegrationID(t *testing.T) {
	bin := binary(t, "E2E_COLLECTOR_BIN", "the collector")
	cfg := `
receivers:
  alertwebhook:
    http: {endpoint: 127.0.0.1:0}
    integrations:
      - {id: alertmanager, type: prometheus, secret: s}
exporters:
  nop:
service:
  pipelines:
    logs: {receivers: [alertwebhook], exporters: [nop]}
`
	path := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
	out, err := exec.Command(bin, "--config", path).CombinedOutput()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "the collector refuses to start:\n%s", out)
	assert.Contains(t, string(out), `integrations[0]: id "alertmanager" is reserved`)
}

// Issue #11.6: SIGTERM with slow clients connected exits within seconds;
// every alert acknowledged before is stored.
func TestShutdownWithSlowClients(t *testing.T) {
	c := startSecurityCollector(t)
	addr := strings.TrimPrefix(c.base, "http://")
	var slow []net.Conn
	for _, target := range []struct{ path, headers string }{
		{"/webhooks/alertmanager", ""},
		{"/webhooks/grafana/" + hmacID, "X-Grafana-Alerting-Signature: " + strings.Repeat("ab", 32) + "\r\n"},
		{"/webhooks/prometheus/" + promID, "X-Webhook-Secret: " + promSecret + "\r\n"},
	} {
		conn, err := stalledUpload(addr, target.path, target.headers)
		require.NoError(t, err)
		defer conn.Close()
		slow = append(slow, conn)
	}
	headers, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer headers.Close()
	_, err = io.WriteString(headers, "POST /webhooks/alertmanager HTTP/1.1\r\nHost: x\r\nX-Slo")
	require.NoError(t, err)
	slow = append(slow, headers)

	// Load until the collector stops answering; what was acknowledged must be stored.
	var acked []string
	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		client := &http.Client{Timeout: 10 * time.Second}
		for i := 0; ; i++ {
			fp := fmt.Sprintf("shutdown-%d", i)
			resp, err := client.Post(c.base+"/webhooks/alertmanager", "application/json", strings.NewReader(string(alertBody(fp))))
			if err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				acked = append(acked, fp)
			}
		}
	}()
	for range 2 {
		time.Sleep(time.Second)
		for _, conn := range slow {
			_, _ = conn.Write([]byte(" "))
		}
	}
	began := time.Now()
	require.NoError(t, c.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-c.exited:
	case <-time.After(20 * time.Second):
		t.Fatalf("the collector did not exit within 20 s of SIGTERM")
	}
	took := time.Since(began)
	<-loadDone
	assert.Less(t, took, 5*time.Second, "exit after SIGTERM with slow clients connected")
	require.NotEmpty(t, acked)
	lost, _ := storedOnce(t, c.store, acked)
	assert.Zero(t, lost, "acknowledged alerts lost")
	t.Logf("exited %v after SIGTERM with %d slow clients; %d alerts acknowledged, %d lost", took.Round(time.Millisecond), len(slow), len(acked), lost)
	record(t, "shutdown with slow clients", fmt.Sprintf("SIGTERM while %d clients send a byte a second (bodies to the global endpoint, an HMAC and a secret integration; headers) and a sender posts alerts in a loop", len(slow)),
		fmt.Sprintf("exited in %v (bound 5 s; read_timeout is 30 s); %d acknowledged, %d lost", took.Round(time.Millisecond), len(acked), lost))
}
