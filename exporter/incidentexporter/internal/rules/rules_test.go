package rules

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/sre-copilot/incident-collector/internal/incident"
)

// The rules as Alertmanager's DedupStage.needsUpdate is tested: rows in,
// verdicts and changed rows out, no database. The store's tests keep what
// only a database shows (locks, races, SQL).

var (
	t0  = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	now = t0.Add(time.Hour)
)

const scope = "prod"

func alert(fp string, startsAt time.Time) *Alert {
	return &Alert{
		Scope: scope, Fingerprint: fp, Status: incident.StatusFiring, StartsAt: startsAt, Title: "T-" + fp,
		Severity: incident.SeverityMedium, AlertName: "HighLatency", Labels: `{"alertname":"HighLatency","service":"api"}`,
	}
}

// maintenance silences service=api from 30 minutes ago for two hours.
func maintenance(id string, matchers ...Matcher) Silence {
	if len(matchers) == 0 {
		matchers = []Matcher{{Name: "service", Value: "api", Op: MatchEqual}}
	}
	return Silence{ID: id, Matchers: matchers, StartsAt: now.Add(-30 * time.Minute), EndsAt: now.Add(90 * time.Minute)}
}

// heldMember is alert a's instance of t0, held by silence s1.
func heldMember() []*Member {
	a := alert("a", t0)
	held, _ := json.Marshal(a)
	return []*Member{{Ref: a.Instance(), Status: StatusFiring, Title: a.Title, FirstSeenAt: t0, LastSeenAt: t0, Occurrences: 1, SilenceID: "s1", Held: string(held)}}
}

func (a *Alert) resolvedAt(endsAt time.Time) *Alert {
	a.Status, a.EndsAt = incident.StatusResolved, endsAt
	return a
}

func (a *Alert) inG() *Alert              { a.GroupKey = "g"; return a }
func (a *Alert) severity(s string) *Alert { a.Severity = s; return a }
func (a *Alert) watchdog() *Alert         { a.AlertName = "Watchdog"; return a }
func (a *Alert) unknownStart() *Alert     { a.StartUnknown = true; return a }
func (a *Alert) acknowledgedByPagerDuty() *Alert {
	a.Status, a.Source = incident.StatusAcknowledged, "pagerduty"
	return a
}

// openIncident is an open incident of group key with firing members fps, all
// started at t0.
func openIncident(key string, fps ...string) (*Incident, []*Member) {
	inc := &Incident{
		ID: "inc-" + key, Scope: scope, GroupKey: key, Fingerprint: fps[0], Title: "T-" + fps[0],
		Severity: incident.SeverityMedium, Status: StatusOpen, DetectedAt: t0, LastSeenAt: t0,
		Occurrences: 1, AlertCount: int64(len(fps)), FiringAlerts: int64(len(fps)),
	}
	var ms []*Member
	for _, fp := range fps {
		ms = append(ms, &Member{IncidentID: inc.ID, Ref: InstanceRef{AlertRef{scope, fp}, t0}, Status: StatusFiring, Title: "T-" + fp, LastSeenAt: t0, Occurrences: 1})
	}
	return inc, ms
}

// resolvedIncident is group key's incident of one alert a, resolved at end.
func resolvedIncident(key string, end time.Time) (*Incident, []*Member) {
	inc, ms := openIncident(key, "a")
	inc.ID = "old-" + key
	inc.Status, inc.ResolvedAt, inc.FiringAlerts, inc.Reason = StatusResolved, end, 0, ReasonAlertResolved
	ms[0].IncidentID, ms[0].Status, ms[0].EndsAt = inc.ID, StatusResolved, end
	return inc, ms
}

func heartbeatIncident() *Incident {
	return &Incident{
		ID: "hb", Scope: scope, GroupKey: heartbeatGroupKey, Fingerprint: "heartbeat", Title: "Heartbeat missing: Watchdog",
		Severity: incident.SeverityCritical, Status: StatusOpen, DetectedAt: t0, LastSeenAt: t0, Occurrences: 1, Source: SourceHeartbeat,
	}
}

type rows struct {
	incidents  []*Incident
	members    []*Member
	heartbeats map[string]time.Time
	silences   []Silence
}

func with(parts ...any) rows {
	var r rows
	for _, p := range parts {
		switch x := p.(type) {
		case *Incident:
			r.incidents = append(r.incidents, x)
		case []*Member:
			r.members = append(r.members, x...)
		case map[string]time.Time:
			r.heartbeats = x
		case Silence:
			if problems := x.Compile(); len(problems) > 0 {
				panic(fmt.Sprint(problems))
			}
			r.silences = append(r.silences, x)
		}
	}
	return r
}

func pair(inc *Incident, ms []*Member) []any { return []any{inc, ms} }

func (r rows) state() *State {
	st := NewState()
	for _, inc := range r.incidents {
		st.AddIncident(inc)
	}
	for _, m := range r.members {
		st.AddMember(m)
	}
	for s, t := range r.heartbeats {
		st.SetHeartbeat(s, t)
	}
	st.SetSilences(NewSilences(r.silences))
	return st
}

func ts(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Sub(t0).String()
}

