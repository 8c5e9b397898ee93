package store

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/rules"
	"github.com/sre-copilot/incident-collector/internal/incident"
)

// Each sink is told of the events it wants, of the incidents it wants, and
// claims only its own; an event carries who acted and why.
func TestSinksGetWhatTheyWant(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		all := []string{rules.EventCreated, rules.EventResolved, rules.EventAcknowledged, rules.EventUnacknowledged}
		s := e.open(Options{Sinks: []Sink{
			{Name: "chat", Events: all},
			{Name: "paging", Events: all, MinSeverity: incident.SeverityCritical},
			{Name: "other-team", Events: []string{rules.EventCreated}, Scopes: []string{"other"}},
		}})
		medium := firing("medium", t0)
		medium.Severity = incident.SeverityMedium
		critical := firing("critical", t0)
		critical.Scope = "other"
		mediumID := apply1(t, s, medium).IncidentID
		criticalID := apply1(t, s, critical).IncidentID
		_, _, err := s.Act(context.Background(), rules.KindAcknowledge, criticalID, "alice", "on it")
		require.NoError(t, err)
		_, _, err = s.Act(context.Background(), rules.KindResolve, mediumID, "bob", "false alarm")
		require.NoError(t, err)

		claim := func(sink string) map[string]OutboxEvent {
			t.Helper()
			events, claimErr := s.ClaimOutbox(context.Background(), sink, time.Now().Add(time.Hour), time.Minute, 100)
			require.NoError(t, claimErr)
			out := map[string]OutboxEvent{}
			for _, e := range events {
				assert.Equal(t, sink, e.Sink)
				out[e.Incident.Fingerprint+":"+e.Event] = e
				require.NoError(t, s.MarkDelivered(context.Background(), e.ID, time.Now()))
			}
			return out
		}
		drain := func(sink string) []string {
			t.Helper()
			var got []string
			for range 5 { // one event per incident per claim: in order
				for k := range claim(sink) {
					got = append(got, k)
				}
			}
			return got
		}
		assert.ElementsMatch(t, []string{"medium:created", "critical:created", "critical:acknowledged", "medium:resolved"}, drain("chat"))
		assert.ElementsMatch(t, []string{"critical:created", "critical:acknowledged"}, drain("paging"), "critical only")
		assert.ElementsMatch(t, []string{"critical:created"}, drain("other-team"), "its integration, its events")

		_, _, err = s.Act(context.Background(), rules.KindUnacknowledge, criticalID, "carol", "not mine")
		require.NoError(t, err)
		got := claim("chat")["critical:unacknowledged"]
		assert.Equal(t, "carol", got.By)
		assert.Equal(t, "not mine", got.Note)
		assert.Equal(t, "critical", got.Incident.Fingerprint)
		require.Len(t, got.Alerts, 1)
		assert.Equal(t, "critical", got.Alerts[0].Ref.Fingerprint)
		assert.Contains(t, claim("paging"), "critical:unacknowledged")
		_, _, err = s.Act(context.Background(), rules.KindResolve, criticalID, "carol", "")
		require.NoError(t, err)
		got = claim("paging")["critical:resolved"]
		assert.Equal(t, rules.ReasonManual, got.Reason)
		assert.Equal(t, "carol", got.By)
	})
}

// An incident that becomes severe enough for a sink (an alert of higher
// severity joins it) is told to that sink as created then, once; its
// resolution follows.
func TestEscalatedIncidentReachesItsSink(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		s := e.open(Options{Sinks: []Sink{
			{Name: "paging", Events: []string{rules.EventCreated, rules.EventResolved}, MinSeverity: incident.SeverityCritical},
			{Name: "chat", Events: []string{rules.EventCreated, rules.EventResolved}},
		}})
		warning := inGroup(firing("warn", t0), "g")
		warning.Severity = incident.SeverityHigh
		critical := inGroup(firing("crit", t0), "g")
		verdicts(t, s, warning)
		assert.Equal(t, 0, countWhere(t, s, "outbox", "sink = 'paging'"), "not severe enough yet")
		verdicts(t, s, critical)
		critical2 := inGroup(firing("crit2", t0), "g")
		verdicts(t, s, critical2)
		verdicts(t, s, inGroup(resolved("warn", t0, t0.Add(time.Minute)), "g"), inGroup(resolved("crit", t0, t0.Add(time.Minute)), "g"),
			inGroup(resolved("crit2", t0, t0.Add(time.Minute)), "g"))
		got := map[string][]string{} // each sink's events, in order
		err := eachRow(s.db.Query(`SELECT sink, event FROM outbox ORDER BY id`))(func(scan func(...any) error) error {
			var sink, event string
			if err := scan(&sink, &event); err != nil {
				return err
			}
			got[sink] = append(got[sink], event)
			return nil
		})
		require.NoError(t, err)
		want := []string{rules.EventCreated, rules.EventResolved}
		assert.Equal(t, map[string][]string{"chat": want, "paging": want}, got)
	})
}
