package loadgen

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type sent struct {
	Status string `json:"status"`
	Alerts []struct {
		Status      string            `json:"status"`
		Fingerprint string            `json:"fingerprint"`
		Labels      map[string]string `json:"labels"`
	} `json:"alerts"`
	Version string `json:"version"`
}

// A server that refuses every fifth request: the result counts both kinds and
// only alerts answered 2xx are reported acknowledged.
func TestRunCountsAndAcked(t *testing.T) {
	var n atomic.Int64
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "s3cr3t", r.Header.Get("X-Webhook-Secret"))
		var p sent
		body, _ := io.ReadAll(r.Body)
		// assert, not require: FailNow must not run outside the test's goroutine.
		if !assert.NoError(t, json.Unmarshal(body, &p), string(body)) {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if n.Add(1)%5 == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		mu.Lock()
		for _, a := range p.Alerts {
			seen[a.Fingerprint]++
		}
		mu.Unlock()
	}))
	defer srv.Close()
	res, err := Run(context.Background(), Options{
		URL: srv.URL, Mode: ModeUnique, AlertsPerRequest: 3, Connections: 4, Requests: 50, Secret: "s3cr3t", TrackAcked: true,
	})
	require.NoError(t, err)
	assert.EqualValues(t, 50, res.Requests)
	assert.EqualValues(t, 40, res.OK)
	assert.EqualValues(t, 10, res.Non2xx)
	assert.EqualValues(t, 10, res.Codes["503"])
	assert.EqualValues(t, 150, res.Alerts)
	require.Len(t, res.AckedAlerts, 120)
	for _, fp := range res.AckedAlerts {
		assert.Equal(t, 1, seen[fp], "unique mode never repeats a fingerprint: %s", fp)
	}
	assert.Greater(t, res.LatencyMax, 0.0)
}

func TestModes(t *testing.T) {
	g := &generator{opts: Options{Mode: ModeMixed, AlertsPerRequest: 2}, runID: "r", startsAt: time.Now().Format(time.RFC3339)}
	var steps []sent
	for seq := range int64(6) {
		body, fps := g.payloadFor(1, seq)
		var p sent
		require.NoError(t, json.Unmarshal(body, &p))
		require.Len(t, p.Alerts, 2)
		assert.Equal(t, fps[0], p.Alerts[0].Fingerprint)
		steps = append(steps, p)
	}
	// fire, repeat, resolve the same group; then a new group.
	assert.Equal(t, steps[0].Alerts[0].Fingerprint, steps[1].Alerts[0].Fingerprint)
	assert.Equal(t, steps[0].Alerts[0].Fingerprint, steps[2].Alerts[0].Fingerprint)
	assert.Equal(t, []string{"firing", "firing", "resolved"}, []string{steps[0].Status, steps[1].Status, steps[2].Alerts[1].Status})
	assert.NotEqual(t, steps[0].Alerts[0].Fingerprint, steps[3].Alerts[0].Fingerprint)

	g.opts.Mode = ModeDuplicate
	a, _ := g.payloadFor(3, 0)
	b, _ := g.payloadFor(3, 9)
	assert.Equal(t, a, b, "duplicate mode repeats a worker's alerts")

	g.opts.Mode = ModeGrafana
	body, _ := g.payloadFor(0, 0)
	var p sent
	require.NoError(t, json.Unmarshal(body, &p))
	assert.Equal(t, "1", p.Version)
}

func TestFixedRate(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	res, err := Run(context.Background(), Options{URL: srv.URL, Mode: ModeUnique, AlertsPerRequest: 1, Connections: 4, Duration: time.Second, Rate: 50})
	require.NoError(t, err)
	// Bounds, not a timing: pacing must cap the rate, and must not starve it.
	assert.LessOrEqual(t, res.Requests, int64(60))
	assert.GreaterOrEqual(t, res.Requests, int64(20))
}

func TestValidateOptions(t *testing.T) {
	_, err := Run(context.Background(), Options{URL: "http://x", Mode: "burst", AlertsPerRequest: 1, Connections: 1, Requests: 1})
	assert.ErrorContains(t, err, `unknown mode "burst"`)
	_, err = Run(context.Background(), Options{URL: "http://x", Mode: ModeUnique, AlertsPerRequest: 501, Connections: 1, Requests: 1})
	assert.ErrorContains(t, err, "1 … 500")
}

// Push bodies are Prometheus' array of alerts, unique instances in unique
// mode, the same ones again in duplicate mode; each webhook notification is
// one group.
func TestPushBodiesAndGroups(t *testing.T) {
	g := &generator{opts: Options{Mode: ModeUnique, AlertsPerRequest: 2, Push: true}, runID: "r", startsAt: "2026-11-28T19:00:00Z"}
	var push []struct {
		Labels      map[string]string `json:"labels"`
		EndsAt      time.Time         `json:"endsAt"`
		Fingerprint string            `json:"fingerprint"`
		Status      string            `json:"status"`
	}
	body, fps := g.payloadFor(0, 0)
	require.NoError(t, json.Unmarshal(body, &push), string(body))
	require.Len(t, push, 2)
	assert.Equal(t, fps[0], push[0].Labels["instance"])
	assert.NotEqual(t, push[0].Labels["instance"], push[1].Labels["instance"])
	assert.Empty(t, push[0].Fingerprint+push[0].Status, "Prometheus sends neither")
	assert.True(t, push[0].EndsAt.After(time.Now()), "firing")

	g.opts.Push = false
	groupOf := func(seq int64) string {
		var n struct {
			GroupKey string `json:"groupKey"`
		}
		body, _ := g.payloadFor(0, seq)
		require.NoError(t, json.Unmarshal(body, &n))
		return n.GroupKey
	}
	assert.NotEqual(t, groupOf(1), groupOf(2), "unique: every notification a new group")
	g.opts.Mode = ModeDuplicate
	assert.Equal(t, groupOf(1), groupOf(2), "duplicate: the same group again")

	_, err := Run(context.Background(), Options{URL: "http://127.0.0.1:1", Mode: ModeGrafana, Push: true, AlertsPerRequest: 1, Connections: 1, Requests: 1})
	assert.ErrorContains(t, err, "push bodies")
}