// changes lists the changed rows, each as one line; created incidents are
// named by their group key (their id is random).
func changes(st *State) []string {
	var out []string
	for _, inc := range st.Incidents() {
		if inc.Change == Unchanged {
			continue
		}
		name := inc.ID
		if inc.Change == Created {
			name = "new:" + inc.GroupKey
			if inc.PreviousID != "" {
				name += "<" + inc.PreviousID
			}
		}
		line := fmt.Sprintf("incident %s %s %s detected=%s resolved=%s seen=%s occ=%d alerts=%d firing=%d reopens=%d %s",
			name, inc.Status, inc.Severity, ts(inc.DetectedAt), ts(inc.ResolvedAt), ts(inc.LastSeenAt), inc.Occurrences,
			inc.AlertCount, inc.FiringAlerts, inc.ReopenCount, inc.Reason)
		if !inc.AcknowledgedAt.IsZero() {
			line += fmt.Sprintf(" acked=%s by %s", ts(inc.AcknowledgedAt), inc.AcknowledgedBy)
		}
		if inc.ResolvedBy != "" {
			line += " resolved_by=" + inc.ResolvedBy
		}
		out = append(out, line)
	}
	for _, m := range st.Members() {
		if m.Change == Unchanged {
			continue
		}
		kind := "upd"
		if m.Change == Created {
			kind = "new"
		}
		in := m.IncidentID
		if inc := st.Incident(m.IncidentID); inc != nil && inc.Change == Created {
			in = "new:" + inc.GroupKey
		}
		if m.held() {
			in = "nothing, held by " + m.SilenceID
		} else if m.SilenceID != "" {
			in += " (held by " + m.SilenceID + ")"
		}
		out = append(out, fmt.Sprintf("member %s %s@%s in %s %s ends=%s occ=%d", kind, m.Ref.Fingerprint, ts(m.Ref.StartsAt), in, m.Status, ts(m.EndsAt), m.Occurrences))
	}
	for _, e := range st.Events() {
		name := e.IncidentID
		if inc := st.Incident(e.IncidentID); inc != nil && inc.Change == Created {
			name = "new:" + inc.GroupKey
		}
		var line strings.Builder
		line.WriteString("event " + name + " " + e.Name)
		for _, kv := range [][2]string{{"key", e.Key}, {"fp", e.Fingerprint}, {"by", e.By}, {"note", e.Note}, {"reason", e.Reason}, {"from", e.From}} {
			if kv[1] != "" {
				line.WriteString(" " + kv[0] + "=" + kv[1])
			}
		}
		out = append(out, line.String())
	}
	for _, b := range st.Beats() {
		out = append(out, "beat "+b.Scope)
	}
	for _, s := range st.Forgotten() {
		out = append(out, "forget "+s)
	}
	sort.Strings(out)
	return out
}

