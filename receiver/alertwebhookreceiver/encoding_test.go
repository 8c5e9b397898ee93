package alertwebhookreceiver

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"net/http"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func gzipped(tb testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := zw.Write(b)
	require.NoError(tb, err)
	require.NoError(tb, zw.Close())
	return buf.Bytes()
}

func zlibbed(tb testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	zw := zlib.NewWriter(&buf)
	_, err := zw.Write(b)
	require.NoError(tb, err)
	require.NoError(tb, zw.Close())
	return buf.Bytes()
}

func zstded(tb testing.TB, b []byte, opts ...zstd.EOption) []byte {
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf, opts...)
	require.NoError(tb, err)
	_, err = zw.Write(b)
	require.NoError(tb, err)
	require.NoError(tb, zw.Close())
	return buf.Bytes()
}

// zstdStreamed writes in pieces, so that the frame does not announce its size.
func zstdStreamed(tb testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf, zstd.WithWindowSize(1<<20))
	require.NoError(tb, err)
	for len(b) > 0 {
		n := min(len(b), 64<<10)
		_, err = zw.Write(b[:n])
		require.NoError(tb, err)
		b = b[n:]
	}
	require.NoError(tb, zw.Close())
	return buf.Bytes()
}

// Every answer is JSON, also for what confighttp used to refuse in plain
// text: an unknown encoding is a 415, a corrupt body a 400, a bomb a 413.
func TestContentEncodings(t *testing.T) {
	cfg := testConfig()
	cfg.HTTP.MaxRequestBodySize = 1 << 20
	_, base := startReceiver(t, cfg, newStoreConsumer(t))
	plain := fixture(t, "alertmanager/seed-example.json")
	bomb := gzipped(t, append([]byte(`{"alerts":[],"pad":"`), make([]byte, 2<<20)...))
	zstdBomb := zstded(t, append([]byte(`{"alerts":[],"pad":"`), make([]byte, 2<<20)...), zstd.WithEncoderConcurrency(1))
	zstdStream := zstdStreamed(t, append([]byte(`{"alerts":[],"pad":"`), make([]byte, 2<<20)...))
	enc, err := zstd.NewWriter(nil)
	require.NoError(t, err)
	zstdAnnounced := enc.EncodeAll(make([]byte, 9<<20), nil)
	bigWindow := zstded(t, bytes.Repeat([]byte("x"), 1<<20), zstd.WithWindowSize(64<<20), zstd.WithSingleSegment(false))
	tests := []struct {
		name     string
		encoding string
		body     []byte
		code     int
		detail   string
	}{
		{"gzip", "gzip", gzipped(t, plain), 200, ""},
		{"GZIP in capitals", "GZIP", gzipped(t, plain), 200, ""},
		{"zstd", "zstd", zstded(t, plain), 200, ""},
		{"zlib", "zlib", zlibbed(t, plain), 200, ""},
		{"deflate is zlib", "deflate", zlibbed(t, plain), 200, ""},
		{"br", "br", plain, 415, `Unsupported Content-Encoding "br": send the body as is or encoded with deflate, gzip, zlib, zstd`},
		{"two encodings", "gzip, gzip", gzipped(t, gzipped(t, plain)), 415, `Unsupported Content-Encoding "gzip, gzip": send the body as is or encoded with deflate, gzip, zlib, zstd`},
		{"snappy", "snappy", plain, 415, `Unsupported Content-Encoding "snappy": send the body as is or encoded with deflate, gzip, zlib, zstd`},
		{"gzip header, plain body", "gzip", plain, 400, "Could not decode the gzip request body: gzip: invalid header"},
		{"gzip cut short", "gzip", gzipped(t, plain)[:40], 400, "Could not decode the gzip request body: unexpected EOF"},
		{"gzip header cut short", "gzip", gzipped(t, plain)[:4], 400, "Could not decode the gzip request body: unexpected EOF"},
		{"gzip bomb", "gzip", bomb, 413, "Request body exceeds the limit of 1048576 bytes"},
		{"zstd bomb, its size announced", "zstd", zstdBomb, 413, "Request body exceeds the limit of 1048576 bytes"},
		{"zstd bomb, streamed", "zstd", zstdStream, 413, "Request body exceeds the limit of 1048576 bytes"},
		{"zstd frame announcing 9 MiB", "zstd", zstdAnnounced, 413, "Request body exceeds the limit of 1048576 bytes"},
		{"zstd window over 8 MiB", "zstd", bigWindow, 400, "Could not decode the zstd request body: window size exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := post(t, base+"/webhooks/alertmanager", tt.body, map[string]string{"Content-Encoding": tt.encoding})
			assert.Equal(t, tt.code, resp.code, string(resp.body))
			assert.Equal(t, "application/json", resp.header.Get("Content-Type"))
			if tt.detail != "" {
				assert.Equal(t, tt.detail, resp.json(t)["detail"])
			}
		})
	}
}

func TestCompressionAlgorithmsConfig(t *testing.T) {
	plain := fixture(t, "alertmanager/seed-example.json")
	for _, tt := range []struct {
		name       string
		algorithms []string
		encoding   string
		body       []byte
		code       int
	}{
		{"empty list: only bodies as is", []string{}, "gzip", gzipped(t, plain), 415},
		{"empty list: as is", []string{}, "", plain, 200},
		{"gzip only", []string{"", "gzip"}, "zstd", zstded(t, plain), 415},
		{"gzip only: gzip", []string{"", "gzip"}, "gzip", gzipped(t, plain), 200},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.HTTP.CompressionAlgorithms = tt.algorithms
			_, base := startReceiver(t, cfg, newStoreConsumer(t))
			resp := post(t, base+"/webhooks/alertmanager", tt.body, map[string]string{"Content-Encoding": tt.encoding})
			assert.Equal(t, tt.code, resp.code, string(resp.body))
		})
	}
}

// The HMAC covers the body as sent, so a request is authenticated before any
// decoder runs for it.
func TestSignatureCoversTheBodyAsSent(t *testing.T) {
	_, base := startReceiver(t, testConfig(), newStoreConsumer(t))
	plain := fixture(t, "grafana/seed-example.json")
	sent := gzipped(t, plain)
	resp := post(t, base+"/webhooks/grafana/"+hmacID, sent, map[string]string{
		"Content-Encoding": "gzip", "X-Grafana-Alerting-Signature": sign("", sent),
	})
	assert.Equal(t, http.StatusOK, resp.code, string(resp.body))
	resp = post(t, base+"/webhooks/grafana/"+hmacID, sent, map[string]string{
		"Content-Encoding": "gzip", "X-Grafana-Alerting-Signature": sign("", plain),
	})
	assert.Equal(t, http.StatusForbidden, resp.code, string(resp.body))
	resp = post(t, base+"/webhooks/grafana/"+hmacID, plain, map[string]string{
		"Content-Encoding": "gzip", "X-Grafana-Alerting-Signature": sign("", plain),
	})
	assert.Equal(t, http.StatusBadRequest, resp.code, "signed, but not gzip: %s", resp.body)
}
