package rules

import (
	"strconv"
	"time"

	"github.com/sre-copilot/incident-collector/internal/incident"
)

// fire applies a firing alert of group g.
func (r *run) fire(a *Alert, g GroupRef) incident.Outcome {
	// This instance is known: a repeat (repeat_interval), a retry, an HA
	// echo; or, resolved, a stale retry or a late echo, which stays resolved.
	if m := r.st.members[a.Instance()]; m != nil {
		if m.held() {
			if m.Status == StatusFiring {
				r.memberSeen(m)
			}
			return silenced(m)
		}
		if m.Status == StatusFiring {
			r.memberSeen(m)
			r.seen(r.st.incidents[m.IncidentID])
		}
		return incident.Outcome{Verdict: incident.VerdictDuplicate, IncidentID: m.IncidentID, Title: m.Title}
	}
	if m := r.st.firing[a.Ref()]; m != nil {
		if !m.held() {
			return r.fireAgain(a, m)
		}
		if a.StartUnknown || !a.StartsAt.After(m.Ref.StartsAt) {
			r.memberSeen(m)
			return silenced(m)
		}
		// A newer instance of a held alert: the held one ends, and the new
		// one is a new alert.
		r.resolveMember(m, a.StartsAt)
	}
	if inc := r.st.open[g]; inc != nil {
		// A new alert of a group with an open incident joins it: silences
		// never hide what exists.
		r.join(inc, a, r.addMember(inc, a))
		r.st.queue(Event{IncidentID: inc.ID, Name: EventAlertAdded, Key: addedKey(a), Fingerprint: a.Fingerprint})
		return outcome(incident.VerdictGrouped, inc)
	}
	if s := r.st.silences.Holding(a.Scope, a.Labels, r.now, ""); s != nil {
		// It would open an incident, in a maintenance window: held.
		return silenced(r.hold(a, s))
	}
	return r.open(a, g, nil, "")
}

// open opens the group's incident for a new alert (reopening the latest one
// when it flaps), with m as its member: a held instance, or nil for a new
// one. note goes on the timeline.
func (r *run) open(a *Alert, g GroupRef, m *Member, note string) incident.Outcome {
	if r.reopens(g, a.StartsAt) {
		// The group's incident resolved moments ago: the same problem flaps.
		inc := r.st.latest[g]
		delete(r.st.latest, g)
		r.st.open[g] = inc
		// A new occurrence of the problem: whoever acknowledged or resolved
		// the last one has not seen this one.
		inc.Status, inc.ResolvedAt, inc.Reason, inc.ResolvedBy = StatusOpen, time.Time{}, "", ""
		inc.AcknowledgedAt, inc.AcknowledgedBy = time.Time{}, ""
		inc.ReopenCount++
		if m == nil {
			m = r.addMember(inc, a)
		}
		r.join(inc, a, m)
		r.st.queue(Event{IncidentID: inc.ID, Name: EventReopened, Key: strconv.FormatInt(inc.ReopenCount, 10), Fingerprint: a.Fingerprint, Note: note})
		return outcome(incident.VerdictReopened, inc)
	}
	inc := r.create(g, a)
	if m == nil {
		r.addMember(inc, a)
	} else {
		r.attach(m, inc)
	}
	r.st.queue(Event{IncidentID: inc.ID, Name: EventCreated, Fingerprint: a.Fingerprint, Note: note})
	return outcome(incident.VerdictCreated, inc)
}

func addedKey(a *Alert) string {
	return a.Fingerprint + "@" + a.StartsAt.UTC().Format(time.RFC3339Nano)
}

// fireAgain applies an alert that has a firing instance m, with another
// start. An older start, or none stated: a repeat or a late message about an
// instance that ended, and the firing one stands. A newer one: the alert
// ended and fired again, or the sender restarted and lost its state. Either
// way it is the same problem, still going on: the new instance takes the old
// one's place in its incident, and the old one ends when the new one started.
func (r *run) fireAgain(a *Alert, m *Member) incident.Outcome {
	inc := r.st.incidents[m.IncidentID]
	r.seen(inc)
	if a.StartUnknown || !a.StartsAt.After(m.Ref.StartsAt) {
		r.memberSeen(m)
		return outcome(incident.VerdictDuplicate, inc)
	}
	r.resolveMember(m, a.StartsAt)
	inc.AlertCount++
	r.raiseSeverity(inc, a.Severity)
	r.addMember(inc, a)
	return outcome(incident.VerdictDuplicate, inc)
}

// raiseSeverity makes inc at least as severe as a new alert of it.
func (r *run) raiseSeverity(inc *Incident, severity string) {
	from := inc.Severity
	if inc.Severity = incident.HigherSeverity(from, severity); inc.Severity != from {
		r.st.queue(Event{IncidentID: inc.ID, Name: EventEscalated, From: from})
	}
}

