package store // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/store"

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/sre-copilot/incident-collector/internal/incident"
)

// This file holds every rule of the store: what an alert, a sweep or a
// heartbeat does to incidents and their member alerts (DESIGN §5, §9, §10).
// The rules run in Go on rows read under the locks of their groups
// (transaction.go), the same on SQLite and PostgreSQL; unique indexes on
// open incidents per group and firing members per alert stand behind them.
//
// Identity: an alert is (dedup scope, fingerprint); one instance of it is
// that plus its startsAt, stored once as a member row of one incident. An
// incident is the open incident of a group (dedup scope, group key).

// Grouping modes (exporter config grouping.by).
const (
	GroupByAlert    = "alert"
	GroupByGroupKey = "group_key"
	GroupByLabels   = "labels"
)

// Values of resolve_on.
const (
	ResolveOnAll   = "all"
	ResolveOnFirst = "first"
)

// Resolution reasons (incidents.resolution_reason).
const (
	reasonAlertResolved = "alert_resolved"
	reasonAutoResolved  = "auto_resolved"
	reasonHeartbeat     = "heartbeat_received"
)

// Analysis event names.
const (
	EventCreated    = "created"
	EventResolved   = "resolved"
	EventReopened   = "reopened"
	EventAlertAdded = "alert_added"
)

// SourceHeartbeat is the source of the incidents a missing heartbeat opens.
const SourceHeartbeat = "heartbeat"

// heartbeatGroupKey is the group of a scope's heartbeat incident. No alert
// has it: every alert's group key is a non-empty fingerprint, groupKey or
// label hash.
const heartbeatGroupKey = ""

// maxGroupKeyLen bounds a group key like a fingerprint; a longer Alertmanager
// groupKey (it holds the group_by label values) is stored as its hash.
const maxGroupKeyLen = 512

// Grouping chooses which incident an alert belongs to.
type Grouping struct {
	By     string   // alert (default) | group_key | labels
	Labels []string // by: labels
}

// KeyOf is the group key of an alert with fingerprint fp, sent in a
// notification with groupKey notificationKey, whose labels label reads.
//   - by alert: the fingerprint, one incident per alert.
//   - by group_key: the notification's groupKey (Alertmanager and Grafana
//     group by the user's group_by); the fingerprint when there is none.
//   - by labels: a hash (FNV-1a, as fingerprints) of the listed labels'
//     values, a missing label counting as empty; the fingerprint when the
//     alert has none of them.
//
// A key that could not be stored as is (too long, a NUL, invalid UTF-8) is
// replaced by "fnv64:" and its hash.
func (g Grouping) KeyOf(fp, notificationKey string, label func(name string) (string, bool)) string {
	switch g.By {
	case GroupByGroupKey:
		if notificationKey == "" {
			return fp
		}
		return storableKey(notificationKey)
	case GroupByLabels:
		values := make(map[string]string, len(g.Labels))
		found := false
		for _, name := range g.Labels {
			v, ok := label(name)
			found = found || ok
			values[name] = v
		}
		if !found {
			return fp
		}
		return incident.Fingerprint(values, nil)
	default:
		return fp
	}
}

func storableKey(k string) string {
	if len(k) <= maxGroupKeyLen && utf8.ValidString(k) && !strings.ContainsRune(k, 0) {
		return k
	}
	return "fnv64:" + incident.Fingerprint(map[string]string{"": k}, nil)
}

// Rules are the configurable parts of the rules.
type Rules struct {
	// ResolveOn: all (default), the incident resolves when none of its
	// alerts still fires; first, the first resolved alert resolves it.
	ResolveOn string
	// ReopenWindow: a new alert of a group whose latest incident resolved
	// less than this before the alert started reopens that incident instead
	// of opening a new one (flapping). 0: off.
	ReopenWindow time.Duration
	// HeartbeatAlertname: firing alerts with this alertname are heartbeats
	// of their scope, not incidents. "": off.
	HeartbeatAlertname string
	// HeartbeatTimeout: a scope silent this long gets one critical incident.
	HeartbeatTimeout time.Duration
}

