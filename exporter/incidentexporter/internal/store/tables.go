package store // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/store"

import (
	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/rules"
)

// The tables the rules read and write, each column once (README, "Store
// schema", documents them; the migrations create them).

type incidentField = field[rules.Incident]

var incidents = table[rules.Incident]{name: "incidents", alias: "i", fields: []incidentField{
	{"id", colUUID, func(r *rules.Incident) any { return &r.ID }},
	{"dedup_scope", colText, func(r *rules.Incident) any { return &r.Scope }},
	{"group_key", colText, func(r *rules.Incident) any { return &r.GroupKey }},
	{"fingerprint", colText, func(r *rules.Incident) any { return &r.Fingerprint }},
	{"project", colText, func(r *rules.Incident) any { return &r.Project }},
	{"source", colText, func(r *rules.Incident) any { return &r.Source }},
	{"title", colText, func(r *rules.Incident) any { return &r.Title }},
	{"description", colText, func(r *rules.Incident) any { return &r.Description }},
	{"service_name", colText, func(r *rules.Incident) any { return &r.ServiceName }},
	{"severity", colText, func(r *rules.Incident) any { return &r.Severity }},
	{"status", colText, func(r *rules.Incident) any { return &r.Status }},
	{"detected_at", colTime, func(r *rules.Incident) any { return &r.DetectedAt }},
	{"resolved_at", colNullTime, func(r *rules.Incident) any { return &r.ResolvedAt }},
	{"resolution_reason", colNullText, func(r *rules.Incident) any { return &r.Reason }},
	{"created_at", colTime, nil},
	{"updated_at", colTime, nil},
	{"last_seen_at", colTime, func(r *rules.Incident) any { return &r.LastSeenAt }},
	{"occurrences", colInt, func(r *rules.Incident) any { return &r.Occurrences }},
	{"alert_count", colInt, func(r *rules.Incident) any { return &r.AlertCount }},
	{"firing_alerts", colInt, func(r *rules.Incident) any { return &r.FiringAlerts }},
	{"reopen_count", colInt, func(r *rules.Incident) any { return &r.ReopenCount }},
	{"labels", colText, func(r *rules.Incident) any { return &r.Labels }},
	{"annotations", colText, func(r *rules.Incident) any { return &r.Annotations }},
	{"generator_url", colText, func(r *rules.Incident) any { return &r.GeneratorURL }},
	{"previous_incident_id", colNullUUID, func(r *rules.Incident) any { return &r.PreviousID }},
	{"acknowledged_at", colNullTime, func(r *rules.Incident) any { return &r.AcknowledgedAt }},
	{"acknowledged_by", colNullText, func(r *rules.Incident) any { return &r.AcknowledgedBy }},
	{"resolved_by", colNullText, func(r *rules.Incident) any { return &r.ResolvedBy }},
}}

var (
	// incidentInsert is every column.
	incidentInsert = incidents.fields
	// incidentUpdate is the key, then what the rules change.
	incidentUpdate = incidents.pick("id", "status", "severity", "resolved_at", "resolution_reason", "updated_at",
		"last_seen_at", "occurrences", "alert_count", "firing_alerts", "reopen_count", "acknowledged_at",
		"acknowledged_by", "resolved_by")
	// incidentRead is what the rules read: all they may write back.
	incidentRead = incidents.pick("id", "dedup_scope", "group_key", "fingerprint", "title", "severity", "status",
		"detected_at", "resolved_at", "resolution_reason", "last_seen_at", "occurrences", "alert_count", "firing_alerts",
		"reopen_count", "acknowledged_at", "acknowledged_by", "resolved_by")
)

type memberField = field[rules.Member]

var members = table[rules.Member]{name: "incident_alerts", alias: "m", fields: []memberField{
	// NULL while a silence holds the instance.
	{"incident_id", colNullUUID, func(r *rules.Member) any { return &r.IncidentID }},
	{"dedup_scope", colText, func(r *rules.Member) any { return &r.Ref.Scope }},
	{"fingerprint", colText, func(r *rules.Member) any { return &r.Ref.Fingerprint }},
	{"starts_at", colTime, func(r *rules.Member) any { return &r.Ref.StartsAt }},
	{"status", colText, func(r *rules.Member) any { return &r.Status }},
	{"ends_at", colNullTime, func(r *rules.Member) any { return &r.EndsAt }},
	{"title", colText, func(r *rules.Member) any { return &r.Title }},
	{"severity", colText, func(r *rules.Member) any { return &r.Severity }},
	{"labels", colText, func(r *rules.Member) any { return &r.Labels }},
	{"annotations", colText, func(r *rules.Member) any { return &r.Annotations }},
	{"first_seen_at", colTime, func(r *rules.Member) any { return &r.FirstSeenAt }},
	{"last_seen_at", colTime, func(r *rules.Member) any { return &r.LastSeenAt }},
	{"occurrences", colInt, func(r *rules.Member) any { return &r.Occurrences }},
	{"silence_id", colNullUUID, func(r *rules.Member) any { return &r.SilenceID }},
	{"held_alert", colNullText, func(r *rules.Member) any { return &r.Held }},
}}

var (
	memberInsert = members.fields
	// memberUpdate is the key (the instance), then what the rules change.
	memberUpdate = members.pick("dedup_scope", "fingerprint", "starts_at", "incident_id", "status", "ends_at", "last_seen_at",
		"occurrences", "silence_id", "held_alert")
	// memberRead is what the rules read: all they may write back.
	memberRead = members.pick("incident_id", "dedup_scope", "fingerprint", "starts_at", "status", "ends_at", "title",
		"last_seen_at", "occurrences", "silence_id", "held_alert")
)
