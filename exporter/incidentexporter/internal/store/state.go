package store // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/store"

import (
	"time"
)

// The rows a transaction reads, changes in memory (rules.go) and writes back.
// Every row is read under the lock of its group, so what is in memory is what
// is in the database until this transaction commits.

type groupRef struct{ scope, key string }

type alertRef struct{ scope, fingerprint string }

type instanceRef struct {
	alertRef
	startsAt time.Time
}

type incidentRow struct {
	id, scope, groupKey, fingerprint, title, severity, status string
	detectedAt, resolvedAt, lastSeenAt                        time.Time // resolvedAt zero: NULL
	occurrences, alertCount, firingAlerts, reopenCount        int64

	// Only for a row this transaction creates.
	project, source, description, serviceName, labels, annotations, generatorURL, previousID string

	reason       string // resolution_reason; "" is NULL
	isNew, dirty bool
}

type memberRow struct {
	incidentID                    string
	ref                           instanceRef
	status, title                 string
	endsAt, lastSeenAt            time.Time
	occurrences                   int64
	severity, labels, annotations string // only for a row this transaction creates
	isNew, dirty                  bool
}

// event is one analysis outbox row to queue.
type event struct{ incidentID, name, key string }

// state is what one transaction knows of the groups it holds.
type state struct {
	incidents map[string]*incidentRow // by id
	open      map[groupRef]*incidentRow
	latest    map[groupRef]*incidentRow // the latest resolved incident of the group
	members   map[instanceRef]*memberRow
	firing    map[alertRef]*memberRow
	// heartbeats read by the sweep: scope → last seen; absent: never seen.
	heartbeats map[string]time.Time

	// Writes that are not row states: members closed with their incident,
	// heartbeats refreshed, events queued.
	closed   []closedIncident
	beats    []beat
	events   []event
	incOrder []*incidentRow // incidents in the order they were first touched, for stable writes
	memOrder []*memberRow
}

type closedIncident struct {
	id     string
	endsAt time.Time
}

type beat struct{ scope, alertname string }

func newState() *state {
	return &state{
		incidents:  map[string]*incidentRow{},
		open:       map[groupRef]*incidentRow{},
		latest:     map[groupRef]*incidentRow{},
		members:    map[instanceRef]*memberRow{},
		firing:     map[alertRef]*memberRow{},
		heartbeats: map[string]time.Time{},
	}
}

// addIncident records a row read from the database (or created): the open
// incident of its group, or the latest resolved one. A row read twice (two
// queries found it) is kept once.
func (st *state) addIncident(r *incidentRow) *incidentRow {
	if have := st.incidents[r.id]; have != nil {
		return have
	}
	st.incidents[r.id] = r
	st.incOrder = append(st.incOrder, r)
	g := groupRef{r.scope, r.groupKey}
	if r.status == statusOpen {
		st.open[g] = r
	} else if l := st.latest[g]; l == nil || r.resolvedAt.After(l.resolvedAt) {
		st.latest[g] = r
	}
	return r
}

// addMember records an instance read from the database (or created); one
// read twice is kept once.
func (st *state) addMember(m *memberRow) {
	if st.members[m.ref] != nil {
		return
	}
	st.members[m.ref] = m
	st.memOrder = append(st.memOrder, m)
	if m.status == statusFiring {
		st.firing[m.ref.alertRef] = m
	}
}

// Row statuses.
const (
	statusOpen     = "open"
	statusResolved = "resolved"
	statusFiring   = "firing"
)