// op is one thing a transaction does: apply an alert, or one check of a
// sweep. Each names the group it needs to hold.
type op struct {
	alert *Alert
	// staleID: auto-resolve this incident if it is still open and was last
	// seen before cutoff.
	staleID string
	cutoff  time.Time
	// silent: open a heartbeat incident for this scope if its heartbeat is
	// older than the timeout and none is open.
	silent bool
	group  groupRef
}

func (r *Rules) alertOp(a *Alert) op {
	key := a.GroupKey
	if key == "" {
		key = a.Fingerprint
	}
	if r.isHeartbeat(a) {
		key = heartbeatGroupKey
	}
	return op{alert: a, group: groupRef{a.Scope, key}}
}

func (r *Rules) isHeartbeat(a *Alert) bool {
	return r.HeartbeatAlertname != "" && a.AlertName == r.HeartbeatAlertname
}

// ruleRun applies the rules to the rows of one transaction.
type ruleRun struct {
	*Rules
	st     *state
	now    time.Time
	events map[string]bool
}

func (r *ruleRun) apply(o *op) Result {
	switch {
	case o.alert != nil && r.isHeartbeat(o.alert):
		return r.heartbeat(o.alert)
	case o.alert != nil && o.alert.Status == incident.StatusResolved:
		return r.resolve(o.alert)
	case o.alert != nil:
		return r.fire(o.alert, o.group)
	case o.staleID != "":
		return r.autoResolve(o.staleID, o.cutoff)
	default:
		return r.heartbeatMissing(o.group.scope)
	}
}

// fire applies a firing alert of group g.
func (r *ruleRun) fire(a *Alert, g groupRef) Result {
	ref := alertRef{a.Scope, a.Fingerprint}
	// This instance is known: a repeat (repeat_interval), a retry, an HA
	// echo; or, resolved, a stale retry or a late echo, which stays resolved.
	if m := r.st.members[instanceRef{ref, a.StartsAt}]; m != nil {
		if m.status == statusFiring {
			r.memberSeen(m)
			r.seen(r.st.incidents[m.incidentID])
		}
		return Result{Verdict: incident.VerdictDuplicate, IncidentID: m.incidentID, Title: m.title}
	}
	// Another instance of the alert fires. An older one: this is a late
	// message about an instance that ended, and the firing one stands. A
	// newer one: the alert ended and fired again, or the sender restarted and
	// lost its state. Either way it is the same problem, still going on: the
	// new instance takes the old one's place in its incident, and the old
	// one ends when the new one started.
	if m := r.st.firing[ref]; m != nil {
		inc := r.st.incidents[m.incidentID]
		r.seen(inc)
		if !a.StartsAt.After(m.ref.startsAt) {
			r.memberSeen(m)
			return Result{Verdict: incident.VerdictDuplicate, IncidentID: inc.id, Title: inc.title}
		}
		r.resolveMember(m, a.StartsAt)
		inc.alertCount++
		inc.severity = incident.HigherSeverity(inc.severity, a.Severity)
		r.addMember(inc, a)
		return Result{Verdict: incident.VerdictDuplicate, IncidentID: inc.id, Title: inc.title}
	}
	var verdict incident.Verdict
	inc := r.st.open[g]
	switch {
	case inc != nil:
		// A new alert of a group with an open incident joins it.
		verdict = incident.VerdictGrouped
		r.queue(inc, EventAlertAdded, a.Fingerprint+"@"+a.StartsAt.UTC().Format(time.RFC3339Nano))
	case r.reopens(g, a.StartsAt):
		// The group's incident resolved moments ago: the same problem flaps.
		inc = r.st.latest[g]
		delete(r.st.latest, g)
		r.st.open[g] = inc
		inc.status, inc.resolvedAt, inc.reason = statusOpen, time.Time{}, ""
		inc.reopenCount++
		verdict = incident.VerdictReopened
		r.queue(inc, EventReopened, strconv.FormatInt(inc.reopenCount, 10))
	default:
		inc = r.create(g, a)
		r.queue(inc, EventCreated, "")
		r.addMember(inc, a)
		return Result{Verdict: incident.VerdictCreated, IncidentID: inc.id, Title: inc.title}
	}
	inc.alertCount++
	inc.firingAlerts++
	inc.severity = incident.HigherSeverity(inc.severity, a.Severity)
	r.seen(inc)
	r.addMember(inc, a)
	return Result{Verdict: verdict, IncidentID: inc.id, Title: inc.title}
}

