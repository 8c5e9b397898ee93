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
	ResolvedBy                                                string // who resolved it by hand
	AcknowledgedAt                                            time.Time
	AcknowledgedBy                                            string

	// Written only when the row is created.
	Project, Source, Description, ServiceName, Labels, Annotations, GeneratorURL, PreviousID string

	Change Change
}

// Group is the incident's group.
func (inc *Incident) Group() GroupRef { return GroupRef{inc.Scope, inc.GroupKey} }

// Shown statuses: an acknowledged incident is open for every rule; only
// people see it as acknowledged.
const StatusAcknowledged = "acknowledged"

// ShownStatus is the status people see: open, acknowledged or resolved.
func (inc *Incident) ShownStatus() string {
	if inc.Status == StatusOpen && !inc.AcknowledgedAt.IsZero() {
		return StatusAcknowledged
	}
	return inc.Status
}

// touch marks a row read from the store as changed; a created row stays created.
func (inc *Incident) touch() {
	if inc.Change == Unchanged {
		inc.Change = Updated
	}
}

// Member is one alert instance of an incident.
type Member struct {
	IncidentID                      string
	Ref                             InstanceRef
	Status, Title                   string
	EndsAt, FirstSeenAt, LastSeenAt time.Time // EndsAt zero: still firing
	Occurrences                     int64

	// Written only when the row is created.
	Severity, Labels, Annotations string

	// SilenceID: the silence that holds (or held) the instance.
	SilenceID string
	// Held, while a silence holds the instance and it has no incident yet:
	// the alert as it arrived (JSON), to open its incident with when the
	// silence ends.
	Held string

	Change Change
}

// held: a silence holds the instance; it has no incident.
func (m *Member) held() bool { return m.IncidentID == "" }

func (m *Member) touch() {
	if m.Change == Unchanged {
		m.Change = Updated
	}
}

// Event is one change of an incident: a row of its timeline, and what the
// store notifies (the analysis service, notification sinks).
type Event struct {
	IncidentID string
	Name       string
	// Key tells apart events of one incident with the same name (a second
	// resolution after a reopen, each alert added); "" for the first.
	Key string
	// Fingerprint: the alert of created, alert_added and alert_resolved.
	Fingerprint string
	// By and Note: the person of an action, and what they wrote.
	By, Note string
	// Reason: why a resolved incident resolved.
	Reason string
	// From: the severity an escalated incident had.
	From string
}

// Event names.
const (
	EventCreated        = "created"
	EventResolved       = "resolved"
	EventReopened       = "reopened"
	EventAlertAdded     = "alert_added"
	EventAlertResolved  = "alert_resolved"
	EventAcknowledged   = "acknowledged"
	EventUnacknowledged = "unacknowledged"
	// EventEscalated: an alert raised the incident's severity. It is no
	// notification of its own and not on the timeline: a sink that waits for
	// a severity (min_severity) is told the incident was created when it
	// reaches it.
	EventEscalated = "escalated"
)

// Resolution reasons (incidents.resolution_reason).
const (
	ReasonAlertResolved      = "alert_resolved"
	ReasonAutoResolved       = "auto_resolved"
	ReasonHeartbeat          = "heartbeat_received"
	ReasonIntegrationRemoved = "integration_removed"
	ReasonHeartbeatsOff      = "heartbeats_off"
	ReasonManual             = "manual"
)

// Beat is a heartbeat to record: its scope's last heartbeat is now.
type Beat struct{ Scope, Alertname string }