func TestRules(t *testing.T) {
	type op func(c *Config) Op
	fire := func(a *Alert) op { return func(c *Config) Op { return c.AlertOp(a) } }
	stale := func(id, key string, cutoff time.Time) op {
		return func(*Config) Op { return AutoResolveOp(id, GroupRef{scope, key}, cutoff) }
	}
	check := func(s string) op { return func(*Config) Op { return HeartbeatCheckOp(s) } }
	forget := func(s string) op { return func(*Config) Op { return ForgetScopeOp(s, ReasonIntegrationRemoved) } }
	release := func(a *Alert) op { return func(c *Config) Op { return c.ReleaseOp(a) } }
	heartbeats := Config{HeartbeatAlertname: "Watchdog", HeartbeatTimeout: 5 * time.Minute}
	act := func(kind Kind, id, key string) op {
		return func(*Config) Op { return ActionOp(kind, id, GroupRef{scope, key}, "alice", "on it") }
	}
	acked := func(inc *Incident, ms []*Member) []any {
		inc.AcknowledgedAt, inc.AcknowledgedBy = t0.Add(time.Minute), "bob"
		return pair(inc, ms)
	}

	tests := []struct {
		name    string
		cfg     Config
		rows    rows
		ops     []op
		want    []incident.Verdict
		changes []string
	}{
		// fire
		{
			name: "a new alert opens an incident",
			ops:  []op{fire(alert("a", t0))},
			want: []incident.Verdict{incident.VerdictCreated},
			changes: []string{
				"event new:a created fp=a",
				"incident new:a open medium detected=0s resolved=- seen=1h0m0s occ=1 alerts=1 firing=1 reopens=0 ",
				"member new a@0s in new:a firing ends=- occ=1",
			},
		},
		{
			name: "a repeat of the firing instance is a duplicate, counted",
			rows: with(pair(openIncident("a", "a"))...),
			ops:  []op{fire(alert("a", t0))},
			want: []incident.Verdict{incident.VerdictDuplicate},
			changes: []string{
				"incident inc-a open medium detected=0s resolved=- seen=1h0m0s occ=2 alerts=1 firing=1 reopens=0 ",
				"member upd a@0s in inc-a firing ends=- occ=2",
			},
		},
		{
			name: "a firing retry of a resolved instance stays resolved",
			rows: with(pair(resolvedIncident("a", t0.Add(time.Minute)))...),
			ops:  []op{fire(alert("a", t0))},
			want: []incident.Verdict{incident.VerdictDuplicate},
		},
		{
			name: "an older instance than the firing one is a late message",
			rows: with(pair(openIncident("a", "a"))...),
			ops:  []op{fire(alert("a", t0.Add(-time.Minute)))},
			want: []incident.Verdict{incident.VerdictDuplicate},
			changes: []string{
				"incident inc-a open medium detected=0s resolved=- seen=1h0m0s occ=2 alerts=1 firing=1 reopens=0 ",
				"member upd a@0s in inc-a firing ends=- occ=2",
			},
		},
		{
			name: "a newer instance takes the firing one's place",
			rows: with(pair(openIncident("a", "a"))...),
			ops:  []op{fire(alert("a", t0.Add(10*time.Minute)).severity(incident.SeverityHigh))},
			want: []incident.Verdict{incident.VerdictDuplicate},
			changes: []string{
				"event inc-a escalated from=medium",
				"incident inc-a open high detected=0s resolved=- seen=1h0m0s occ=2 alerts=2 firing=1 reopens=0 ",
				"member new a@10m0s in inc-a firing ends=- occ=1",
				"member upd a@0s in inc-a resolved ends=10m0s occ=1",
			},
		},
		{
			name: "a repeat without a start is the firing instance",
			rows: with(pair(openIncident("a", "a"))...),
			ops:  []op{fire(alert("a", now).unknownStart())},
			want: []incident.Verdict{incident.VerdictDuplicate},
			changes: []string{
				"incident inc-a open medium detected=0s resolved=- seen=1h0m0s occ=2 alerts=1 firing=1 reopens=0 ",
				"member upd a@0s in inc-a firing ends=- occ=2",
			},
		},
		{
			name: "an alert without a start and nothing firing opens an incident at its arrival",
			ops:  []op{fire(alert("a", now).unknownStart())},
			want: []incident.Verdict{incident.VerdictCreated},
			changes: []string{
				"event new:a created fp=a",
				"incident new:a open medium detected=1h0m0s resolved=- seen=1h0m0s occ=1 alerts=1 firing=1 reopens=0 ",
				"member new a@1h0m0s in new:a firing ends=- occ=1",
			},
		},
		// grouping
		{
			name: "a new alert of a group with an open incident joins it",
			rows: with(pair(openIncident("g", "a"))...),
			ops:  []op{fire(alert("b", t0.Add(time.Minute)).inG().severity(incident.SeverityCritical))},
			want: []incident.Verdict{incident.VerdictGrouped},
			changes: []string{
				"event inc-g alert_added key=b@2026-12-01T10:01:00Z fp=b",
				"event inc-g escalated from=medium",
				"incident inc-g open critical detected=0s resolved=- seen=1h0m0s occ=2 alerts=2 firing=2 reopens=0 ",
				"member new b@1m0s in inc-g firing ends=- occ=1",
			},
		},
		{
			name: "a joining alert never lowers the severity",
			rows: with(func() []any {
				inc, ms := openIncident("g", "a")
				inc.Severity = incident.SeverityCritical
				return pair(inc, ms)
			}()...),
			ops:  []op{fire(alert("b", t0).inG().severity(incident.SeverityLow))},
			want: []incident.Verdict{incident.VerdictGrouped},
			changes: []string{
				"event inc-g alert_added key=b@2026-12-01T10:00:00Z fp=b",
				"incident inc-g open critical detected=0s resolved=- seen=1h0m0s occ=2 alerts=2 firing=2 reopens=0 ",
				"member new b@0s in inc-g firing ends=- occ=1",
			},
		},
		{
			name: "two new alerts of one group in one transaction: one incident",
			ops:  []op{fire(alert("a", t0).inG()), fire(alert("b", t0).inG())},
			want: []incident.Verdict{incident.VerdictCreated, incident.VerdictGrouped},
			changes: []string{
				"event new:g alert_added key=b@2026-12-01T10:00:00Z fp=b",
				"event new:g created fp=a",
				"incident new:g open medium detected=0s resolved=- seen=1h0m0s occ=2 alerts=2 firing=2 reopens=0 ",
				"member new a@0s in new:g firing ends=- occ=1",
				"member new b@0s in new:g firing ends=- occ=1",
			},
		},
		// reopen_window
		{
			name: "a new instance within reopen_window reopens the group's incident",
			cfg:  Config{ReopenWindow: time.Hour},
			rows: with(pair(resolvedIncident("a", t0.Add(5*time.Minute)))...),
			ops:  []op{fire(alert("a", t0.Add(10*time.Minute)))},
			want: []incident.Verdict{incident.VerdictReopened},
			changes: []string{
				"event old-a reopened key=1 fp=a",
				"incident old-a open medium detected=0s resolved=- seen=1h0m0s occ=2 alerts=2 firing=1 reopens=1 ",
				"member new a@10m0s in old-a firing ends=- occ=1",
			},
		},
		{
			name: "an alert that started before the resolution does not reopen",
			cfg:  Config{ReopenWindow: time.Hour},
			rows: with(pair(resolvedIncident("a", t0.Add(5*time.Minute)))...),
			ops:  []op{fire(alert("a", t0.Add(time.Minute)))},
			want: []incident.Verdict{incident.VerdictCreated},
			changes: []string{
				"event new:a created fp=a",
				"incident new:a<old-a open medium detected=1m0s resolved=- seen=1h0m0s occ=1 alerts=1 firing=1 reopens=0 ",
				"member new a@1m0s in new:a firing ends=- occ=1",
			},
		},
		{
			name: "outside reopen_window a new incident follows the previous one",
			cfg:  Config{ReopenWindow: time.Minute},
			rows: with(pair(resolvedIncident("a", t0.Add(5*time.Minute)))...),
			ops:  []op{fire(alert("a", t0.Add(10*time.Minute)))},
			want: []incident.Verdict{incident.VerdictCreated},
			changes: []string{
				"event new:a created fp=a",
				"incident new:a<old-a open medium detected=10m0s resolved=- seen=1h0m0s occ=1 alerts=1 firing=1 reopens=0 ",
				"member new a@10m0s in new:a firing ends=- occ=1",
			},
		},
		{
			name: "without reopen_window a flapping alert opens a new linked incident",
			rows: with(pair(resolvedIncident("a", t0.Add(5*time.Minute)))...),
			ops:  []op{fire(alert("a", t0.Add(6*time.Minute)))},
			want: []incident.Verdict{incident.VerdictCreated},
			changes: []string{
				"event new:a created fp=a",
				"incident new:a<old-a open medium detected=6m0s resolved=- seen=1h0m0s occ=1 alerts=1 firing=1 reopens=0 ",
				"member new a@6m0s in new:a firing ends=- occ=1",
			},
		},
		// resolve
		{
			name: "resolving the last firing alert resolves the incident",
			rows: with(pair(openIncident("a", "a"))...),
			ops:  []op{fire(alert("a", t0).resolvedAt(t0.Add(3 * time.Minute)))},
			want: []incident.Verdict{incident.VerdictResolved},
			changes: []string{
				"event inc-a alert_resolved fp=a",
				"event inc-a resolved reason=alert_resolved",
				"incident inc-a resolved medium detected=0s resolved=3m0s seen=1h0m0s occ=1 alerts=1 firing=0 reopens=0 alert_resolved",
				"member upd a@0s in inc-a resolved ends=3m0s occ=1",
			},
		},
		{
			name: "an end before the start is clamped to the start",
			rows: with(pair(openIncident("a", "a"))...),
			ops:  []op{fire(alert("a", t0).resolvedAt(t0.Add(-time.Hour)))},
			want: []incident.Verdict{incident.VerdictResolved},
			changes: []string{
				"event inc-a alert_resolved fp=a",
				"event inc-a resolved reason=alert_resolved",
				"incident inc-a resolved medium detected=0s resolved=0s seen=1h0m0s occ=1 alerts=1 firing=0 reopens=0 alert_resolved",
				"member upd a@0s in inc-a resolved ends=0s occ=1",
			},
		},
		{
			name: "a resolve without an end ends now",
			rows: with(pair(openIncident("a", "a"))...),
			ops:  []op{fire(alert("a", t0).resolvedAt(time.Time{}))},
			want: []incident.Verdict{incident.VerdictResolved},
			changes: []string{
				"event inc-a alert_resolved fp=a",
				"event inc-a resolved reason=alert_resolved",
				"incident inc-a resolved medium detected=0s resolved=1h0m0s seen=1h0m0s occ=1 alerts=1 firing=0 reopens=0 alert_resolved",
				"member upd a@0s in inc-a resolved ends=1h0m0s occ=1",
			},
		},
		{
			name: "an end in the future is now",
			rows: with(pair(openIncident("a", "a"))...),
			ops:  []op{fire(alert("a", t0).resolvedAt(now.Add(24 * time.Hour)))},
			want: []incident.Verdict{incident.VerdictResolved},
			changes: []string{
				"event inc-a alert_resolved fp=a",
				"event inc-a resolved reason=alert_resolved",
				"incident inc-a resolved medium detected=0s resolved=1h0m0s seen=1h0m0s occ=1 alerts=1 firing=0 reopens=0 alert_resolved",
				"member upd a@0s in inc-a resolved ends=1h0m0s occ=1",
			},
		},
		{
			name: "a resolve with nothing firing is ignored",
			ops:  []op{fire(alert("a", t0).resolvedAt(t0.Add(time.Minute)))},
			want: []incident.Verdict{incident.VerdictIgnored},
		},
		{
			name: "a resolve of an older instance than the firing one is ignored",
			rows: with(pair(openIncident("a", "a"))...),
			ops:  []op{fire(alert("a", t0.Add(-time.Hour)).resolvedAt(t0.Add(-time.Minute)))},
			want: []incident.Verdict{incident.VerdictIgnored},
		},
		{
			name: "a resolve without a start resolves the firing instance",
			rows: with(pair(openIncident("a", "a"))...),
			ops:  []op{fire(alert("a", t0.Add(-time.Hour)).unknownStart().resolvedAt(t0.Add(2 * time.Minute)))},
			want: []incident.Verdict{incident.VerdictResolved},
			changes: []string{
				"event inc-a alert_resolved fp=a",
				"event inc-a resolved reason=alert_resolved",
				"incident inc-a resolved medium detected=0s resolved=2m0s seen=1h0m0s occ=1 alerts=1 firing=0 reopens=0 alert_resolved",
				"member upd a@0s in inc-a resolved ends=2m0s occ=1",
			},
		},
		{
			name: "resolve_on all: the incident stays open while another alert fires",
			rows: with(pair(openIncident("g", "a", "b"))...),
			ops:  []op{fire(alert("a", t0).inG().resolvedAt(t0.Add(time.Minute)))},
			want: []incident.Verdict{incident.VerdictAlertResolved},
			changes: []string{
				"event inc-g alert_resolved fp=a",
				"incident inc-g open medium detected=0s resolved=- seen=1h0m0s occ=1 alerts=2 firing=1 reopens=0 ",
				"member upd a@0s in inc-g resolved ends=1m0s occ=1",
			},
		},
		{
			name: "resolve_on first: the first resolved alert resolves the incident and its other alerts",
			cfg:  Config{ResolveOn: ResolveOnFirst},
			rows: with(pair(openIncident("g", "a", "b"))...),
			ops:  []op{fire(alert("a", t0).inG().resolvedAt(t0.Add(time.Minute)))},
			want: []incident.Verdict{incident.VerdictResolved},
			changes: []string{
				"event inc-g alert_resolved fp=a",
				"event inc-g alert_resolved fp=b",
				"event inc-g resolved reason=alert_resolved",
				"incident inc-g resolved medium detected=0s resolved=1m0s seen=1h0m0s occ=1 alerts=2 firing=0 reopens=0 alert_resolved",
				"member upd a@0s in inc-g resolved ends=1m0s occ=1",
				"member upd b@0s in inc-g resolved ends=1m0s occ=1",
			},
		},
		{
			name: "a reopened incident's next resolution is told apart",
			rows: with(func() []any {
				inc, ms := openIncident("a", "a")
				inc.ReopenCount = 2
				return pair(inc, ms)
			}()...),
			ops:  []op{fire(alert("a", t0).resolvedAt(t0.Add(time.Minute)))},
			want: []incident.Verdict{incident.VerdictResolved},
			changes: []string{
				"event inc-a alert_resolved fp=a",
				"event inc-a resolved key=2 reason=alert_resolved",
				"incident inc-a resolved medium detected=0s resolved=1m0s seen=1h0m0s occ=1 alerts=1 firing=0 reopens=2 alert_resolved",
				"member upd a@0s in inc-a resolved ends=1m0s occ=1",
			},
		},
		{
			name: "fire and resolve in one transaction",
			ops:  []op{fire(alert("a", t0)), fire(alert("a", t0).resolvedAt(t0.Add(time.Minute)))},
			want: []incident.Verdict{incident.VerdictCreated, incident.VerdictResolved},
			changes: []string{
				"event new:a alert_resolved fp=a",
				"event new:a created fp=a",
				"event new:a resolved reason=alert_resolved",
				"incident new:a resolved medium detected=0s resolved=1m0s seen=1h0m0s occ=1 alerts=1 firing=0 reopens=0 alert_resolved",
				"member new a@0s in new:a resolved ends=1m0s occ=1",
			},
		},
		// auto-resolve
		{
			name: "auto-resolve resolves an untouched incident and its firing alerts",
			rows: with(pair(openIncident("g", "a", "b"))...),
			ops:  []op{stale("inc-g", "g", t0.Add(time.Minute))},
			want: []incident.Verdict{incident.VerdictResolved},
			changes: []string{
				"event inc-g alert_resolved fp=a",
				"event inc-g alert_resolved fp=b",
				"event inc-g resolved reason=auto_resolved",
				"incident inc-g resolved medium detected=0s resolved=1h0m0s seen=0s occ=1 alerts=2 firing=0 reopens=0 auto_resolved",
				"member upd a@0s in inc-g resolved ends=1h0m0s occ=1",
				"member upd b@0s in inc-g resolved ends=1h0m0s occ=1",
			},
		},
		{
			name: "auto-resolve leaves an incident touched since the cutoff",
			rows: with(pair(openIncident("g", "a"))...),
			ops:  []op{stale("inc-g", "g", t0)},
			want: []incident.Verdict{incident.VerdictUnchanged},
		},
		{
			name: "auto-resolve of an incident resolved meanwhile changes nothing",
			rows: with(pair(resolvedIncident("g", t0))...),
			ops:  []op{stale("old-g", "g", now)},
			want: []incident.Verdict{incident.VerdictUnchanged},
		},
		// a person's actions
		{
			name: "acknowledging an open incident records who and when",
			rows: with(pair(openIncident("a", "a"))...),
			ops:  []op{act(KindAcknowledge, "inc-a", "a")},
			want: []incident.Verdict{incident.VerdictAcknowledged},
			changes: []string{
				"event inc-a acknowledged key=2026-12-01T11:00:00Z by=alice note=on it",
				"incident inc-a open medium detected=0s resolved=- seen=0s occ=1 alerts=1 firing=1 reopens=0  acked=1h0m0s by alice",
			},
		},
		{
			name: "the first acknowledgement stays",
			rows: with(acked(openIncident("a", "a"))...),
			ops:  []op{act(KindAcknowledge, "inc-a", "a")},
			want: []incident.Verdict{incident.VerdictUnchanged},
		},
		{
			name: "a resolved incident cannot be acknowledged",
			rows: with(pair(resolvedIncident("a", t0))...),
			ops:  []op{act(KindAcknowledge, "old-a", "a"), act(KindUnacknowledge, "old-a", "a")},
			want: []incident.Verdict{incident.VerdictIgnored, incident.VerdictIgnored},
		},
		{
			name: "unacknowledging opens the incident again",
			rows: with(acked(openIncident("a", "a"))...),
			ops:  []op{act(KindUnacknowledge, "inc-a", "a"), act(KindUnacknowledge, "inc-a", "a")},
			want: []incident.Verdict{incident.VerdictUnacknowledged, incident.VerdictUnchanged},
			changes: []string{
				"event inc-a unacknowledged key=2026-12-01T11:00:00Z by=alice note=on it",
				"incident inc-a open medium detected=0s resolved=- seen=0s occ=1 alerts=1 firing=1 reopens=0 ",
			},
		},
		{
			name: "an acknowledged incident is open for every rule: a new alert joins it, a resolve resolves it",
			rows: with(acked(openIncident("g", "a"))...),
			ops:  []op{fire(alert("b", t0).inG()), fire(alert("a", t0).inG().resolvedAt(t0.Add(time.Minute))), fire(alert("b", t0).inG().resolvedAt(t0.Add(2 * time.Minute)))},
			want: []incident.Verdict{incident.VerdictGrouped, incident.VerdictAlertResolved, incident.VerdictResolved},
			changes: []string{
				"event inc-g alert_added key=b@2026-12-01T10:00:00Z fp=b",
				"event inc-g alert_resolved fp=a",
				"event inc-g alert_resolved fp=b",
				"event inc-g resolved reason=alert_resolved",
				"incident inc-g resolved medium detected=0s resolved=2m0s seen=1h0m0s occ=2 alerts=2 firing=0 reopens=0 alert_resolved acked=1m0s by bob",
				"member new b@0s in inc-g resolved ends=2m0s occ=1",
				"member upd a@0s in inc-g resolved ends=1m0s occ=1",
			},
		},
		{
			name: "resolving by hand resolves the incident and its firing alerts now; a repeat of an alert stays a duplicate",
			rows: with(acked(openIncident("g", "a", "b"))...),
			ops:  []op{act(KindResolve, "inc-g", "g"), fire(alert("a", t0).inG()), act(KindResolve, "inc-g", "g")},
			want: []incident.Verdict{incident.VerdictResolved, incident.VerdictDuplicate, incident.VerdictUnchanged},
			changes: []string{
				"event inc-g alert_resolved fp=a",
				"event inc-g alert_resolved fp=b",
				"event inc-g resolved by=alice note=on it reason=manual",
				"incident inc-g resolved medium detected=0s resolved=1h0m0s seen=0s occ=1 alerts=2 firing=0 reopens=0 manual acked=1m0s by bob resolved_by=alice",
				"member upd a@0s in inc-g resolved ends=1h0m0s occ=1",
				"member upd b@0s in inc-g resolved ends=1h0m0s occ=1",
			},
		},
		{
			name: "after a manual resolve a new instance within reopen_window reopens it, unacknowledged",
			cfg:  Config{ReopenWindow: time.Hour},
			rows: with(acked(openIncident("a", "a"))...),
			ops:  []op{act(KindResolve, "inc-a", "a"), fire(alert("a", now.Add(time.Minute)))},
			want: []incident.Verdict{incident.VerdictResolved, incident.VerdictReopened},
			changes: []string{
				"event inc-a alert_resolved fp=a",
				"event inc-a reopened key=1 fp=a",
				"event inc-a resolved by=alice note=on it reason=manual",
				"incident inc-a open medium detected=0s resolved=- seen=1h0m0s occ=2 alerts=2 firing=1 reopens=1 ",
				"member new a@1h1m0s in inc-a firing ends=- occ=1",
				"member upd a@0s in inc-a resolved ends=1h0m0s occ=1",
			},
		},
		// a sender's acknowledgement (PagerDuty)
		{
			name: "a sender's acknowledgement acknowledges the open incident holding the alert",
			rows: with(pair(openIncident("g", "a", "b"))...),
			ops:  []op{fire(alert("b", t0).inG().acknowledgedByPagerDuty()), fire(alert("a", t0).inG().acknowledgedByPagerDuty())},
			want: []incident.Verdict{incident.VerdictAcknowledged, incident.VerdictUnchanged},
			changes: []string{
				"event inc-g acknowledged key=2026-12-01T11:00:00Z by=pagerduty note=acknowledged by the sender",
				"incident inc-g open medium detected=0s resolved=- seen=0s occ=1 alerts=2 firing=2 reopens=0  acked=1h0m0s by pagerduty",
			},
		},
		{
			name: "a sender's acknowledgement of an alert nothing holds firing is ignored",
			rows: with(pair(resolvedIncident("a", t0))...),
			ops:  []op{fire(alert("a", t0).acknowledgedByPagerDuty()), fire(alert("x", t0).acknowledgedByPagerDuty())},
			want: []incident.Verdict{incident.VerdictIgnored, incident.VerdictIgnored},
		},
		{
			name: "an acknowledged heartbeat is not a heartbeat",
			cfg:  heartbeats,
			rows: with(heartbeatIncident()),
			ops:  []op{fire(alert("w", t0).watchdog().acknowledgedByPagerDuty())},
			want: []incident.Verdict{incident.VerdictIgnored},
		},
		// silences
		{
			name:    "an alert that would open an incident in a maintenance window is held",
			rows:    with(maintenance("s1")),
			ops:     []op{fire(alert("a", t0))},
			want:    []incident.Verdict{incident.VerdictSilenced},
			changes: []string{"member new a@0s in nothing, held by s1 firing ends=- occ=1"},
		},
		{
			name:    "a repeat of a held alert is silenced again",
			rows:    with(maintenance("s1"), heldMember()),
			ops:     []op{fire(alert("a", t0)), fire(alert("a", now).unknownStart())},
			want:    []incident.Verdict{incident.VerdictSilenced, incident.VerdictSilenced},
			changes: []string{"member upd a@0s in nothing, held by s1 firing ends=- occ=3"},
		},
		{
			name: "a silence holds only what all its matchers match, in its scope",
			rows: with(maintenance("s1", Matcher{Name: "service", Value: "api", Op: MatchEqual}, Matcher{Name: "env", Value: "prod", Op: MatchEqual}),
				Silence{ID: "s2", Scope: "staging", Matchers: []Matcher{{Name: "service", Value: "api", Op: MatchEqual}}, StartsAt: t0, EndsAt: now.Add(time.Hour)}),
			ops:  []op{fire(alert("a", t0))},
			want: []incident.Verdict{incident.VerdictCreated},
			changes: []string{
				"event new:a created fp=a",
				"incident new:a open medium detected=0s resolved=- seen=1h0m0s occ=1 alerts=1 firing=1 reopens=0 ",
				"member new a@0s in new:a firing ends=- occ=1",
			},
		},
		{
			name: "a pending or expired silence holds nothing",
			rows: with(Silence{ID: "later", Matchers: []Matcher{{Name: "service", Value: "api", Op: MatchEqual}}, StartsAt: now.Add(time.Minute), EndsAt: now.Add(time.Hour)},
				Silence{ID: "over", Matchers: []Matcher{{Name: "service", Value: "api", Op: MatchEqual}}, StartsAt: t0, EndsAt: now}),
			ops:  []op{fire(alert("a", t0))},
			want: []incident.Verdict{incident.VerdictCreated},
			changes: []string{
				"event new:a created fp=a",
				"incident new:a open medium detected=0s resolved=- seen=1h0m0s occ=1 alerts=1 firing=1 reopens=0 ",
				"member new a@0s in new:a firing ends=- occ=1",
			},
		},
		{
			name: "silences never hide what exists: a new alert of an open incident joins it",
			rows: with(append(pair(openIncident("g", "a")), maintenance("s1"))...),
			ops:  []op{fire(alert("b", t0).inG())},
			want: []incident.Verdict{incident.VerdictGrouped},
			changes: []string{
				"event inc-g alert_added key=b@2026-12-01T10:00:00Z fp=b",
				"incident inc-g open medium detected=0s resolved=- seen=1h0m0s occ=2 alerts=2 firing=2 reopens=0 ",
				"member new b@0s in inc-g firing ends=- occ=1",
			},
		},
		{
			name:    "a flapping alert is held too: a reopen would open its incident",
			cfg:     Config{ReopenWindow: time.Hour},
			rows:    with(append(pair(resolvedIncident("a", t0.Add(5*time.Minute))), maintenance("s1"))...),
			ops:     []op{fire(alert("a", t0.Add(10*time.Minute)))},
			want:    []incident.Verdict{incident.VerdictSilenced},
			changes: []string{"member new a@10m0s in nothing, held by s1 firing ends=- occ=1"},
		},
		{
			name:    "a held alert that resolves resolves its row, nothing else",
			rows:    with(maintenance("s1"), heldMember()),
			ops:     []op{fire(alert("a", t0).resolvedAt(t0.Add(5 * time.Minute))), fire(alert("a", t0))},
			want:    []incident.Verdict{incident.VerdictIgnored, incident.VerdictSilenced},
			changes: []string{"member upd a@0s in nothing, held by s1 resolved ends=5m0s occ=1"},
		},
		{
			name: "when its silence ended, a held alert opens its incident, detected when it started",
			rows: with(heldMember()),
			ops:  []op{release(alert("a", t0)), release(alert("a", t0))},
			want: []incident.Verdict{incident.VerdictCreated, incident.VerdictUnchanged},
			changes: []string{
				"event new:a created fp=a note=held by silence s1",
				"incident new:a open medium detected=0s resolved=- seen=1h0m0s occ=1 alerts=1 firing=1 reopens=0 ",
				"member upd a@0s in new:a (held by s1) firing ends=- occ=1",
			},
		},
		{
			name:    "another active silence that matches holds it on",
			rows:    with(heldMember(), maintenance("s2", Matcher{Name: "alertname", Value: "High.*", Op: MatchRegexp})),
			ops:     []op{release(alert("a", t0))},
			want:    []incident.Verdict{incident.VerdictSilenced},
			changes: []string{"member upd a@0s in nothing, held by s2 firing ends=- occ=1"},
		},
		{
			name: "a released alert joins its group's open incident",
			rows: with(append(pair(openIncident("g", "b")), heldMember())...),
			ops:  []op{release(alert("a", t0).inG())},
			want: []incident.Verdict{incident.VerdictGrouped},
			changes: []string{
				"event inc-g alert_added key=a@2026-12-01T10:00:00Z fp=a note=held by silence s1",
				"incident inc-g open medium detected=0s resolved=- seen=1h0m0s occ=2 alerts=2 firing=2 reopens=0 ",
				"member upd a@0s in inc-g (held by s1) firing ends=- occ=1",
			},
		},
		{
			name: "a held alert that resolved opens nothing",
			rows: with(func() []*Member {
				ms := heldMember()
				ms[0].Status, ms[0].EndsAt = StatusResolved, t0.Add(time.Minute)
				return ms
			}()),
			ops:  []op{release(alert("a", t0))},
			want: []incident.Verdict{incident.VerdictUnchanged},
		},
		{
			name:    "heartbeats are never silenced",
			cfg:     heartbeats,
			rows:    with(maintenance("s1")), // it matches the heartbeat's labels
			ops:     []op{fire(alert("w", t0).watchdog())},
			want:    []incident.Verdict{incident.VerdictHeartbeat},
			changes: []string{"beat prod"},
		},
		// heartbeats
		{
			name:    "a firing heartbeat refreshes its scope and opens nothing",
			cfg:     heartbeats,
			ops:     []op{fire(alert("w", t0).watchdog())},
			want:    []incident.Verdict{incident.VerdictHeartbeat},
			changes: []string{"beat prod"},
		},
		{
			name: "a heartbeat resolves its scope's heartbeat incident",
			cfg:  heartbeats,
			rows: with(heartbeatIncident()),
			ops:  []op{fire(alert("w", t0).watchdog())},
			want: []incident.Verdict{incident.VerdictHeartbeat},
			changes: []string{
				"beat prod",
				"event hb resolved reason=heartbeat_received",
				"incident hb resolved critical detected=0s resolved=1h0m0s seen=0s occ=1 alerts=0 firing=0 reopens=0 heartbeat_received",
			},
		},
		{
			name: "a resolved heartbeat is not a heartbeat",
			cfg:  heartbeats,
			rows: with(heartbeatIncident()),
			ops:  []op{fire(alert("w", t0).watchdog().resolvedAt(t0.Add(time.Minute)))},
			want: []incident.Verdict{incident.VerdictIgnored},
		},
		{
			name: "a silent scope gets one critical incident",
			cfg:  heartbeats,
			rows: with(map[string]time.Time{scope: now.Add(-6 * time.Minute)}),
			ops:  []op{check(scope)},
			want: []incident.Verdict{incident.VerdictCreated},
			changes: []string{
				"event new: created",
				"incident new: open critical detected=1h0m0s resolved=- seen=1h0m0s occ=1 alerts=0 firing=0 reopens=0 ",
			},
		},
		{
			name: "a scope heard within the timeout is fine",
			cfg:  heartbeats,
			rows: with(map[string]time.Time{scope: now.Add(-4 * time.Minute)}),
			ops:  []op{check(scope)},
			want: []incident.Verdict{incident.VerdictUnchanged},
		},
		{
			name: "a scope that never sent a heartbeat is not watched",
			cfg:  heartbeats,
			ops:  []op{check(scope)},
			want: []incident.Verdict{incident.VerdictUnchanged},
		},
		{
			name: "a silent scope with its incident open gets no second one",
			cfg:  heartbeats,
			rows: with(heartbeatIncident(), map[string]time.Time{scope: t0}),
			ops:  []op{check(scope)},
			want: []incident.Verdict{incident.VerdictUnchanged},
		},
		{
			name: "a removed integration's heartbeat incident resolves and its heartbeat is forgotten",
			cfg:  heartbeats,
			rows: with(heartbeatIncident(), map[string]time.Time{scope: t0}),
			ops:  []op{forget(scope), check(scope)},
			want: []incident.Verdict{incident.VerdictResolved, incident.VerdictUnchanged},
			changes: []string{
				"event hb resolved reason=integration_removed",
				"forget prod",
				"incident hb resolved critical detected=0s resolved=1h0m0s seen=0s occ=1 alerts=0 firing=0 reopens=0 integration_removed",
			},
		},
		{
			name:    "a removed integration without an incident is only forgotten",
			cfg:     heartbeats,
			rows:    with(map[string]time.Time{scope: now}),
			ops:     []op{forget(scope)},
			want:    []incident.Verdict{incident.VerdictUnchanged},
			changes: []string{"forget prod"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			st := tt.rows.state()
			ops := make([]Op, len(tt.ops))
			for i, o := range tt.ops {
				ops[i] = o(&cfg)
			}
			out := cfg.Run(st, ops, now)
			got := make([]incident.Verdict, len(out))
			for i, o := range out {
				got[i] = o.Verdict
			}
			assert.Equal(t, tt.want, got)
			want := append([]string(nil), tt.changes...)
			sort.Strings(want)
			if len(want) == 0 {
				want = nil
			}
			assert.Equal(t, want, changes(st))
		})
	}
}
