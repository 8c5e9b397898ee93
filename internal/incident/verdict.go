package incident

import (
	"context"
	"sync"
)

// Verdict is what the store did with one operation: an alert, a sweep's
// check, a person's action.
type Verdict string

const (
	// VerdictCreated: a new open incident.
	VerdictCreated Verdict = "created"
	// VerdictDuplicate: the alert belongs to an incident that already exists.
	VerdictDuplicate Verdict = "duplicate"
	// VerdictResolved: the open incident was resolved.
	VerdictResolved Verdict = "resolved"
	// VerdictIgnored: a resolved notification with no firing alert to close,
	// or an action that does not apply (Outcome.Reason says why: an
	// acknowledgement of a resolved incident).
	VerdictIgnored Verdict = "ignored"
	// VerdictGrouped: a new alert joined the open incident of its group.
	VerdictGrouped Verdict = "grouped"
	// VerdictReopened: a new alert reopened its group's incident, resolved
	// less than reopen_window before the alert started (flapping).
	VerdictReopened Verdict = "reopened"
	// VerdictAlertResolved: the alert was resolved, and its incident stays
	// open because other alerts of the group still fire.
	VerdictAlertResolved Verdict = "alert_resolved"
	// VerdictHeartbeat: a firing heartbeat alert refreshed its scope's
	// heartbeat; it is not an incident. When it also resolved the scope's
	// heartbeat incident, Outcome.IncidentID names that incident.
	VerdictHeartbeat Verdict = "heartbeat"
	// VerdictSilenced: a firing alert that would have opened an incident
	// matched an active silence: it is stored, held by the silence
	// (Outcome.SilenceID), and opens no incident while the silence lasts.
	VerdictSilenced Verdict = "silenced"
	// VerdictAcknowledged: a person (through the incident API) or a sender
	// (PagerDuty's event_action acknowledge) acknowledged an open incident.
	VerdictAcknowledged Verdict = "acknowledged"
	// VerdictUnacknowledged: a person took an acknowledgement back; the
	// incident is open again.
	VerdictUnacknowledged Verdict = "unacknowledged"
	// VerdictUnchanged: a sweep's check found nothing to do (the incident
	// was touched since the sweep looked, the heartbeat came back).
	VerdictUnchanged Verdict = "unchanged"
	// VerdictRejected: the exporter could not store the record faithfully
	// (Outcome.Reason says why); nothing was written for it.
	VerdictRejected Verdict = "rejected"
)

// Outcome is the store's verdict on one alert.
type Outcome struct {
	Verdict     Verdict
	IncidentID  string
	Title       string
	Fingerprint string
	// Reason says why a record was rejected; empty otherwise.
	Reason string
	// SilenceID is the silence that holds a silenced alert.
	SilenceID string
	// Index is a rejected record's webhook.alert.index, -1 when it has none.
	Index int
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
