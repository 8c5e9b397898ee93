package e2e

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sre-copilot/incident-collector/internal/proc"
)

var updateCorpus = flag.Bool("update-corpus", false, "rewrite testdata/hostile/corpus.json")

const corpusPath = "../testdata/hostile/corpus.json"

// hostileRequest is one entry of the corpus. Bodies too large to keep in the
// repository are described by Generate and built by the test.
type hostileRequest struct {
	Name     string            `json:"name"`
	Method   string            `json:"method"`
	Path     string            `json:"path"`
	Headers  map[string]string `json:"headers,omitempty"`
	Body     string            `json:"body,omitempty"`
	Generate string            `json:"generate,omitempty"`
	// Expect is the class of answer: "4xx" (most), or "2xx" for input that is
	// repaired, not refused (invalid UTF-8 inside a string becomes U+FFFD).
	Expect string `json:"expect"`
	Code   int    `json:"code,omitempty"` // the exact code, when it is known
}

// TestGenerateHostileCorpus rewrites the corpus:
//
//	go test ./e2e -run TestGenerateHostileCorpus -args -update-corpus
func TestGenerateHostileCorpus(t *testing.T) {
	if !*updateCorpus {
		t.Skip("run with -update-corpus to rewrite the corpus")
	}
	var c []hostileRequest
	add := func(r hostileRequest) {
		if r.Method == "" {
			r.Method = http.MethodPost
		}
		if r.Expect == "" {
			r.Expect = "4xx"
		}
		c = append(c, r)
	}
	am, graf, push := "/webhooks/alertmanager", "/webhooks/grafana/"+grafID, "/webhooks/prometheus/"+promID+"/api/v2/alerts"
	grafAuth := map[string]string{"Authorization": "Bearer " + grafSecret}
	pushAuth := map[string]string{"X-Webhook-Secret": promSecret}

	// Every fixture cut short at nine places: malformed JSON.
	var files []string
	for _, dir := range []string{"alertmanager", "grafana", "prometheus"} {
		matches, _ := filepath.Glob(filepath.Join("..", "testdata", dir, "*.json"))
		files = append(files, matches...)
	}
	sort.Strings(files)
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		path, headers := am, map[string]string(nil)
		switch filepath.Base(filepath.Dir(f)) {
		case "grafana":
			path, headers = graf, grafAuth
		case "prometheus":
			path, headers = push, pushAuth
		}
		trimmed := bytes.TrimSpace(raw)
		for k := 1; k <= 9; k++ {
			add(hostileRequest{
				Name: fmt.Sprintf("%s cut at %d/10", filepath.Base(f), k), Path: path, Headers: headers,
				Body: string(trimmed[:len(trimmed)*k/10]), Code: 400,
			})
		}
	}
	// Wrong types in an alert's fields.
	wrong := []string{`123`, `true`, `[1]`, `{"a":1}`}
	for _, field := range []string{"status", "startsAt", "endsAt", "fingerprint", "generatorURL"} {
		for _, v := range wrong {
			add(hostileRequest{
				Name: "alert." + field + " = " + v, Path: am, Code: 400,
				Body: fmt.Sprintf(`{"alerts":[{"labels":{"alertname":"T"},%q:%s}]}`, field, v),
			})
		}
	}
	for _, field := range []string{"labels", "annotations"} {
		for _, v := range []string{`123`, `true`, `[1]`, `"s"`, `{"alertname":1}`, `{"alertname":{"x":1}}`} {
			body := fmt.Sprintf(`{"alerts":[{"labels":{"alertname":"T"},%q:%s}]}`, field, v)
			if field == "labels" {
				body = fmt.Sprintf(`{"alerts":[{"labels":%s}]}`, v)
			}
			add(hostileRequest{Name: "alert." + field + " = " + v, Path: am, Body: body, Code: 400})
		}
	}
	for _, v := range []string{`1`, `"alerts"`, `true`, `{}`, `null`} {
		add(hostileRequest{Name: "alerts = " + v, Path: am, Body: `{"alerts":` + v + `}`, Code: 400})
	}
	for _, b := range []string{
		`[]`, `1`, `"x"`, `null`, `true`, ``, ` `, `{}`, `{"alerts":[]}`, `{"alerts":[null]}`, `{"alerts":[{}]}`,
		`{"alerts":[{"labels":null}]}`, `{"alerts":[{"labels":{"alertname":null}}]}`, `{"alerts":[{"labels":{"alertname":""}}]}`,
		`{"groupKey":1,"alerts":[{"labels":{"alertname":"T"}}]}`, `{"truncatedAlerts":"x","alerts":[{"labels":{"alertname":"T"}}]}`,
		`{"alerts":[{"labels":{"alertname":"T"},"status":"burning"}]}`, `{"alerts":[{"labels":{"alertname":"T"},"startsAt":"yesterday"}]}`,
		`{"alerts":[1,2,3]}`, `{"alerts":["a"]}`, `{"alerts":[[]]}`, `{"alerts":[{"labels":{"alertname":"T"}}]}garbage`,
	} {
		add(hostileRequest{Name: "body " + strconv.Quote(b), Path: am, Body: b, Code: 400})
	}
	add(hostileRequest{Name: "orgId as text", Path: graf, Headers: grafAuth, Body: `{"orgId":"one","alerts":[{"labels":{"alertname":"T"}}]}`, Code: 400})
	add(hostileRequest{Name: "push: an object", Path: push, Headers: pushAuth, Body: `{"alerts":[]}`, Code: 400})
	add(hostileRequest{Name: "push: empty array", Path: push, Headers: pushAuth, Body: `[]`, Code: 400})
	// Invalid UTF-8: outside strings refused; inside strings repaired.
	add(hostileRequest{Name: "invalid UTF-8 outside strings", Path: am, Body: "{\"alerts\":\xff}", Code: 400})
	add(hostileRequest{Name: "invalid UTF-8 as a key", Path: am, Body: "{\"\xff\xfe\":1}", Code: 400})
	for i, s := range []string{"\xff", "\xc3\x28", "\xed\xa0\x80", "\xf0\x28\x8c\x28"} {
		add(hostileRequest{
			Name: fmt.Sprintf("invalid UTF-8 in a label value %d", i), Path: am, Expect: "2xx",
			Body: fmt.Sprintf(`{"alerts":[{"labels":{"alertname":"Utf8Repair%d","v":"a%sb"}}]}`, i, s),
		})
	}
	// Generated: too big to keep.
	for _, g := range []struct {
		gen  string
		code int
	}{{"body-25MiB", 413}, {"gzip-bomb", 413}, {"labels-10000", 400}, {"deep-nesting", 400}, {"huge-header", 431}} {
		add(hostileRequest{Name: g.gen, Path: am, Generate: g.gen, Code: g.code})
	}
	// Headers: content types and encodings.
	for _, ct := range []string{"text/html", "application/xml", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded", "image/png"} {
		add(hostileRequest{Name: "Content-Type " + ct, Path: am, Headers: map[string]string{"Content-Type": ct}, Body: `{"alerts":[{"labels":{"alertname":"T"}}]}`, Code: 415})
	}
	for _, ce := range []string{"br", "compress", "x-unknown", "gzip, gzip"} {
		add(hostileRequest{Name: "Content-Encoding " + ce, Path: am, Headers: map[string]string{"Content-Encoding": ce}, Body: `{"alerts":[{"labels":{"alertname":"T"}}]}`, Code: 415})
	}
	add(hostileRequest{Name: "gzip header, plain body", Path: am, Headers: map[string]string{"Content-Encoding": "gzip"}, Body: `{"alerts":[]}`, Code: 400})
	// Issue #10 and #11 reproductions that fit one request.
	for _, g := range []struct {
		gen  string
		code int
	}{{"gzip-truncated", 400}, {"alerts-430000", 413}, {"labels-64KiB", 400}} {
		add(hostileRequest{Name: g.gen, Path: am, Generate: g.gen, Code: g.code})
	}
	for _, fp := range []string{`\u0000`, `zz\u0000X`, strings.Repeat("f", 8000), `a\ud800b`} {
		add(hostileRequest{
			Name: "fingerprint " + fp[:min(len(fp), 20)], Path: am, Code: 400,
			Body: `{"alerts":[{"labels":{"alertname":"T"},"fingerprint":"` + fp + `"}]}`,
		})
	}
	for _, field := range []string{"startsAt", "endsAt"} {
		add(hostileRequest{
			Name: field + " past the year 9999 in UTC", Path: am, Code: 400,
			Body: `{"alerts":[{"labels":{"alertname":"T"},"status":"resolved","` + field + `":"9999-12-31T23:59:59-23:59"}]}`,
		})
	}
	add(hostileRequest{
		Name: "no alertname: stored under its labels", Path: am, Expect: "2xx",
		Body: `{"alerts":[{"labels":{"service":"hostile-no-alertname"}}]}`,
	})
	hmac := "/webhooks/grafana/" + hmacID
	for _, h := range []struct {
		name string
		h    map[string]string
	}{
		{"no signature", nil},
		{"signature not hex", map[string]string{"X-Grafana-Alerting-Signature": "zz"}},
		{"signature of another body", map[string]string{"X-Grafana-Alerting-Signature": strings.Repeat("ab", 32)}},
		{"the secret as a Bearer token", map[string]string{"Authorization": "Bearer " + hmacSecret}},
	} {
		add(hostileRequest{Name: "HMAC: " + h.name, Path: hmac, Headers: h.h, Body: `{"alerts":[{"labels":{"alertname":"T"}}]}`, Code: 403})
	}
	// Methods.
	for _, p := range []string{am, graf, push, "/webhooks/prometheus/" + promID} {
		for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions} {
			add(hostileRequest{Name: m + " " + p, Method: m, Path: p, Code: 405})
		}
	}
	add(hostileRequest{Name: "DELETE /health", Method: http.MethodDelete, Path: "/health", Code: 405})
	// Odd paths and ids.
	for _, p := range []string{
		"/webhooks/prometheus/..%2f..%2fetc%2fpasswd", "/webhooks/prometheus/" + strings.Repeat("a", 8000),
		"/webhooks/grafana/%C3%BCn%C3%AFc%C3%B8d%C3%A9", "/webhooks/prometheus/%00", "/webhooks/grafana/a/b/c", "/webhooks/%2e%2e/x",
		"/webhooks/", "/webhooks", "/webhooks/prometheus/", "/webhooks/prometheus/" + promID + "/api/v2/alerts/extra",
		"/webhooks/alertmanager/", "/webhooks/grafana/" + promID, "/", "/api/v2/alerts", "/webhooks/prometheus/%ff%fe",
	} {
		add(hostileRequest{Name: "path " + p[:min(len(p), 60)], Path: p, Headers: pushAuth, Body: `{"alerts":[{"labels":{"alertname":"T"}}]}`, Code: 404})
	}
	// Credentials that are not credentials.
	for _, a := range []struct {
		name string
		h    map[string]string
	}{
		{"Basic not base64", map[string]string{"Authorization": "Basic !!!"}},
		{"Bearer empty", map[string]string{"Authorization": "Bearer "}},
		{"secret of 10 KiB", map[string]string{"X-Webhook-Secret": strings.Repeat("s", 10<<10)}},
		{"secret with a blank inside", map[string]string{"X-Webhook-Secret": promSecret[:3] + " " + promSecret[3:]}},
		{"secret case changed", map[string]string{"X-Webhook-Secret": strings.ToUpper(promSecret)}},
	} {
		name, h := a.name, a.h
		add(hostileRequest{Name: "auth: " + name, Path: "/webhooks/prometheus/" + promID, Headers: h, Body: `{"alerts":[{"labels":{"alertname":"T"}}]}`, Code: 403})
	}
	out, err := json.MarshalIndent(c, "", " ")
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Dir(corpusPath), 0o755))
	require.NoError(t, os.WriteFile(corpusPath, append(out, '\n'), 0o644)) //nolint:gosec // a committed fixture, readable by all
	t.Logf("wrote %d requests", len(c))
}

