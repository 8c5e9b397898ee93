package incidentexporter // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter"

import (
	"encoding/json"

	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/rules"
	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/store"
	"github.com/sre-copilot/incident-collector/internal/incident"
)

// pagerDutyEvent is an Events API v2 event: the incident is one PagerDuty
// alert, its id the dedup_key.
type pagerDutyEvent struct {
	RoutingKey  string            `json:"routing_key"`
	EventAction string            `json:"event_action"`
	DedupKey    string            `json:"dedup_key"`
	Payload     *pagerDutyPayload `json:"payload,omitempty"`
	Links       []pagerDutyLink   `json:"links,omitempty"`
	Client      string            `json:"client,omitempty"`
}

type pagerDutyPayload struct {
	Summary       string         `json:"summary"`
	Source        string         `json:"source"`
	Severity      string         `json:"severity"`
	Timestamp     string         `json:"timestamp"`
	Component     string         `json:"component,omitempty"`
	Group         string         `json:"group,omitempty"`
	Class         string         `json:"class,omitempty"`
	CustomDetails map[string]any `json:"custom_details"`
}

type pagerDutyLink struct {
	Href string `json:"href"`
	Text string `json:"text"`
}

// PagerDuty's event actions for ours; events without one are refused in
// the configuration (notifyEvents).
var pagerDutyActions = map[string]string{
	rules.EventCreated:      "trigger",
	rules.EventReopened:     "trigger",
	rules.EventAcknowledged: "acknowledge",
	rules.EventResolved:     "resolve",
}

var pagerDutySeverity = map[string]string{
	incident.SeverityCritical: "critical",
	incident.SeverityHigh:     "error",
	incident.SeverityMedium:   "warning",
	incident.SeverityLow:      "info",
}

// maxPagerDutySummary keeps a summary, its ellipsis included, within
// PagerDuty's limit of 1 024 characters.
const maxPagerDutySummary = 1024 - len("…")

func pagerDutyOf(e *store.OutboxEvent, routingKey string) pagerDutyEvent {
	inc := &e.Incident
	ev := pagerDutyEvent{RoutingKey: routingKey, EventAction: pagerDutyActions[e.Event], DedupKey: inc.ID, Client: "otelcol-incidents"}
	if ev.EventAction != "trigger" {
		// Acknowledge and resolve name the alert; PagerDuty needs no more.
		return ev
	}
	summary := inc.Title
	if inc.ServiceName != "" {
		summary += " — " + inc.ServiceName
	}
	source := inc.ServiceName
	if source == "" {
		source = inc.Scope
	}
	group := inc.Project
	if group == "" {
		group = inc.Scope
	}
	severity := pagerDutySeverity[inc.Severity]
	if severity == "" {
		severity = "warning"
	}
	details := map[string]any{
		"incident_id": inc.ID, "status": inc.ShownStatus(), "alert_count": inc.AlertCount,
		"description": truncate(inc.Description, maxPagerDutyDescription),
		"fingerprint": inc.Fingerprint, "integration": inc.Scope, "labels": boundedJSON(inc.Labels),
		"annotations": boundedJSON(inc.Annotations), "reopen_count": inc.ReopenCount,
	}
	ev.Payload = &pagerDutyPayload{
		Summary: truncate(summary, maxPagerDutySummary), Source: source, Severity: severity,
		Timestamp: inc.DetectedAt.UTC().Format(incident.TimeLayout), Component: inc.ServiceName, Group: group,
		Class: inc.Title, CustomDetails: details,
	}
	if link := linkOf(inc.GeneratorURL); link != "" {
		ev.Links = []pagerDutyLink{{Href: link, Text: "Source"}}
	}
	return ev
}

// PagerDuty refuses an event over 512 KB, and the event would fail for
// good: the free-form parts are bounded well below.
const (
	maxPagerDutyDescription = 4 << 10
	maxPagerDutyJSON        = 32 << 10
)

// boundedJSON is a JSON object as is when small, else a note that it was
// left out.
func boundedJSON(s string) json.RawMessage {
	if len(s) > maxPagerDutyJSON {
		return json.RawMessage(`{"left_out":"more than 32 KiB: see the incident in the collector"}`)
	}
	return rawJSON(s)
}
