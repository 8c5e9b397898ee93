package alertwebhookreceiver

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBodyReader(t *testing.T) {
	const limit = 64 << 10
	tests := []struct {
		name    string
		body    int   // bytes sent
		hint    int64 // Content-Length, -1 unknown
		wantCap int   // the buffer's capacity when read
		tooBig  bool
	}{
		{"small, announced: one allocation of its size", 1500, 1500, 1500, false},
		{"empty", 0, 0, 0, false},
		{"announced exactly the first buffer", initialBodyBuffer, initialBodyBuffer, initialBodyBuffer, false},
		{"larger, announced: grows up to the announced length", 10_000, 10_000, 10_000, false},
		{"unknown length: doubles", 10_000, -1, 16 << 10, false},
		{"exactly the limit", limit, limit, limit, false},
		{"exactly the limit, unknown length", limit, -1, limit, false},
		{"one byte over the limit", limit + 1, -1, 0, true},
		{"announced less than sent (a decoder): read on", 9000, 100, 16 << 10, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBudget(1 << 20)
			h := b.hold()
			sent := bytes.Repeat([]byte("x"), tt.body)
			// One byte per read, as a slow sender delivers them.
			got, err := bodyReader{limit: limit, hold: h}.read(iotest.OneByteReader(bytes.NewReader(sent)), tt.hint)
			if tt.tooBig {
				var tooLarge *http.MaxBytesError
				require.ErrorAs(t, err, &tooLarge)
			} else {
				require.NoError(t, err)
				assert.Equal(t, sent, got)
				assert.Equal(t, tt.wantCap, cap(got))
				assert.EqualValues(t, cap(got), h.n, "the hold accounts for the buffer")
			}
			h.release()
			h.release()
			assert.EqualValues(t, 1<<20, b.free, "everything given back, once")
		})
	}
}

// A sender that announces a large body and sends a few bytes holds a buffer
// of a few kilobytes, whatever it announced.
func TestAnnouncedLengthSizesNothing(t *testing.T) {
	b := newBudget(1 << 20)
	h := b.hold()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := bodyReader{limit: 20 << 20, hold: h}.read(pr, 20_971_000)
		done <- err
	}()
	_, _ = pw.Write([]byte("{")) // returns once the reader has the byte
	b.mu.Lock()
	held := 1<<20 - b.free
	b.mu.Unlock()
	assert.EqualValues(t, initialBodyBuffer, held)
	_ = pw.CloseWithError(io.ErrUnexpectedEOF)
	assert.ErrorIs(t, <-done, io.ErrUnexpectedEOF)
}

func TestBudgetExhausted(t *testing.T) {
	b := newBudget(10 << 10)
	_, err := bodyReader{limit: 1 << 20, hold: b.hold()}.read(bytes.NewReader(make([]byte, 20<<10)), -1)
	assert.ErrorIs(t, err, errBudgetExhausted)
	_, err = bodyReader{limit: 1 << 20, hold: nil}.read(bytes.NewReader(make([]byte, 20<<10)), -1)
	assert.NoError(t, err, "authenticated reads are not budgeted")
}

// When an endpoint's budget is spent, its unauthenticated senders get a
// retryable 503 (never a 4xx); the budget comes back with the requests, and
// other endpoints and authenticated senders are not affected.
func TestUnauthenticatedBudgetAnswers503(t *testing.T) {
	cfg := testConfig()
	cfg.HTTP.MaxRequestBodySize = 64 << 10
	rcv, base := startReceiver(t, cfg, newStoreConsumer(t))
	addr := strings.TrimPrefix(base, "http://")
	budgetOf := rcv.integrations[hmacID].unauthenticated
	budgetOf.mu.Lock()
	size := budgetOf.free
	budgetOf.free = 4<<10 + 512 // room for the stalled upload's first buffer, not for the signed body of 1086 bytes
	budgetOf.mu.Unlock()

	// A slow upload holds the first buffer.
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	_, err = fmt.Fprintf(conn, "POST /webhooks/grafana/%s HTTP/1.1\r\nHost: x\r\nContent-Length: 60000\r\nX-Grafana-Alerting-Signature: %s\r\n\r\n{",
		hmacID, strings.Repeat("ab", 32))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		budgetOf.mu.Lock()
		defer budgetOf.mu.Unlock()
		return budgetOf.free == 512
	}, 5*time.Second, 5*time.Millisecond)

	body := fixture(t, "grafana/seed-example.json")
	signed := map[string]string{"X-Grafana-Alerting-Signature": sign("", body)}
	resp := post(t, base+"/webhooks/grafana/"+hmacID, body, signed)
	assert.Equal(t, http.StatusServiceUnavailable, resp.code)
	assert.Equal(t, retryAfterUnavailable, resp.header.Get("Retry-After"))
	assert.JSONEq(t, `{"detail":"Too many request bodies from unauthenticated senders in flight, retry later"}`, string(resp.body))
	assert.Equal(t, 200, post(t, base+"/webhooks/grafana/"+grafID, body, grafBearer).code, "authenticated senders are not budgeted")
	assert.Equal(t, 200, post(t, base+"/webhooks/alertmanager", fixture(t, "alertmanager/seed-example.json"), nil).code, "the global endpoint has its own budget")

	// The slow upload ends (badly): its share comes back.
	require.NoError(t, conn.Close())
	require.Eventually(t, func() bool {
		budgetOf.mu.Lock()
		defer budgetOf.mu.Unlock()
		return budgetOf.free == 4<<10+512
	}, 5*time.Second, 5*time.Millisecond)
	assert.Equal(t, 200, post(t, base+"/webhooks/grafana/"+hmacID, body, signed).code)
	budgetOf.mu.Lock()
	assert.EqualValues(t, 4<<10+512, budgetOf.free, "a verified request gives its share back")
	budgetOf.free = size
	budgetOf.mu.Unlock()
}

