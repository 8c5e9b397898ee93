package alertwebhookreceiver

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/consumer/consumererror"
)

// Every failure's answer, as the README's answer table gives it.
func TestFailureOf(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want failure
	}{
		{"no endpoint", &notFoundError{detail: "Integration not found: x"}, failure{status: 404, detail: "Integration not found: x"}},
		{"method", &methodError{method: "DELETE", want: "POST", allow: "POST"}, failure{status: 405, detail: "Method DELETE not allowed: use POST", allow: "POST"}},
		{
			"long method", &methodError{method: "PROPFINDXXXXXXXXXXXXXXXX", want: "GET", allow: "GET, HEAD"},
			failure{status: 405, detail: "Method PROPFINDXXXXXXXX… not allowed: use GET", allow: "GET, HEAD"},
		},
		{"authenticator", errNotAuthenticated, failure{status: 401, detail: "Not authenticated by the collector's authenticator"}},
		{"secret", &refusal{reason: reasonSecret}, failure{status: 403, detail: "Invalid webhook secret", refusal: reasonSecret}},
		{"source", &refusal{reason: reasonSource}, failure{status: 403, detail: "Source address not allowed", refusal: reasonSource}},
		{"rate limit", &rateLimited{wait: 7}, failure{status: 429, detail: "Too many webhook requests. Please retry after 7 seconds.", retryAfter: "7"}},
		{
			"content type", &unsupportedError{header: "Content-Type", value: "text/html", accepted: "send application/json"},
			failure{status: 415, detail: `Unsupported Content-Type "text/html": send application/json`},
		},
		{"body limit", &http.MaxBytesError{Limit: 1024}, failure{status: 413, detail: "Request body exceeds the limit of 1024 bytes"}},
		{"alerts limit", &tooManyAlertsError{limit: 10}, failure{status: 413, detail: "Request has more than 10 alerts, the limit of max_alerts_per_request: " +
			"split the notification (a finer group_by) or raise the limit"}},
		{"budget", errBudgetExhausted, failure{status: 503, detail: "Too many request bodies from unauthenticated senders in flight, retry later", retryAfter: "5"}},
		{"shutting down", errShuttingDown, failure{status: 503, detail: "The collector is shutting down, retry later", retryAfter: "5"}},
		{"slow body", errReadTimeout, failure{status: 503, detail: "The request body did not arrive within the read timeout, retry", retryAfter: "5"}},
		{
			"undecodable", &bodyError{encoding: "zstd", err: errors.New("magic number mismatch")},
			failure{status: 400, detail: "Could not decode the zstd request body: magic number mismatch"},
		},
		{"unreadable", &bodyError{err: io.ErrUnexpectedEOF}, failure{status: 400, detail: "Could not read the request body: unexpected EOF"}},
		{"payload", invalidPayload("field 'alerts' is empty"), failure{
			status: 400, detail: "Invalid webhook payload: field 'alerts' is empty", problems: []string{"field 'alerts' is empty"},
		}},
		{
			"pipeline, permanent", &pipelineError{err: consumererror.NewPermanent(errors.New("no"))},
			failure{status: 400, detail: "Alerts rejected permanently by the collector pipeline"},
		},
		{
			"pipeline, retryable", &pipelineError{err: errors.New("connection refused")},
			failure{status: 503, detail: "Alerts could not be stored now, retry later", retryAfter: "5"},
		},
		{"HTTP server", &statusError{status: 400}, failure{status: 400, detail: "Bad Request"}},
		{"wrapped", fmt.Errorf("reading: %w", errShuttingDown), failure{status: 503, detail: "The collector is shutting down, retry later", retryAfter: "5"}},
		{"unknown", errors.New("a bug"), failure{status: 500, detail: "Internal error"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, failureOf(tt.err))
		})
	}
}

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

// A body that could not be read is told apart by what failed, first match first.
func TestReadFailure(t *testing.T) {
	tooLarge := &http.MaxBytesError{Limit: 64}
	corrupt := errors.New("gzip: invalid header")
	reset := errors.New("connection reset by peer")
	tests := []struct {
		name     string
		err      error
		wireErr  error
		draining bool
		want     error
	}{
		{"decoded past the limit", tooLarge, nil, false, tooLarge},
		{"sent past the limit, whatever the decoder says", corrupt, tooLarge, true, tooLarge},
		{"budget", errBudgetExhausted, nil, true, errBudgetExhausted},
		{"shutdown cut the read", reset, reset, true, errShuttingDown},
		{"read deadline", os.ErrDeadlineExceeded, os.ErrDeadlineExceeded, false, errReadTimeout},
		{"a decoder over a timed-out connection", io.ErrUnexpectedEOF, timeoutError{}, false, errReadTimeout},
		{"the decoder fails, the connection is fine", corrupt, nil, false, &bodyError{encoding: "gzip", err: corrupt}},
		{"the connection fails", reset, reset, false, &bodyError{err: reset}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, readFailure(tt.err, tt.wireErr, "gzip", tt.draining))
		})
	}
}
