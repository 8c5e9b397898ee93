package rules

import (
	"time"

	"github.com/sre-copilot/incident-collector/internal/incident"
)

// A person's actions on an incident (the incident API). They run in the same
// transactions, under the same group locks, as the alerts: an action racing
// an alert ends in one state, which both outcomes report.

// reasonResolved is why an action does not apply to a resolved incident.
const reasonResolved = "Incident is resolved"

// acknowledge records that a person took an open incident. The first
// acknowledgement stays: again is unchanged.
func (r *run) acknowledge(o *Op) incident.Outcome {
	return r.acknowledgeIncident(r.st.incidents[o.IncidentID], o.By, o.Note)
}

// acknowledgeAlert is a sender's acknowledgement (PagerDuty's event_action
// acknowledge): it acknowledges the open incident holding the alert, and is
// ignored when no incident holds it firing.
func (r *run) acknowledgeAlert(a *Alert) incident.Outcome {
	m := r.st.firing[a.Ref()]
	if m == nil || m.held() {
		return incident.Outcome{Verdict: incident.VerdictIgnored, Title: a.Title, Reason: "No open incident for this alert"}
	}
	return r.acknowledgeIncident(r.st.incidents[m.IncidentID], a.Source, "acknowledged by the sender")
}

func (r *run) acknowledgeIncident(inc *Incident, by, note string) incident.Outcome {
	switch {
	case inc.Status == StatusResolved:
		return incident.Outcome{Verdict: incident.VerdictIgnored, IncidentID: inc.ID, Title: inc.Title, Reason: reasonResolved}
	case !inc.AcknowledgedAt.IsZero():
		return outcome(incident.VerdictUnchanged, inc)
	}
	inc.AcknowledgedAt, inc.AcknowledgedBy = r.now, by
	inc.touch()
	r.st.queue(Event{IncidentID: inc.ID, Name: EventAcknowledged, Key: r.now.Format(time.RFC3339Nano), By: by, Note: note})
	return outcome(incident.VerdictAcknowledged, inc)
}

// unacknowledge takes an acknowledgement back: the incident is open again.
func (r *run) unacknowledge(o *Op) incident.Outcome {
	inc := r.st.incidents[o.IncidentID]
	switch {
	case inc.Status == StatusResolved:
		return incident.Outcome{Verdict: incident.VerdictIgnored, IncidentID: inc.ID, Title: inc.Title, Reason: reasonResolved}
	case inc.AcknowledgedAt.IsZero():
		return outcome(incident.VerdictUnchanged, inc)
	}
	inc.AcknowledgedAt, inc.AcknowledgedBy = time.Time{}, ""
	inc.touch()
	r.st.queue(Event{IncidentID: inc.ID, Name: EventUnacknowledged, Key: r.now.Format(time.RFC3339Nano), By: o.By, Note: o.Note})
	return outcome(incident.VerdictUnacknowledged, inc)
}

// manualResolve resolves an incident now, with its firing alerts; a
// resolved one is unchanged. A repeat of one of its alert instances is then
// a duplicate (the instance is resolved); a new instance opens a new
// incident, or reopens this one within reopen_window.
func (r *run) manualResolve(o *Op) incident.Outcome {
	inc := r.st.incidents[o.IncidentID]
	if inc.Status == StatusResolved {
		return outcome(incident.VerdictUnchanged, inc)
	}
	r.resolveIncident(inc, r.now, Event{Reason: ReasonManual, By: o.By, Note: o.Note})
	return outcome(incident.VerdictResolved, inc)
}