func generatedBody(t *testing.T, r *hostileRequest, req *http.Request) []byte {
	t.Helper()
	switch r.Generate {
	case "body-25MiB":
		return []byte(`{"alerts":[],"pad":"` + strings.Repeat("x", 25<<20) + `"}`)
	case "gzip-bomb":
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		_, _ = zw.Write([]byte(`{"alerts":[],"pad":"`))
		zeros := make([]byte, 1<<20)
		for range 200 { // 200 MiB once inflated
			_, _ = zw.Write(zeros)
		}
		_ = zw.Close()
		req.Header.Set("Content-Encoding", "gzip")
		return buf.Bytes()
	case "labels-10000":
		var b strings.Builder
		b.WriteString(`{"alerts":[{"labels":{"alertname":"Many"`)
		for i := range 10000 {
			fmt.Fprintf(&b, `,"label_%d":"value"`, i)
		}
		b.WriteString(`}}]}`)
		return []byte(b.String())
	case "deep-nesting":
		return []byte(`{"alerts":` + strings.Repeat("[", 200000) + strings.Repeat("]", 200000) + `}`)
	case "gzip-truncated":
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write([]byte(`{"alerts":[{"labels":{"alertname":"T"}}]}`))
		_ = zw.Close()
		req.Header.Set("Content-Encoding", "gzip")
		return buf.Bytes()[:buf.Len()/2]
	case "alerts-430000":
		// About 18 MB of minimal alerts, within the body limit: refused by count.
		return manyAlerts(430_000, "A")
	case "labels-64KiB":
		return []byte(`{"alerts":[{"labels":{"alertname":"Big","v":"` + strings.Repeat("x", 64<<10) + `"}}]}`)
	case "huge-header":
		req.Header.Set("X-Pad", strings.Repeat("p", 2<<20))
		return []byte(`{"alerts":[{"labels":{"alertname":"T"}}]}`)
	}
	return []byte(r.Body)
}

