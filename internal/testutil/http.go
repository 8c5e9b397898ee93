package testutil

import (
	"bytes"
	"encoding/json"
	"fmt"
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
	a, err := TryPost(url, body, headers...)
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

// TryPost is Post for goroutines, which must not stop the test themselves:
// it returns the error.
func TryPost(url string, body []byte, headers ...string) (Answer, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return Answer{}, fmt.Errorf("request to %s: %w", url, err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return Answer{}, fmt.Errorf("POST %s: %w", url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return Answer{}, fmt.Errorf("reading the answer of %s: %w", url, err)
	}
	a := Answer{Code: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	_ = json.Unmarshal(raw, &a.Body)
	return a, nil
}
