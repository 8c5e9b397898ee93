package rules

import (
	"strconv"
	"time"

	"github.com/sre-copilot/incident-collector/internal/incident"
)

// resolveIncident resolves inc at endsAt (never before it was detected),
// and every instance of it that still fires (the store read them all:
// Reads). why is the resolved event without its name: the reason, and the
// person of a manual resolve.
func (r *run) resolveIncident(inc *Incident, endsAt time.Time, why Event) {
	inc.Status, inc.ResolvedAt, inc.Reason = StatusResolved, later(endsAt, inc.DetectedAt), why.Reason
	inc.ResolvedBy = why.By
	inc.FiringAlerts = 0
	inc.touch()
	for _, m := range r.st.firingMembers(inc) {
		r.resolveMember(m, inc.ResolvedAt)
		r.st.queue(Event{IncidentID: inc.ID, Name: EventAlertResolved, Fingerprint: m.Ref.Fingerprint})
	}
	g := inc.Group()
	delete(r.st.open, g)
	r.st.latest[g] = inc
	why.IncidentID, why.Name = inc.ID, EventResolved
	if inc.ReopenCount > 0 {
		why.Key = strconv.FormatInt(inc.ReopenCount, 10)
	}
	r.st.queue(why)
}

// autoResolve resolves an incident no notification touched since cutoff
// (auto_resolve_after): a lost "resolved" must not leave it open forever.
func (r *run) autoResolve(id string, cutoff time.Time) incident.Outcome {
	inc := r.st.incidents[id]
	if inc == nil || inc.Status != StatusOpen || !inc.LastSeenAt.Before(cutoff) {
		// Touched or resolved since the sweep looked.
		return incident.Outcome{Verdict: incident.VerdictUnchanged, IncidentID: id}
	}
	r.resolveIncident(inc, r.now, Event{Reason: ReasonAutoResolved})
	return outcome(incident.VerdictResolved, inc)
}
