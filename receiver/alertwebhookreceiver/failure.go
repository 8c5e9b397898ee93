package alertwebhookreceiver // import "github.com/sre-copilot/incident-collector/receiver/alertwebhookreceiver"

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/consumer/consumererror"
)

// A request that cannot be answered 200 returns one of the errors below up
// to failureOf, which turns it into its answer: the README's table
// (Endpoints and answers) in one place. A 4xx is for what can never succeed
// (senders do not retry it); what may succeed later is a 503 with
// Retry-After (Alertmanager retries only 5xx).

// failure is the answer to a request that failed.
type failure struct {
	status     int
	detail     string
	retryAfter string // seconds, for Retry-After; empty for none
	allow      string // the Allow header of a 405
	// problems are what is wrong with a payload (400), one by one, as
	// PagerDuty lists them in errors.
	problems []string
	// refusal is the auth_failures reason of a 403.
	refusal string
}

// retryAfterUnavailable is what a 503 asks the sender to wait, in seconds.
const retryAfterUnavailable = "5"

var (
	// errShuttingDown: the collector takes no more requests into the pipeline.
	errShuttingDown = errors.New("the collector is shutting down")
	// errReadTimeout: the body did not arrive within read_timeout.
	errReadTimeout = errors.New("request body not complete within the read timeout")
	// errNotAuthenticated: an http.auth extension refused the request. Its
	// own message can name what it checked, so it is not kept.
	errNotAuthenticated = errors.New("not authenticated by the collector's authenticator")
)

// notFoundError is a path that leads to no endpoint; detail says why.
type notFoundError struct{ detail string }

func (e *notFoundError) Error() string { return e.detail }

// methodError is a method the path does not take.
type methodError struct {
	method string
	want   string // the method to use
	allow  string // every method the path takes
}

func (e *methodError) Error() string { return "method " + e.method + " not allowed" }

// refusal is a sender that is not authenticated or not from an allowed
// address; reason is the auth_failures metric's.
type refusal struct{ reason string }

func (e *refusal) Error() string { return "sender refused: " + e.reason }

// rateLimited is a request past its endpoint's token bucket.
type rateLimited struct{ wait int } // seconds until a token is there

func (e *rateLimited) Error() string { return fmt.Sprintf("rate limited for %d s", e.wait) }

// unsupportedError is a header whose value the receiver does not take.
type unsupportedError struct {
	header   string // Content-Type or Content-Encoding
	value    string
	accepted string // what to send instead
}

func (e *unsupportedError) Error() string {
	return "unsupported " + e.header + " " + strconv.Quote(truncate(e.value, 64))
}

// tooManyAlertsError is a notification of more than limit alerts.
type tooManyAlertsError struct{ limit int }

func (e *tooManyAlertsError) Error() string {
	return fmt.Sprintf("more than %d alerts in one request", e.limit)
}

// bodyError is a body that could not be decoded (encoding is set) or read
// (the connection failed: nobody may be left to read the answer).
type bodyError struct {
	encoding string
	err      error
}

func (e *bodyError) Error() string {
	if e.encoding != "" {
		return "decoding the " + e.encoding + " request body: " + e.err.Error()
	}
	return "reading the request body: " + e.err.Error()
}

func (e *bodyError) Unwrap() error { return e.err }

// invalidEventError is a PagerDuty event that breaks the Events API's rules:
// each problem is named, as PagerDuty does.
type invalidEventError struct{ problems []string }

func (e *invalidEventError) Error() string {
	return "invalid PagerDuty event: " + strings.Join(e.problems, "; ")
}

// storeRejectedError is a request every alert of which the exporter
// rejected: it can never be stored (index and reason of the first).
type storeRejectedError struct {
	index  int
	reason string
}

func (e *storeRejectedError) Error() string {
	return fmt.Sprintf("alerts[%d]: %s", e.index, e.reason)
}

// pipelineError is the pipeline refusing the records.
type pipelineError struct{ err error }

func (e *pipelineError) Error() string { return "pipeline refused the alerts: " + e.err.Error() }

func (e *pipelineError) Unwrap() error { return e.err }

// statusError is a request confighttp refused before the receiver saw it.
type statusError struct{ status int }

func (e *statusError) Error() string {
	return "refused by the HTTP server: " + http.StatusText(e.status)
}

