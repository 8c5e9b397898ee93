package incident

import (
	"context"
	"sync"
)

// Verdict is what the store did with one alert.
type Verdict string

const (
	// VerdictCreated: a new open incident.
	VerdictCreated Verdict = "created"
	// VerdictDuplicate: the alert belongs to an incident that already exists.
	VerdictDuplicate Verdict = "duplicate"
	// VerdictResolved: the open incident was resolved.
	VerdictResolved Verdict = "resolved"
	// VerdictIgnored: a resolved notification with no open incident to close.
	VerdictIgnored Verdict = "ignored"
)

// Outcome is the store's verdict on one alert.
type Outcome struct {
	Verdict     Verdict
	IncidentID  string
	Title       string
	Fingerprint string
}

// Recorder collects the outcomes the exporter reports for one webhook request.
// The receiver creates it, puts it in the request context and closes it when it
// answers; reports that arrive after that (an asynchronous pipeline delivered
// the records late) are dropped, since the sender already has its answer.
type Recorder struct {
	mu       sync.Mutex
	closed   bool
	outcomes []Outcome
}

// NewRecorder returns an open recorder.
func NewRecorder() *Recorder { return &Recorder{} }

// Record adds outcomes. It reports false when the recorder was already closed.
func (r *Recorder) Record(outcomes ...Outcome) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.outcomes = append(r.outcomes, outcomes...)
	return true
}

// Close seals the recorder and returns what was recorded, in report order.
// Later calls return nil.
func (r *Recorder) Close() []Outcome {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	out := r.outcomes
	r.outcomes = nil
	return out
}

type recorderKey struct{}

// ContextWithRecorder returns a context that carries r to the exporter.
func ContextWithRecorder(ctx context.Context, r *Recorder) context.Context {
	return context.WithValue(ctx, recorderKey{}, r)
}

// RecorderFromContext returns the recorder put in ctx by the receiver, or nil.
func RecorderFromContext(ctx context.Context) *Recorder {
	r, _ := ctx.Value(recorderKey{}).(*Recorder)
	return r
}
