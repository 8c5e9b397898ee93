package rules

import (
	"slices"
	"time"
)

// State is what one transaction knows of the groups it holds: the rows read
// under their locks, as the operations change them, and what else the
// operations want written (events, heartbeats). Every row is read under the
// lock of its group, so what is here is what is in the store until the
// transaction commits.
type State struct {
	incidents map[string]*Incident // by id
	open      map[GroupRef]*Incident
	latest    map[GroupRef]*Incident // the group's latest resolved incident
	members   map[InstanceRef]*Member
	firing    map[AlertRef]*Member
	// heartbeats: scope → its last heartbeat, for the scopes read; absent:
	// never seen.
	heartbeats map[string]time.Time
	silences   *Silences

	incidentOrder []*Incident // as first added, so that writes are stable
	memberOrder   []*Member
	events        []Event
	beats         []Beat
	forgotten     []string
}

// NewState is an empty state.
func NewState() *State {
	return &State{
		incidents:  map[string]*Incident{},
		open:       map[GroupRef]*Incident{},
		latest:     map[GroupRef]*Incident{},
		members:    map[InstanceRef]*Member{},
		firing:     map[AlertRef]*Member{},
		heartbeats: map[string]time.Time{},
	}
}

// AddIncident adds a row read from the store (or created): its group's open
// incident, or a resolved one (the latest of its group is kept as such). A
// row added twice (two reads found it) is kept once; the first is returned.
func (st *State) AddIncident(inc *Incident) *Incident {
	if have := st.incidents[inc.ID]; have != nil {
		return have
	}
	st.incidents[inc.ID] = inc
	st.incidentOrder = append(st.incidentOrder, inc)
	g := inc.Group()
	if inc.Status == StatusOpen {
		st.open[g] = inc
	} else if l := st.latest[g]; l == nil || inc.ResolvedAt.After(l.ResolvedAt) {
		st.latest[g] = inc
	}
	return inc
}

// AddMember adds an instance read from the store (or created); one added
// twice is kept once.
func (st *State) AddMember(m *Member) {
	if st.members[m.Ref] != nil {
		return
	}
	st.members[m.Ref] = m
	st.memberOrder = append(st.memberOrder, m)
	if m.Status == StatusFiring {
		st.firing[m.Ref.AlertRef] = m
	}
}

// SetSilences gives the silences active at the transaction's time.
func (st *State) SetSilences(s *Silences) { st.silences = s }

// SetHeartbeat records a scope's last heartbeat as read.
func (st *State) SetHeartbeat(scope string, last time.Time) { st.heartbeats[scope] = last }

// Incident is the incident with id, or nil.
func (st *State) Incident(id string) *Incident { return st.incidents[id] }

// Open is the group's open incident, or nil.
func (st *State) Open(g GroupRef) *Incident { return st.open[g] }

// Member is the instance, or nil.
func (st *State) Member(ref InstanceRef) *Member { return st.members[ref] }

// Incidents are every incident, in the order they were added.
func (st *State) Incidents() []*Incident { return st.incidentOrder }

// Members are every instance, in the order they were added.
func (st *State) Members() []*Member { return st.memberOrder }

// Events are the events the operations queued, in order.
func (st *State) Events() []Event { return st.events }

// Beats are the heartbeats to record, in order.
func (st *State) Beats() []Beat { return st.beats }

// Forgotten are the scopes whose heartbeat is no longer watched.
func (st *State) Forgotten() []string { return st.forgotten }

// UnreadIncidents are the incidents of firing instances that were not read
// with them (an alert firing in another group's incident), sorted.
func (st *State) UnreadIncidents() []string {
	var ids []string
	for _, m := range st.firing {
		if !m.held() && st.incidents[m.IncidentID] == nil && !slices.Contains(ids, m.IncidentID) {
			ids = append(ids, m.IncidentID)
		}
	}
	slices.Sort(ids)
	return ids
}

// firingMembers are the firing instances of inc that were read.
func (st *State) firingMembers(inc *Incident) []*Member {
	var out []*Member
	for _, m := range st.memberOrder {
		if m.IncidentID == inc.ID && m.Status == StatusFiring {
			out = append(out, m)
		}
	}
	return out
}

func (st *State) queue(e Event) { st.events = append(st.events, e) }
