package rules

import "time"

// GroupRef names a group: the alerts of one scope that share an incident.
type GroupRef struct{ Scope, Key string }

// AlertRef names an alert.
type AlertRef struct{ Scope, Fingerprint string }

// InstanceRef names one instance of an alert: it fired at StartsAt.
type InstanceRef struct {
	AlertRef
	StartsAt time.Time
}

// Change says whether an operation changed a row, and how it is written.
type Change int

const (
	// Unchanged: as read.
	Unchanged Change = iota
	// Created: a new row, inserted whole.
	Created
	// Updated: a row read and changed.
	Updated
)

// Row statuses.
const (
	StatusOpen     = "open"
	StatusResolved = "resolved"
	StatusFiring   = "firing"
)

// Incident is an incident row as the rules see it.
type Incident struct {
	ID, Scope, GroupKey, Fingerprint, Title, Severity, Status string
	DetectedAt, ResolvedAt, LastSeenAt                        time.Time // ResolvedAt zero: not resolved
	Occurrences, AlertCount, FiringAlerts, ReopenCount        int64
	Reason                                                    string // resolution_reason; "" while open

	// Written only when the row is created.
	Project, Source, Description, ServiceName, Labels, Annotations, GeneratorURL, PreviousID string

	Change Change
}

// Group is the incident's group.
func (inc *Incident) Group() GroupRef { return GroupRef{inc.Scope, inc.GroupKey} }

// touch marks a row read from the store as changed; a created row stays created.
func (inc *Incident) touch() {
	if inc.Change == Unchanged {
		inc.Change = Updated
	}
}

// Member is one alert instance of an incident.
type Member struct {
	IncidentID         string
	Ref                InstanceRef
	Status, Title      string
	EndsAt, LastSeenAt time.Time // EndsAt zero: still firing
	Occurrences        int64

	// Written only when the row is created.
	Severity, Labels, Annotations string

	Change Change
}

func (m *Member) touch() {
	if m.Change == Unchanged {
		m.Change = Updated
	}
}

// Event is one change of an incident: the store queues it for the analysis
// service.
type Event struct {
	IncidentID string
	Name       string
	// Key tells apart events of one incident with the same name (a second
	// resolution after a reopen, each alert added); "" for the first.
	Key string
}

// Event names.
const (
	EventCreated    = "created"
	EventResolved   = "resolved"
	EventReopened   = "reopened"
	EventAlertAdded = "alert_added"
)

// Resolution reasons (incidents.resolution_reason).
const (
	ReasonAlertResolved      = "alert_resolved"
	ReasonAutoResolved       = "auto_resolved"
	ReasonHeartbeat          = "heartbeat_received"
	ReasonIntegrationRemoved = "integration_removed"
)

// Beat is a heartbeat to record: its scope's last heartbeat is now.
type Beat struct{ Scope, Alertname string }
