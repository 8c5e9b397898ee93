package alertwebhookreceiver // import "github.com/sre-copilot/incident-collector/receiver/alertwebhookreceiver"

import (
	"github.com/sre-copilot/incident-collector/internal/incident"
)

// The JSON bodies of the webhook specification, plus additive fields.

type errorBody struct {
	Detail string `json:"detail"`
}

type incidentRef struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Fingerprint string `json:"fingerprint"`
}

type successBody struct {
	Status            string        `json:"status"`
	IncidentsCreated  int           `json:"incidents_created"`
	Incidents         []incidentRef `json:"incidents"`
	IncidentsResolved int           `json:"incidents_resolved"`
	IncidentsReopened int           `json:"incidents_reopened"`
	AlertsGrouped     int           `json:"alerts_grouped"`
	// AlertsResolved counts alerts resolved while their incident stays open
	// (README, Grouping: resolve_on: all); present when not zero.
	AlertsResolved int `json:"alerts_resolved,omitempty"`
	// Heartbeats counts heartbeat alerts (README, Heartbeats); present when
	// not zero.
	Heartbeats int `json:"heartbeats,omitempty"`
	// AlertsSilenced counts alerts a silence holds (README, Silences);
	// present when not zero.
	AlertsSilenced int         `json:"alerts_silenced,omitempty"`
	Duplicates     int         `json:"duplicates"`
	Rejected       []rejection `json:"rejected,omitempty"`
}

type silencedBody struct {
	Status      string      `json:"status"`
	Message     string      `json:"message"`
	Fingerprint string      `json:"fingerprint"`
	SilenceID   string      `json:"silence_id"`
	Rejected    []rejection `json:"rejected,omitempty"`
}

type duplicateBody struct {
	Status       string      `json:"status"`
	Message      string      `json:"message"`
	Fingerprint  string      `json:"fingerprint"`
	Fingerprints []string    `json:"fingerprints,omitempty"`
	Rejected     []rejection `json:"rejected,omitempty"`
}

type acceptedBody struct {
	Status         string      `json:"status"`
	AlertsReceived int         `json:"alerts_received"`
	Rejected       []rejection `json:"rejected,omitempty"`
}

type ignoredBody struct {
	Status      string      `json:"status"`
	Message     string      `json:"message"`
	Fingerprint string      `json:"fingerprint"`
	Rejected    []rejection `json:"rejected,omitempty"`
}

type healthBody struct {
	Status string `json:"status"`
}

// verdictBody builds the 200 answer from what the exporter reported: success
// when something changed (a heartbeat is a change, and the heartbeat incident
// it resolves counts as resolved), duplicate when nothing changed and some
// alert was already known, ignored when every alert was a resolve with
// nothing to resolve, silenced when a silence holds every alert, and
// accepted when nothing came back (an asynchronous
// pipeline, or processors that dropped every record). Alerts the exporter
// rejected are in rejected, never counted as stored.
func verdictBody(alerts int, outcomes []incident.Outcome, rejected []rejection) any {
	var body successBody
	body.Incidents = make([]incidentRef, 0, 1)
	changed, seen, silenced := false, 0, 0
	for _, o := range outcomes {
		seen++
		switch o.Verdict {
		case incident.VerdictCreated:
			body.Incidents = append(body.Incidents, incidentRef{ID: o.IncidentID, Title: o.Title, Fingerprint: o.Fingerprint})
		case incident.VerdictResolved:
			body.IncidentsResolved++
		case incident.VerdictReopened:
			body.IncidentsReopened++
		case incident.VerdictGrouped:
			body.AlertsGrouped++
		case incident.VerdictAlertResolved:
			body.AlertsResolved++
		case incident.VerdictHeartbeat:
			body.Heartbeats++
			if o.IncidentID != "" {
				// The heartbeat resolved its scope's heartbeat incident.
				body.IncidentsResolved++
			}
		case incident.VerdictSilenced:
			body.AlertsSilenced++
			silenced++
		case incident.VerdictDuplicate:
			body.Duplicates++
			continue
		default: // ignored, rejected
			seen--
			continue
		}
		changed = true
	}
	if len(outcomes) == 0 {
		return acceptedBody{Status: "accepted", AlertsReceived: alerts, Rejected: rejected}
	}
	if silenced == len(outcomes) {
		first := outcomes[0]
		return silencedBody{Status: "silenced", Message: "Alert silenced", Fingerprint: first.Fingerprint, SilenceID: first.SilenceID, Rejected: rejected}
	}
	if changed {
		body.Status = "success"
		body.IncidentsCreated = len(body.Incidents)
		body.Rejected = rejected
		return body
	}
	if seen == 0 {
		return ignoredBody{
			Status: "ignored", Message: "No open incident for this alert",
			Fingerprint: firstFingerprint(outcomes, incident.VerdictIgnored), Rejected: rejected,
		}
	}
	dup := duplicateBody{
		Status: "duplicate", Message: "Alert already processed",
		Fingerprint: firstFingerprint(outcomes, incident.VerdictDuplicate), Rejected: rejected,
	}
	if len(outcomes) > 1 {
		seenFP := make(map[string]bool, len(outcomes))
		for _, o := range outcomes {
			if o.Verdict == incident.VerdictDuplicate && !seenFP[o.Fingerprint] {
				seenFP[o.Fingerprint] = true
				dup.Fingerprints = append(dup.Fingerprints, o.Fingerprint)
			}
		}
	}
	return dup
}

func firstFingerprint(outcomes []incident.Outcome, v incident.Verdict) string {
	for _, o := range outcomes {
		if o.Verdict == v {
			return o.Fingerprint
		}
	}
	return ""
}
