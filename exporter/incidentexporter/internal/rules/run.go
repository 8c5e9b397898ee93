package rules

import (
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/sre-copilot/incident-collector/internal/incident"
)

// run applies operations to one transaction's state.
type run struct {
	*Config
	st  *State
	now time.Time
}

// Run applies ops, in order, to st at now (the transaction's clock) and
// returns one outcome per op. A sweep's op that finds nothing to do (the
// incident was touched since, the heartbeat came back) is
// incident.VerdictUnchanged.
func (c *Config) Run(st *State, ops []Op, now time.Time) []incident.Outcome {
	r := run{Config: c, st: st, now: now}
	out := make([]incident.Outcome, len(ops))
	for i := range ops {
		out[i] = r.apply(&ops[i])
	}
	return out
}

func (r *run) apply(o *Op) incident.Outcome {
	switch o.Kind {
	case KindAlert:
		a := o.Alert
		var out incident.Outcome
		switch {
		case r.isHeartbeat(a):
			out = r.heartbeat(a)
		case a.Status == incident.StatusResolved:
			out = r.resolve(a)
		case a.Status == incident.StatusAcknowledged:
			out = r.acknowledgeAlert(a)
		default:
			out = r.fire(a, o.group)
		}
		out.Fingerprint = a.Fingerprint
		return out
	case KindRelease:
		out := r.release(o.Alert, o.group)
		out.Fingerprint = o.Alert.Fingerprint
		return out
	case KindAutoResolve:
		return r.autoResolve(o.IncidentID, o.Cutoff)
	case KindHeartbeatCheck:
		return r.heartbeatMissing(o.Scope())
	case KindForgetScope:
		return r.forgetScope(o.Scope(), o.Reason)
	case KindAcknowledge, KindUnacknowledge, KindResolve:
		if r.st.incidents[o.IncidentID] == nil {
			// The store reads the incident before it runs an action on it.
			panic("rules: an action on an incident that was not read: " + o.IncidentID)
		}
		switch o.Kind {
		case KindAcknowledge:
			return r.acknowledge(o)
		case KindUnacknowledge:
			return r.unacknowledge(o)
		default:
			return r.manualResolve(o)
		}
	default:
		panic(fmt.Sprintf("rules: operation of unknown kind %d", o.Kind))
	}
}

func outcome(v incident.Verdict, inc *Incident) incident.Outcome {
	return incident.Outcome{Verdict: v, IncidentID: inc.ID, Title: inc.Title}
}

// seen counts one more notification of an incident.
func (r *run) seen(inc *Incident) {
	inc.Occurrences++
	inc.LastSeenAt = r.now
	inc.touch()
}

// memberSeen counts one more notification of an instance.
func (r *run) memberSeen(m *Member) {
	m.Occurrences++
	m.LastSeenAt = r.now
	m.touch()
}

func later(a, b time.Time) time.Time {
	if a.Before(b) {
		return b
	}
	return a
}

// newID is a UUIDv7: time-ordered, so incidents sort by creation.
func newID() string {
	// NewV7 fails only when the system's random source does, which Go
	// treats as fatal already.
	return uuid.Must(uuid.NewV7()).String()
}
