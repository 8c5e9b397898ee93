package rules

import (
	"time"

	"github.com/sre-copilot/incident-collector/internal/incident"
)

// Alert is one alert as the exporter read it from a log record.
type Alert struct {
	Scope       string // the integration id
	Fingerprint string
	// GroupKey names the alert's group (Grouping.KeyOf); "" means the alert
	// is a group of its own (Op.Group).
	GroupKey string
	// AlertName is labels.alertname, which tells heartbeats apart.
	AlertName string
	Status    string    // incident.StatusFiring or incident.StatusResolved
	StartsAt  time.Time // the instance's identity, with Scope and Fingerprint
	// StartUnknown: the sender did not say when the alert started; StartsAt
	// is when it arrived. A repeat of a firing alert is then the same
	// instance, whatever its arrival.
	StartUnknown bool
	EndsAt       time.Time // zero unless resolved
	Project      string
	Source       string
	Title        string
	Description  string
	ServiceName  string
	Severity     string
	Labels       string // JSON object
	Annotations  string // JSON object
	GeneratorURL string
}

// Ref is the alert's identity.
func (a *Alert) Ref() AlertRef { return AlertRef{a.Scope, a.Fingerprint} }

// Instance is the alert instance's identity.
func (a *Alert) Instance() InstanceRef { return InstanceRef{a.Ref(), a.StartsAt} }

// Kind is what an operation does.
type Kind int

const (
	// KindAlert applies an alert: it fires, resolves, or is a heartbeat.
	KindAlert Kind = iota + 1
	// KindAutoResolve resolves an incident that no notification touched
	// since a cutoff (auto_resolve_after), if that still holds.
	KindAutoResolve
	// KindHeartbeatCheck opens a scope's heartbeat incident if its last
	// heartbeat is older than the timeout and none is open.
	KindHeartbeatCheck
	// KindForgetScope stops watching a scope's heartbeat (its integration
	// is gone, or heartbeats are off): its heartbeat incident resolves, its
	// heartbeat is forgotten.
	KindForgetScope
	// KindAcknowledge, KindUnacknowledge and KindResolve are a person's
	// actions on an incident (actions.go).
	KindAcknowledge
	KindUnacknowledge
	KindResolve
	// KindRelease opens the incident of an alert a silence held, once no
	// active silence holds it.
	KindRelease
)

// Op is one operation of a transaction. Build it with the constructors:
// each names the group whose lock it needs.
type Op struct {
	Kind       Kind
	Alert      *Alert    // KindAlert
	IncidentID string    // KindAutoResolve and the actions
	Cutoff     time.Time // KindAutoResolve
	By, Note   string    // the actions: who, and what they wrote
	Reason     string    // KindForgetScope: why its heartbeat incident resolves
	group      GroupRef
}

// Group is the group the operation reads and writes: the transaction holds
// its lock.
func (o Op) Group() GroupRef { return o.group }

// Scope is the scope the operation is about.
func (o Op) Scope() string { return o.group.Scope }

// AlertOp applies a. A heartbeat alert's group is its scope's heartbeat
// incident; an alert without a group key is a group of its own.
func (c *Config) AlertOp(a *Alert) Op {
	key := a.GroupKey
	switch {
	case c.isHeartbeat(a):
		key = heartbeatGroupKey
	case key == "":
		key = a.Fingerprint
	}
	return Op{Kind: KindAlert, Alert: a, group: GroupRef{a.Scope, key}}
}

// AutoResolveOp resolves incident id of group g if nothing touched it since
// cutoff.
func AutoResolveOp(id string, g GroupRef, cutoff time.Time) Op {
	return Op{Kind: KindAutoResolve, IncidentID: id, Cutoff: cutoff, group: g}
}

// HeartbeatCheckOp checks scope's heartbeat.
func HeartbeatCheckOp(scope string) Op {
	return Op{Kind: KindHeartbeatCheck, group: GroupRef{scope, heartbeatGroupKey}}
}

// ForgetScopeOp stops watching scope's heartbeat; its heartbeat incident
// resolves for reason (ReasonIntegrationRemoved, ReasonHeartbeatsOff).
func ForgetScopeOp(scope, reason string) Op {
	return Op{Kind: KindForgetScope, Reason: reason, group: GroupRef{scope, heartbeatGroupKey}}
}

// ReleaseOp releases held, the alert a silence held (Member.Held).
func (c *Config) ReleaseOp(held *Alert) Op {
	o := c.AlertOp(held)
	o.Kind = KindRelease
	return o
}

// ActionOp is a person's action (KindAcknowledge, KindUnacknowledge,
// KindResolve) on incident id of group g.
func ActionOp(kind Kind, id string, g GroupRef, by, note string) Op {
	return Op{Kind: kind, IncidentID: id, By: by, Note: note, group: g}
}

// Reads says which rows an operation needs besides its group's open and
// latest resolved incident.
type Reads struct {
	// Instance: the alert's firing instance and the instance it names.
	Instance bool
	// FiringOfAlert: every firing instance of the incident the alert fires
	// in, because resolving the alert may resolve that incident with others
	// still firing.
	FiringOfAlert bool
	// Incident: this incident, whatever its status.
	Incident string
	// FiringOf: every firing instance of this incident.
	FiringOf string
	// Heartbeat: the scope's last heartbeat.
	Heartbeat bool
}

// Reads are the rows o needs.
func (c *Config) Reads(o *Op) Reads {
	switch o.Kind {
	case KindRelease:
		return Reads{Instance: true}
	case KindAlert:
		if o.group.Key == heartbeatGroupKey {
			return Reads{}
		}
		resolving := o.Alert.Status == incident.StatusResolved
		return Reads{Instance: true, FiringOfAlert: resolving && c.ResolveOn == ResolveOnFirst}
	case KindAutoResolve:
		return Reads{FiringOf: o.IncidentID}
	case KindAcknowledge, KindUnacknowledge:
		return Reads{Incident: o.IncidentID}
	case KindResolve:
		return Reads{Incident: o.IncidentID, FiringOf: o.IncidentID}
	case KindHeartbeatCheck:
		return Reads{Heartbeat: true}
	default:
		return Reads{}
	}
}