// addMember records a's instance, firing, in inc.
func (r *ruleRun) addMember(inc *incidentRow, a *Alert) {
	r.st.addMember(&memberRow{
		incidentID: inc.id, ref: instanceRef{alertRef{a.Scope, a.Fingerprint}, a.StartsAt}, status: statusFiring,
		title: a.Title, lastSeenAt: r.now, occurrences: 1, severity: a.Severity, labels: a.Labels,
		annotations: a.Annotations, isNew: true,
	})
}

// reopens: g's latest incident resolved less than reopen_window before the
// alert started (an alert that started before it resolved is another
// story: a late message, not a flap).
func (r *ruleRun) reopens(g groupRef, startsAt time.Time) bool {
	latest := r.st.latest[g]
	if r.ReopenWindow <= 0 || latest == nil {
		return false
	}
	gap := startsAt.Sub(latest.resolvedAt)
	return gap >= 0 && gap < r.ReopenWindow
}

// create opens a new incident for g with a as its first alert, linked to the
// group's previous incident.
func (r *ruleRun) create(g groupRef, a *Alert) *incidentRow {
	inc := &incidentRow{
		id: newID(), scope: g.scope, groupKey: g.key, fingerprint: a.Fingerprint, title: a.Title,
		severity: a.Severity, status: statusOpen, detectedAt: a.StartsAt, lastSeenAt: r.now,
		occurrences: 1, alertCount: 1, firingAlerts: 1,
		project: a.Project, source: a.Source, description: a.Description, serviceName: a.ServiceName,
		labels: a.Labels, annotations: a.Annotations, generatorURL: a.GeneratorURL,
		isNew: true,
	}
	return r.addIncident(inc)
}

// addIncident adds a new incident as its group's open one, linked to the
// group's previous incident.
func (r *ruleRun) addIncident(inc *incidentRow) *incidentRow {
	if prev := r.st.latest[groupRef{inc.scope, inc.groupKey}]; prev != nil {
		inc.previousID = prev.id
	}
	return r.st.addIncident(inc)
}

// resolve applies a resolved alert: its firing instance resolves, and its
// incident with it when resolve_on says so.
func (r *ruleRun) resolve(a *Alert) Result {
	ref := alertRef{a.Scope, a.Fingerprint}
	m := r.st.firing[ref]
	// Nothing fires: a re-sent resolve, a resolve for an alert never seen,
	// or a late one about an older instance than the one firing now.
	if m == nil || m.ref.startsAt.After(a.StartsAt) {
		return Result{Verdict: incident.VerdictIgnored, Title: a.Title}
	}
	inc := r.st.incidents[m.incidentID]
	endsAt := a.EndsAt
	if endsAt.IsZero() {
		endsAt = r.now
	}
	r.resolveMember(m, endsAt)
	inc.firingAlerts--
	inc.lastSeenAt, inc.dirty = r.now, true
	if r.ResolveOn == ResolveOnFirst || inc.firingAlerts <= 0 {
		r.close(inc, endsAt, reasonAlertResolved)
		return Result{Verdict: incident.VerdictResolved, IncidentID: inc.id, Title: inc.title}
	}
	return Result{Verdict: incident.VerdictAlertResolved, IncidentID: inc.id, Title: inc.title}
}

func (r *ruleRun) resolveMember(m *memberRow, endsAt time.Time) {
	m.status, m.endsAt, m.lastSeenAt, m.dirty = statusResolved, later(endsAt, m.ref.startsAt), r.now, true
	delete(r.st.firing, m.ref.alertRef)
}

// close resolves an incident and every alert of it that still fires. It
// never resolves before it was detected.
func (r *ruleRun) close(inc *incidentRow, endsAt time.Time, reason string) {
	inc.status, inc.resolvedAt, inc.reason = statusResolved, later(endsAt, inc.detectedAt), reason
	inc.firingAlerts = 0
	inc.dirty = true
	for _, m := range r.st.firing {
		if m.incidentID == inc.id {
			r.resolveMember(m, inc.resolvedAt)
		}
	}
	r.st.closed = append(r.st.closed, closedIncident{id: inc.id, endsAt: inc.resolvedAt})
	g := groupRef{inc.scope, inc.groupKey}
	delete(r.st.open, g)
	r.st.latest[g] = inc
	key := ""
	if inc.reopenCount > 0 {
		key = strconv.FormatInt(inc.reopenCount, 10)
	}
	r.queue(inc, EventResolved, key)
}

