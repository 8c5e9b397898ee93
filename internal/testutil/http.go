package testutil

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

// Answer is a webhook answer as the tests read it.
type Answer struct {
	Code   int
	Header http.Header
	Raw    string
	Body   map[string]any // the JSON object, nil when the body is not one
}

// Post sends body as JSON to url with headers given as name, value pairs.
func Post(tb testing.TB, url string, body []byte, headers ...string) Answer {
	tb.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		tb.Fatalf("request to %s: %v", url, err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("reading the answer of %s: %v", url, err)
	}
	a := Answer{Code: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	_ = json.Unmarshal(raw, &a.Body)
	return a
}
