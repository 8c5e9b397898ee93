package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sre-copilot/incident-collector/internal/loadgen"
	"github.com/sre-copilot/incident-collector/internal/proc"
)

// soakDuration is 3 minutes; E2E_SOAK overrides it (a Go duration).
func soakDuration(t *testing.T) time.Duration {
	if v := os.Getenv("E2E_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		require.NoError(t, err)
		return d
	}
	return 3 * time.Minute
}

// Mixed traffic (fire, repeat, resolve) at half the measured maximum rate:
// no 5xx, nothing acknowledged lost, memory flat.
func TestSoak(t *testing.T) {
	st := sqliteStore(t)
	c := startCollector(t, st, defaultPipeline)
	url := c.base + "/webhooks/alertmanager"
	probe, err := loadgen.Run(context.Background(), loadgen.Options{URL: url, Mode: loadgen.ModeMixed, AlertsPerRequest: 5, Connections: 16, Duration: 3 * time.Second, RunID: "probe"})
	require.NoError(t, err)
	require.Zero(t, probe.Non2xx+probe.Errors, "the probe for the maximum rate was refused: %v", probe.Codes)
	rate := probe.RequestsPS / 2
	d := soakDuration(t)

	var rssStart, rssEnd int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		time.Sleep(d / 6)
		rssStart = proc.RSS(c.cmd.Process.Pid)
	}()
	res, err := loadgen.Run(context.Background(), loadgen.Options{
		URL: url, Mode: loadgen.ModeMixed, AlertsPerRequest: 5, Connections: 16, Duration: d, Rate: rate, TrackAcked: true, RunID: "soak",
	})
	require.NoError(t, err)
	wg.Wait()
	rssEnd = proc.RSS(c.cmd.Process.Pid)

	fiveXX := int64(0)
	for code, n := range res.Codes {
		if code[0] == '5' {
			fiveXX += n
		}
	}
	assert.Zero(t, fiveXX, "5xx answers: %v", res.Codes)
	assert.Zero(t, res.Non2xx+res.Errors, "non-2xx or transport errors: %v", res.Codes)
	unique := map[string]struct{}{}
	for _, fp := range res.AckedAlerts {
		unique[fp] = struct{}{}
	}
	fps := make([]string, 0, len(unique))
	for fp := range unique {
		fps = append(fps, fp)
	}
	lost, doubled := storedOnce(t, st, fps)
	assert.Zero(t, lost)
	assert.Zero(t, doubled)
	assert.Less(t, float64(rssEnd), float64(rssStart)*1.5+20<<20, "memory flat: %d → %d", rssStart, rssEnd)
	record(t, "soak", fmt.Sprintf("%v of mixed traffic (fire, repeat, resolve; 5 alerts a request) at half the measured maximum, %.0f req/s; %d requests",
		d, rate, res.Requests),
		fmt.Sprintf("5xx %d, other non-2xx %d, lost %d, stored twice %d; RSS %.0f MB → %.0f MB; p99 %.1f ms",
			fiveXX, res.Non2xx-fiveXX, lost, doubled, float64(rssStart)/(1<<20), float64(rssEnd)/(1<<20), res.LatencyP99))
}

// The analysis service is down when the incident is committed and the
// collector is killed before it could deliver: after a restart the event is
// delivered, once.
func TestAnalysisSurvivesCrash(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens yet: connection refused

	st := sqliteStore(t)
	c := startCollector(t, st, defaultPipeline, analysisTo("http://"+addr+"/analyze"))
	a := c.post(t, "/webhooks/alertmanager", fixture(t, "alertmanager/seed-example.json"))
	require.Equal(t, 200, a.Code, a.Raw)
	id := a.Body["incidents"].([]any)[0].(map[string]any)["id"].(string)
	time.Sleep(300 * time.Millisecond) // a few refused attempts
	c.kill9(t)

	var mu sync.Mutex
	got := map[string]int{}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		got[r.Header.Get("Idempotency-Key")]++
		mu.Unlock()
	})}
	ln, err = net.Listen("tcp", addr)
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	c.restart(t)
	eventually(t, 20*time.Second, "the event delivered after the restart", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return got[id+":created"] == 1
	})
	time.Sleep(500 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, map[string]int{id + ":created": 1}, got)
	record(t, "analysis trigger across a crash", "incident committed while the analysis service was down, kill -9, service up, restart",
		fmt.Sprintf("delivered %d time(s) after the restart", got[id+":created"]))
}