// join counts a new firing member m of an open incident.
func (r *run) join(inc *Incident, a *Alert, m *Member) {
	r.attach(m, inc)
	inc.AlertCount++
	inc.FiringAlerts++
	r.raiseSeverity(inc, a.Severity)
	r.seen(inc)
}

// addMember records a's instance, firing, in inc.
func (r *run) addMember(inc *Incident, a *Alert) *Member {
	m := r.newMember(a)
	m.IncidentID = inc.ID
	r.st.AddMember(m)
	return m
}

func (r *run) newMember(a *Alert) *Member {
	return &Member{
		Ref: a.Instance(), Status: StatusFiring, Title: a.Title, FirstSeenAt: r.now, LastSeenAt: r.now,
		Occurrences: 1, Severity: a.Severity, Labels: a.Labels, Annotations: a.Annotations, Change: Created,
	}
}

// attach makes m a member of inc; a held instance is held no more.
func (r *run) attach(m *Member, inc *Incident) {
	if m.IncidentID == inc.ID {
		return
	}
	m.IncidentID, m.Held = inc.ID, ""
	m.touch()
}

// reopens: g's latest incident resolved less than reopen_window before the
// alert started (an alert that started before it resolved is another
// story: a late message, not a flap).
func (r *run) reopens(g GroupRef, startsAt time.Time) bool {
	latest := r.st.latest[g]
	if r.ReopenWindow <= 0 || latest == nil {
		return false
	}
	gap := startsAt.Sub(latest.ResolvedAt)
	return gap >= 0 && gap < r.ReopenWindow
}

// create opens a new incident for g with a as its first alert.
func (r *run) create(g GroupRef, a *Alert) *Incident {
	return r.addIncident(&Incident{
		ID: newID(), Scope: g.Scope, GroupKey: g.Key, Fingerprint: a.Fingerprint, Title: a.Title,
		Severity: a.Severity, Status: StatusOpen, DetectedAt: a.StartsAt, LastSeenAt: r.now,
		Occurrences: 1, AlertCount: 1, FiringAlerts: 1,
		Project: a.Project, Source: a.Source, Description: a.Description, ServiceName: a.ServiceName,
		Labels: a.Labels, Annotations: a.Annotations, GeneratorURL: a.GeneratorURL,
	})
}

// addIncident adds a new incident as its group's open one, linked to the
// group's previous incident.
func (r *run) addIncident(inc *Incident) *Incident {
	if prev := r.st.latest[inc.Group()]; prev != nil {
		inc.PreviousID = prev.ID
	}
	inc.Change = Created
	return r.st.AddIncident(inc)
}

// resolve applies a resolved alert: its firing instance resolves, and its
// incident with it when resolve_on says so.
func (r *run) resolve(a *Alert) incident.Outcome {
	m := r.st.firing[a.Ref()]
	// Nothing fires: a re-sent resolve, a resolve for an alert never seen,
	// or a late one about an older instance than the one firing now.
	if m == nil || (!a.StartUnknown && m.Ref.StartsAt.After(a.StartsAt)) {
		return incident.Outcome{Verdict: incident.VerdictIgnored, Title: a.Title}
	}
	if m.held() {
		// It ended within its maintenance window: no incident ever was.
		r.resolveMember(m, endOf(a, r.now))
		return incident.Outcome{Verdict: incident.VerdictIgnored, Title: a.Title, SilenceID: m.SilenceID}
	}
	inc := r.st.incidents[m.IncidentID]
	endsAt := endOf(a, r.now)
	r.resolveMember(m, endsAt)
	r.st.queue(Event{IncidentID: inc.ID, Name: EventAlertResolved, Fingerprint: a.Fingerprint})
	inc.FiringAlerts--
	inc.LastSeenAt = r.now
	inc.touch()
	if r.ResolveOn == ResolveOnFirst || inc.FiringAlerts <= 0 {
		r.resolveIncident(inc, endsAt, Event{Reason: ReasonAlertResolved})
		return outcome(incident.VerdictResolved, inc)
	}
	return outcome(incident.VerdictAlertResolved, inc)
}

// resolveMember ends a firing instance at endsAt, never before it started.
func (r *run) resolveMember(m *Member, endsAt time.Time) {
	m.Status, m.EndsAt, m.LastSeenAt = StatusResolved, later(endsAt, m.Ref.StartsAt), r.now
	m.touch()
	delete(r.st.firing, m.Ref.AlertRef)
}

// endOf is when a resolved alert ended: as its sender says, else now, and
// never in the future (a clock ahead, or a made-up end).
func endOf(a *Alert, now time.Time) time.Time {
	if a.EndsAt.IsZero() || a.EndsAt.After(now) {
		return now
	}
	return a.EndsAt
}