// Uploads that announce large bodies and stall, to an HMAC integration and to
// the global endpoint without a secret, hold a few kilobytes each; signed and
// authenticated senders are answered meanwhile.
func TestStalledUploadsHoldLittle(t *testing.T) {
	rcv, base := startReceiver(t, testConfig(), newStoreConsumer(t))
	addr := strings.TrimPrefix(base, "http://")
	const stalled = 50
	for i := range stalled {
		conn, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		t.Cleanup(func() { _ = conn.Close() })
		path, sig := "/webhooks/alertmanager", ""
		if i%2 == 0 {
			path, sig = "/webhooks/grafana/"+hmacID, "X-Grafana-Alerting-Signature: "+strings.Repeat("cd", 32)+"\r\n"
		}
		_, err = fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 20971000\r\n%s\r\n{", path, sig)
		require.NoError(t, err)
	}
	full := rcv.cfg.unauthenticatedBodyBudget()
	inUse := func() int64 {
		var n int64
		for _, b := range []*budget{rcv.global.unauthenticated, rcv.integrations[hmacID].unauthenticated} {
			b.mu.Lock()
			n += full - b.free
			b.mu.Unlock()
		}
		return n
	}
	require.Eventually(t, func() bool { return inUse() == stalled*initialBodyBuffer }, 5*time.Second, 5*time.Millisecond,
		"each stalled upload holds its first buffer only")

	body := fixture(t, "grafana/seed-example.json")
	assert.Equal(t, 200, post(t, base+"/webhooks/grafana/"+hmacID, body, map[string]string{"X-Grafana-Alerting-Signature": sign("", body)}).code)
	assert.Equal(t, 200, post(t, base+"/webhooks/alertmanager", fixture(t, "alertmanager/seed-example.json"), nil).code)
	assert.Equal(t, 200, post(t, base+"/webhooks/grafana/"+grafID, body, grafBearer).code)
}

// A body announced over the limit is refused before it is read.
func TestAnnouncedOverLimitIs413AtOnce(t *testing.T) {
	cfg := testConfig()
	cfg.HTTP.MaxRequestBodySize = 64 << 10
	_, base := startReceiver(t, cfg, newStoreConsumer(t))
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	_, err = fmt.Fprintf(conn, "POST /webhooks/alertmanager HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 20971000\r\n\r\n{")
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err, "answered without waiting for the body")
	defer resp.Body.Close()
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	got, _ := io.ReadAll(resp.Body)
	assert.JSONEq(t, `{"detail":"Request body exceeds the limit of 65536 bytes"}`, string(got))
}

// Decoding a stranger's body counts against the unauthenticated budget, at
// parseAmplification times its size; a body too large for that is decoded
// only while nothing else holds the budget.
func TestParsingCountsAgainstTheBudget(t *testing.T) {
	b := newBudget(100 << 10)
	small := b.hold()
	require.True(t, small.grow(1<<10))
	require.True(t, small.growForParsing(1<<10), "16 KiB of 99 KiB free")
	assert.Equal(t, int64(100<<10-17<<10), b.free)

	big := b.hold()
	require.True(t, big.grow(20<<10))
	assert.False(t, big.growForParsing(20<<10), "320 KiB does not fit while another read holds the budget")
	small.release()
	assert.True(t, big.growForParsing(20<<10), "alone, it takes what is left")
	assert.Zero(t, b.free)
	assert.False(t, b.hold().grow(1), "the others wait")
	big.release()
	assert.Equal(t, int64(100<<10), b.free)

	var authenticated *hold
	assert.True(t, authenticated.growForParsing(1<<30), "authenticated reads are not budgeted")
}
