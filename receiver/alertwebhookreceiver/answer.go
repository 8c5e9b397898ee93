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
	Duplicates        int           `json:"duplicates"`
	Rejected          []rejection   `json:"rejected,omitempty"`
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

type healthBody struct {
	Status string `json:"status"`
}

// verdictBody builds the 200 answer from what the exporter reported: success
// when something changed, duplicate when every alert was already known, and
// accepted when nothing came back (an asynchronous pipeline, or processors
// that dropped every record).
func verdictBody(alerts int, outcomes []incident.Outcome, rejected []rejection) any {
	if len(outcomes) == 0 {
		return acceptedBody{Status: "accepted", AlertsReceived: alerts, Rejected: rejected}
	}
	created := make([]incidentRef, 0, len(outcomes))
	resolved, duplicates := 0, 0
	for _, o := range outcomes {
		switch o.Verdict {
		case incident.VerdictCreated:
			created = append(created, incidentRef{ID: o.IncidentID, Title: o.Title, Fingerprint: o.Fingerprint})
		case incident.VerdictResolved:
			resolved++
		default:
			duplicates++
		}
	}
	if len(created) > 0 || resolved > 0 {
		return successBody{
			Status: "success", IncidentsCreated: len(created), Incidents: created,
			IncidentsResolved: resolved, Duplicates: duplicates, Rejected: rejected,
		}
	}
	body := duplicateBody{
		Status: "duplicate", Message: "Alert already processed",
		Fingerprint: outcomes[0].Fingerprint, Rejected: rejected,
	}
	if len(outcomes) > 1 {
		body.Fingerprints = make([]string, 0, len(outcomes))
		seen := make(map[string]bool, len(outcomes))
		for _, o := range outcomes {
			if !seen[o.Fingerprint] {
				seen[o.Fingerprint] = true
				body.Fingerprints = append(body.Fingerprints, o.Fingerprint)
			}
		}
	}
	return body
}
