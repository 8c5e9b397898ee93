package rules

import (
	"encoding/json"

	"github.com/sre-copilot/incident-collector/internal/incident"
)

// hold stores a's instance without an incident: silence s holds it.
func (r *run) hold(a *Alert, s *Silence) *Member {
	m := r.newMember(a)
	m.SilenceID = s.ID
	held, err := json.Marshal(a)
	if err != nil {
		// An Alert is strings and times: it always encodes.
		panic("rules: encoding a held alert: " + err.Error())
	}
	m.Held = string(held)
	r.st.AddMember(m)
	return m
}

func silenced(m *Member) incident.Outcome {
	return incident.Outcome{Verdict: incident.VerdictSilenced, Title: m.Title, SilenceID: m.SilenceID}
}

// release opens the incident of an alert a silence held (Member.Held), as
// if it had just arrived, detected when it started, once no active silence
// holds it. One that resolved, or was released already, is unchanged;
// another active silence that matches holds it on.
func (r *run) release(a *Alert, g GroupRef) incident.Outcome {
	m := r.st.members[a.Instance()]
	if m == nil || !m.held() || m.Status != StatusFiring {
		return incident.Outcome{Verdict: incident.VerdictUnchanged}
	}
	if s := r.st.silences.Holding(a.Scope, a.Labels, r.now, m.SilenceID); s != nil {
		m.SilenceID = s.ID
		m.touch()
		return silenced(m)
	}
	note := "held by silence " + m.SilenceID
	if inc := r.st.open[g]; inc != nil {
		r.join(inc, a, m)
		r.st.queue(Event{IncidentID: inc.ID, Name: EventAlertAdded, Key: addedKey(a), Fingerprint: a.Fingerprint, Note: note})
		return outcome(incident.VerdictGrouped, inc)
	}
	return r.open(a, g, m, note)
}