// autoResolve closes an incident no notification touched since cutoff
// (auto_resolve_after): a lost "resolved" must not leave it open forever.
func (r *ruleRun) autoResolve(id string, cutoff time.Time) Result {
	inc := r.st.incidents[id]
	if inc == nil || inc.status != statusOpen || !inc.lastSeenAt.Before(cutoff) {
		return Result{} // touched or resolved since the sweep looked
	}
	r.close(inc, r.now, reasonAutoResolved)
	return Result{Verdict: incident.VerdictResolved, IncidentID: inc.id, Title: inc.title}
}

// heartbeat applies a heartbeat alert: firing, it refreshes its scope's
// heartbeat and resolves the scope's heartbeat incident; resolved, it is not
// a heartbeat. It never becomes an incident. The result's IncidentID is the
// heartbeat incident it resolved, if any.
func (r *ruleRun) heartbeat(a *Alert) Result {
	if a.Status == incident.StatusResolved {
		return Result{Verdict: incident.VerdictIgnored, Title: a.Title}
	}
	r.st.beats = append(r.st.beats, beat{scope: a.Scope, alertname: a.AlertName})
	r.st.heartbeats[a.Scope] = r.now
	res := Result{Verdict: incident.VerdictHeartbeat, Title: a.Title}
	if inc := r.st.open[groupRef{a.Scope, heartbeatGroupKey}]; inc != nil {
		r.close(inc, r.now, reasonHeartbeat)
		res.IncidentID = inc.id
	}
	return res
}

// heartbeatMissing opens the scope's heartbeat incident when its last
// heartbeat is older than the timeout and none is open. Scopes that never
// sent one are not watched.
func (r *ruleRun) heartbeatMissing(scope string) Result {
	last, watched := r.st.heartbeats[scope]
	g := groupRef{scope, heartbeatGroupKey}
	if !watched || r.now.Sub(last) < r.HeartbeatTimeout || r.st.open[g] != nil {
		return Result{}
	}
	title := "Heartbeat missing: " + r.HeartbeatAlertname
	inc := &incidentRow{
		id: newID(), scope: scope, groupKey: heartbeatGroupKey, fingerprint: "heartbeat", title: title,
		severity: incident.SeverityCritical, status: statusOpen, detectedAt: r.now, lastSeenAt: r.now,
		occurrences: 1, source: SourceHeartbeat,
		description: fmt.Sprintf("No %s heartbeat from integration %s since %s (heartbeat.timeout %s): its alerts may not be arriving.",
			r.HeartbeatAlertname, scope, last.UTC().Format(time.RFC3339), r.HeartbeatTimeout),
		labels: "{}", annotations: "{}", isNew: true,
	}
	r.addIncident(inc)
	r.queue(inc, EventCreated, "")
	return Result{Verdict: incident.VerdictCreated, IncidentID: inc.id, Title: title}
}

// seen counts one more notification of an open incident.
func (r *ruleRun) seen(inc *incidentRow) {
	inc.occurrences++
	inc.lastSeenAt, inc.dirty = r.now, true
}

// memberSeen counts one more notification of a member alert.
func (r *ruleRun) memberSeen(m *memberRow) {
	m.occurrences++
	m.lastSeenAt, m.dirty = r.now, true
}

// queue adds an analysis event, when the configuration asks for it. key
// tells apart events of one incident with the same name (a second
// resolution after a reopen, each alert added).
func (r *ruleRun) queue(inc *incidentRow, name, key string) {
	if r.events[name] {
		r.st.events = append(r.st.events, event{incidentID: inc.id, name: name, key: key})
	}
}

func later(a, b time.Time) time.Time {
	if a.Before(b) {
		return b
	}
	return a
}

// newID is a UUIDv7: time-ordered, so incidents sort by creation.
func newID() string {
	// NewV7 fails only when the system's random source does, which Go
	// treats as fatal already.
	return uuid.Must(uuid.NewV7()).String()
}
