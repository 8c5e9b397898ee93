package incidentexporter // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter"

import (
	"encoding/json"
	"time"

	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/rules"
	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/store"
	"github.com/sre-copilot/incident-collector/internal/incident"
)

// How incidents and their alerts look in JSON, in one place: the analysis
// notifications (and webhook sinks) carry incidentJSON and alertJSON, the
// incident API the same objects with more fields (apiIncident, apiAlert), so
// that a consumer of both reads one shape.

// incidentJSON is the analysis payload's incident (README, "Analysis
// trigger"). Its fields and their names are a published contract.
type incidentJSON struct {
	ID           string          `json:"id"`
	Title        string          `json:"title"`
	Description  string          `json:"description"`
	ServiceName  string          `json:"service_name"`
	Severity     string          `json:"severity"`
	Status       string          `json:"status"`
	DetectedAt   string          `json:"detected_at"`
	ResolvedAt   *string         `json:"resolved_at"`
	Fingerprint  string          `json:"fingerprint"`
	GroupKey     string          `json:"group_key"`
	AlertCount   int64           `json:"alert_count"`
	ReopenCount  int64           `json:"reopen_count"`
	Project      string          `json:"project"`
	Source       string          `json:"source"`
	Labels       json.RawMessage `json:"labels"`
	Annotations  json.RawMessage `json:"annotations"`
	GeneratorURL string          `json:"generator_url"`
}

// apiIncident is the incident API's incident: the analysis payload's, with
// status as people see it (open, acknowledged, resolved), plus what only
// the API shows. Absent values are null.
type apiIncident struct {
	incidentJSON
	DedupScope       string  `json:"dedup_scope"`
	ResolutionReason *string `json:"resolution_reason"`
	ResolvedBy       *string `json:"resolved_by"`
	AcknowledgedAt   *string `json:"acknowledged_at"`
	AcknowledgedBy   *string `json:"acknowledged_by"`
	LastSeenAt       string  `json:"last_seen_at"`
	Occurrences      int64   `json:"occurrences"`
	FiringAlerts     int64   `json:"firing_alerts"`
}

// alertJSON is one member alert of the analysis payload.
type alertJSON struct {
	Fingerprint string          `json:"fingerprint"`
	Status      string          `json:"status"`
	Title       string          `json:"title"`
	Severity    string          `json:"severity"`
	StartsAt    string          `json:"starts_at"`
	EndsAt      *string         `json:"ends_at"`
	Labels      json.RawMessage `json:"labels"`
}

// apiAlert is a member alert as the API shows it: the whole
// incident_alerts row.
type apiAlert struct {
	alertJSON
	Annotations json.RawMessage `json:"annotations"`
	FirstSeenAt string          `json:"first_seen_at"`
	LastSeenAt  string          `json:"last_seen_at"`
	Occurrences int64           `json:"occurrences"`
}

// apiEvent is one row of an incident's timeline.
type apiEvent struct {
	ID          int64   `json:"id"`
	At          string  `json:"at"`
	Event       string  `json:"event"`
	By          *string `json:"by"`
	Note        *string `json:"note"`
	Fingerprint *string `json:"fingerprint"`
}

// incidentJSONOf is an incident as notifications show it; status is the
// one people see (open, acknowledged, resolved).
func incidentJSONOf(in *rules.Incident) incidentJSON {
	return incidentJSON{
		ID: in.ID, Title: in.Title, Description: in.Description, ServiceName: in.ServiceName,
		Severity: in.Severity, Status: in.ShownStatus(), DetectedAt: in.DetectedAt.Format(incident.TimeLayout),
		ResolvedAt: formatOptional(in.ResolvedAt), Fingerprint: in.Fingerprint, GroupKey: in.GroupKey,
		AlertCount: in.AlertCount, ReopenCount: in.ReopenCount, Project: in.Project, Source: in.Source,
		GeneratorURL: in.GeneratorURL, Labels: rawJSON(in.Labels), Annotations: rawJSON(in.Annotations),
	}
}

func alertJSONOf(m *rules.Member) alertJSON {
	return alertJSON{
		Fingerprint: m.Ref.Fingerprint, Status: m.Status, Title: m.Title, Severity: m.Severity,
		StartsAt: m.Ref.StartsAt.Format(incident.TimeLayout), EndsAt: formatOptional(m.EndsAt), Labels: rawJSON(m.Labels),
	}
}

// apiIncidentOf is an incident as the API shows it.
func apiIncidentOf(in *rules.Incident) apiIncident {
	return apiIncident{
		incidentJSON: incidentJSONOf(in),
		DedupScope:   in.Scope, ResolutionReason: optionalString(in.Reason), ResolvedBy: optionalString(in.ResolvedBy),
		AcknowledgedAt: formatOptional(in.AcknowledgedAt), AcknowledgedBy: optionalString(in.AcknowledgedBy),
		LastSeenAt: in.LastSeenAt.Format(incident.TimeLayout), Occurrences: in.Occurrences, FiringAlerts: in.FiringAlerts,
	}
}

func apiAlertOf(m *rules.Member) apiAlert {
	return apiAlert{
		alertJSON:   alertJSONOf(m),
		Annotations: rawJSON(m.Annotations),
		FirstSeenAt: m.FirstSeenAt.Format(incident.TimeLayout), LastSeenAt: m.LastSeenAt.Format(incident.TimeLayout),
		Occurrences: m.Occurrences,
	}
}

func apiEventOf(e *store.TimelineEvent) apiEvent {
	return apiEvent{
		ID: e.ID, At: e.At.Format(incident.TimeLayout), Event: e.Event,
		By: optionalString(e.By), Note: optionalString(e.Note), Fingerprint: optionalString(e.Fingerprint),
	}
}

// formatOptional is nil for a time not set.
func formatOptional(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.Format(incident.TimeLayout)
	return &s
}

func optionalString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// rawJSON passes a JSON object column through; anything that is not valid
// JSON (it never is, but the column is text on SQLite) becomes {}.
func rawJSON(s string) json.RawMessage {
	if !json.Valid([]byte(s)) {
		return json.RawMessage("{}")
	}
	return json.RawMessage(s)
}
