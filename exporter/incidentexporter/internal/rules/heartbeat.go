package rules

import (
	"fmt"
	"time"

	"github.com/sre-copilot/incident-collector/internal/incident"
)

// heartbeat applies a heartbeat alert: firing, it refreshes its scope's
// heartbeat and resolves the scope's heartbeat incident, which the outcome
// then names; otherwise (resolved, acknowledged) it is not a heartbeat. It
// never becomes an incident.
func (r *run) heartbeat(a *Alert) incident.Outcome {
	if a.Status != incident.StatusFiring {
		return incident.Outcome{Verdict: incident.VerdictIgnored, Title: a.Title}
	}
	r.st.beats = append(r.st.beats, Beat{Scope: a.Scope, Alertname: a.AlertName})
	r.st.heartbeats[a.Scope] = r.now
	out := incident.Outcome{Verdict: incident.VerdictHeartbeat, Title: a.Title}
	if inc := r.st.open[GroupRef{a.Scope, heartbeatGroupKey}]; inc != nil {
		r.resolveIncident(inc, r.now, Event{Reason: ReasonHeartbeat})
		out.IncidentID = inc.ID
	}
	return out
}

// heartbeatMissing opens the scope's heartbeat incident when its last
// heartbeat is older than the timeout and none is open. Scopes that never
// sent one are not watched.
func (r *run) heartbeatMissing(scope string) incident.Outcome {
	last, watched := r.st.heartbeats[scope]
	g := GroupRef{scope, heartbeatGroupKey}
	if !watched || r.now.Sub(last) < r.HeartbeatTimeout || r.st.open[g] != nil {
		return incident.Outcome{Verdict: incident.VerdictUnchanged}
	}
	inc := r.addIncident(&Incident{
		ID: newID(), Scope: scope, GroupKey: heartbeatGroupKey, Fingerprint: "heartbeat",
		Title:    "Heartbeat missing: " + r.HeartbeatAlertname,
		Severity: incident.SeverityCritical, Status: StatusOpen, DetectedAt: r.now, LastSeenAt: r.now,
		Occurrences: 1, Source: SourceHeartbeat,
		Description: fmt.Sprintf("No %s heartbeat from integration %s since %s (heartbeat.timeout %s): its alerts may not be arriving.",
			r.HeartbeatAlertname, scope, last.UTC().Format(time.RFC3339), r.HeartbeatTimeout),
		Labels: "{}", Annotations: "{}",
	})
	r.st.queue(Event{IncidentID: inc.ID, Name: EventCreated})
	return outcome(incident.VerdictCreated, inc)
}

// forgetScope stops watching a scope's heartbeat: its integration is gone,
// or heartbeats are off, so nothing will resolve its heartbeat incident; it
// resolves for reason, and the heartbeat is forgotten so that no new one
// opens.
func (r *run) forgetScope(scope, reason string) incident.Outcome {
	r.st.forgotten = append(r.st.forgotten, scope)
	delete(r.st.heartbeats, scope)
	if inc := r.st.open[GroupRef{scope, heartbeatGroupKey}]; inc != nil {
		r.resolveIncident(inc, r.now, Event{Reason: reason})
		return outcome(incident.VerdictResolved, inc)
	}
	return incident.Outcome{Verdict: incident.VerdictUnchanged}
}