// Hostile requests get a 4xx (or are repaired, where the corpus says so), the
// collector stays up with bounded memory, and valid alerts sent in between
// are all stored.
func TestHostileInput(t *testing.T) {
	raw, readErr := os.ReadFile(corpusPath)
	require.NoError(t, readErr)
	var corpus []hostileRequest
	require.NoError(t, json.Unmarshal(raw, &corpus))
	require.GreaterOrEqual(t, len(corpus), 200)

	st := sqliteStore(t)
	c := startCollector(t, st, defaultPipeline)
	client := &http.Client{Timeout: 30 * time.Second}
	var valid []string
	classes := map[string]int{}
	for i := range corpus {
		r := &corpus[i]
		req, err := http.NewRequest(r.Method, c.base+r.Path, nil)
		if err != nil {
			// A path net/http will not even send is refused before us.
			classes["unsendable"]++
			continue
		}
		req.URL.RawPath, req.URL.Path = "", ""
		req.URL.Opaque = r.Path
		req.Header.Set("Content-Type", "application/json")
		for k, v := range r.Headers {
			req.Header.Set(k, v)
		}
		body := generatedBody(t, r, req)
		req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		resp, err := client.Do(req)
		if !assert.NoError(t, err, r.Name) {
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		switch r.Expect {
		case "2xx":
			assert.Equal(t, 2, resp.StatusCode/100, "%s: %d", r.Name, resp.StatusCode)
		default:
			assert.Equal(t, 4, resp.StatusCode/100, "%s: %d", r.Name, resp.StatusCode)
		}
		if r.Code != 0 {
			assert.Equal(t, r.Code, resp.StatusCode, r.Name)
		}
		classes[strconv.Itoa(resp.StatusCode)]++
		if i%10 == 9 {
			fp := fmt.Sprintf("valid-between-%d", i)
			a := c.post(t, "/webhooks/alertmanager", []byte(`{"alerts":[{"labels":{"alertname":"Between","n":"`+fp+`"},"fingerprint":"`+fp+`"}]}`))
			assert.Equal(t, 200, a.Code, "valid traffic between hostile requests: %s", a.Raw)
			valid = append(valid, fp)
		}
	}
	slowHeaders(t, c)
	rss := proc.RSS(c.cmd.Process.Pid)
	assert.Less(t, rss, int64(400<<20), "resident memory after the corpus")
	lost, _ := storedOnce(t, st, valid)
	assert.Zero(t, lost, "valid alerts sent between hostile ones")
	resp, err := http.Get(c.base + "/health")
	require.NoError(t, err, "the collector is still up")
	resp.Body.Close()
	record(t, "hostile input", fmt.Sprintf("%d requests from testdata/hostile/corpus.json (malformed JSON, wrong types, nulls, 10 000 labels, deep nesting, invalid UTF-8, 25 MiB body, gzip bomb, truncated gzip, 430 000 alerts, NUL and 8 000-byte fingerprints, years past 9999, unsigned HMAC requests, unknown encodings and types, wrong methods, odd ids, huge headers) and a client sending headers byte by byte; %d valid alerts in between",
		len(corpus), len(valid)),
		fmt.Sprintf("answers %s; no 5xx; slow client cut off; RSS %.0f MB after; valid alerts lost %d", tally(classes), float64(rss)/(1<<20), lost))
}

// slowHeaders sends a request's headers one byte at a time: the server must
// close the connection once read_header_timeout has passed.
func slowHeaders(t *testing.T, c *collector) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(c.base, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	began := time.Now()
	head := "POST /webhooks/alertmanager HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("s", 1000)
	closed := false
	for i := 0; i < len(head) && time.Since(began) < 20*time.Second; i++ {
		if _, err := conn.Write([]byte{head[i]}); err != nil {
			closed = true
			break
		}
		_ = conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if _, err := bufio.NewReader(conn).ReadByte(); err == io.EOF {
			closed = true
			break
		}
	}
	assert.True(t, closed, "the slow client was not cut off")
	assert.Less(t, time.Since(began), 8*time.Second, "cut off near read_header_timeout (2 s in the suite)")
}

// tally renders status counts in code order: "400 × 179, 403 × 5".
func tally(classes map[string]int) string {
	codes := make([]string, 0, len(classes))
	for c := range classes {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	parts := make([]string, len(codes))
	for i, c := range codes {
		parts[i] = fmt.Sprintf("%s × %d", c, classes[c])
	}
	return strings.Join(parts, ", ")
}