// failureOf says how a request that failed with err is answered.
func failureOf(err error) failure {
	var (
		notFound    *notFoundError
		method      *methodError
		refused     *refusal
		limited     *rateLimited
		unsupported *unsupportedError
		tooLarge    *http.MaxBytesError
		tooMany     *tooManyAlertsError
		unreadable  *bodyError
		invalid     *payloadError
		badEvent    *invalidEventError
		rejected    *storeRejectedError
		pipeline    *pipelineError
		status      *statusError
	)
	unavailable := func(detail string) failure {
		return failure{status: http.StatusServiceUnavailable, detail: detail, retryAfter: retryAfterUnavailable}
	}
	switch {
	case errors.As(err, &notFound):
		return failure{status: http.StatusNotFound, detail: notFound.detail}
	case errors.As(err, &method):
		return failure{
			status: http.StatusMethodNotAllowed, allow: method.allow,
			detail: "Method " + truncate(method.method, 16) + " not allowed: use " + method.want,
		}
	case errors.Is(err, errNotAuthenticated):
		return failure{status: http.StatusUnauthorized, detail: "Not authenticated by the collector's authenticator"}
	case errors.As(err, &refused):
		return failure{status: http.StatusForbidden, detail: refusalDetails[refused.reason], refusal: refused.reason}
	case errors.As(err, &limited):
		return failure{
			status: http.StatusTooManyRequests, retryAfter: strconv.Itoa(limited.wait),
			detail: fmt.Sprintf("Too many webhook requests. Please retry after %d seconds.", limited.wait),
		}
	case errors.As(err, &unsupported):
		return failure{
			status: http.StatusUnsupportedMediaType,
			detail: "Unsupported " + unsupported.header + " " + strconv.Quote(truncate(unsupported.value, 64)) + ": " + unsupported.accepted,
		}
	case errors.As(err, &tooLarge):
		return failure{status: http.StatusRequestEntityTooLarge, detail: fmt.Sprintf("Request body exceeds the limit of %d bytes", tooLarge.Limit)}
	case errors.As(err, &tooMany):
		return failure{status: http.StatusRequestEntityTooLarge, detail: fmt.Sprintf(
			"Request has more than %d alerts, the limit of max_alerts_per_request: split the notification (a finer group_by) or raise the limit", tooMany.limit)}
	case errors.Is(err, errBudgetExhausted):
		return unavailable("Too many request bodies from unauthenticated senders in flight, retry later")
	case errors.Is(err, errShuttingDown):
		return unavailable("The collector is shutting down, retry later")
	case errors.Is(err, errReadTimeout):
		// The sender can try again; a 4xx would make Alertmanager drop the notification.
		return unavailable("The request body did not arrive within the read timeout, retry")
	case errors.As(err, &unreadable):
		if unreadable.encoding != "" {
			return failure{status: http.StatusBadRequest, detail: "Could not decode the " + unreadable.encoding + " request body: " + truncate(unreadable.err.Error(), 200)}
		}
		return failure{status: http.StatusBadRequest, detail: "Could not read the request body: " + truncate(unreadable.err.Error(), 200)}
	case errors.As(err, &invalid):
		return failure{status: http.StatusBadRequest, detail: invalid.Error(), problems: []string{invalid.msg}}
	case errors.As(err, &badEvent):
		return failure{status: http.StatusBadRequest, detail: "Invalid webhook payload: " + strings.Join(badEvent.problems, "; "), problems: badEvent.problems}
	case errors.As(err, &rejected):
		return failure{status: http.StatusBadRequest, detail: "Invalid webhook payload: " + rejected.Error(), problems: []string{rejected.reason}}
	case errors.As(err, &pipeline):
		if consumererror.IsPermanent(pipeline.err) {
			// The same request can never succeed: a 4xx stops the sender's retries.
			return failure{status: http.StatusBadRequest, detail: "Alerts rejected permanently by the collector pipeline"}
		}
		// A store outage must never be a 4xx.
		return unavailable("Alerts could not be stored now, retry later")
	case errors.As(err, &status):
		return failure{status: status.status, detail: http.StatusText(status.status)}
	}
	return failure{status: http.StatusInternalServerError, detail: "Internal error"}
}

// body is the answer's JSON body: {"detail"} for every endpoint but
// PagerDuty's, whose senders read PagerDuty's own error shape.
func (f failure) body(kind payloadKind) any {
	if kind == kindPagerDuty {
		return pagerDutyError(f)
	}
	return errorBody{Detail: f.detail}
}

// readFailure says why a body could not be read, first match first: over the
// limit (as decoded or as sent), over the budget, cut off by shutdown, too
// slow, not decodable (the connection is fine, the decoder is not), or a
// connection that failed. wireErr is the connection's own error, if any.
func readFailure(err, wireErr error, encoding string, draining bool) error {
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge) || errors.As(wireErr, &tooLarge):
		return tooLarge
	case errors.Is(err, errBudgetExhausted):
		return errBudgetExhausted
	case draining:
		return errShuttingDown
	case isTimeout(err) || isTimeout(wireErr):
		return errReadTimeout
	case wireErr == nil:
		return &bodyError{encoding: encoding, err: err}
	}
	return &bodyError{err: err}
}

// isTimeout: a read deadline passed.
func isTimeout(err error) bool {
	var ne net.Error
	return err != nil && (errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout())
}
