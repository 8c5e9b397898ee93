package incidentexporter // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter"

import (
	"encoding/json"
	"errors"
	"net/http"

	"go.opentelemetry.io/collector/consumer/consumererror"

	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/store"
)

// errorBody is every error's JSON, as on the webhook port.
type errorBody struct {
	Detail string `json:"detail"`
}

// writeJSON answers body as JSON. Answers hold incidents, which only the
// token's holder may see: no cache keeps them.
func writeJSON(w http.ResponseWriter, status int, body any) {
	out, err := json.Marshal(body)
	if err != nil {
		// Our own answer types always encode; this is for the impossible case.
		status, out = http.StatusInternalServerError, []byte(`{"detail":"Could not encode the answer"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(out, '\n'))
}

func failJSON(w http.ResponseWriter, status int, detail string) {
	writeJSON(w, status, errorBody{Detail: detail})
}

// Store failures as people are told them.
const (
	detailStoreDown  = "The incident store could not answer now, retry later"
	detailStoreValue = "The incident store refused a value of the request"
)

// storeFailure maps a store error to its answer: a bad value is the
// request's fault (400); anything else may pass (503 + Retry-After).
func storeFailure(w http.ResponseWriter, err error, fail func(http.ResponseWriter, int, string)) {
	if consumererror.IsPermanent(err) {
		fail(w, http.StatusBadRequest, detailStoreValue)
		return
	}
	w.Header().Set("Retry-After", apiRetryAfter)
	fail(w, http.StatusServiceUnavailable, detailStoreDown)
}

// notFound: the answer for an id no incident has.
func notFound(w http.ResponseWriter, id string, fail func(http.ResponseWriter, int, string)) {
	fail(w, http.StatusNotFound, "Incident not found: "+id)
}

// isNotFound: the store has no such incident.
func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
