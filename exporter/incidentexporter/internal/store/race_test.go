package store

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/rules"
	"github.com/sre-copilot/incident-collector/internal/incident"
	"github.com/sre-copilot/incident-collector/internal/testutil"
)

// Fire alert X; then deliver resolved(X, S) and firing(X, S) at the same
// moment, for 200 keys. Whatever the order, each key ends with exactly one
// incident, resolved, and the firing of the resolved instance is a duplicate
// (it was a stale retry): no phantom incident. (Issue #10: a snapshot read
// let PostgreSQL open a second incident for half of the keys.)
func TestFireResolveRace(t *testing.T) {
	const keys = 200
	run := func(t *testing.T, stores []*Store) {
		t.Helper()
		first := make([]Alert, keys)
		for i := range first {
			first[i] = firing(fmt.Sprintf("race-%03d", i), t0)
		}
		_, err := stores[0].Apply(context.Background(), first)
		require.NoError(t, err)

		var wg sync.WaitGroup
		var mu sync.Mutex
		firingVerdicts := map[incident.Verdict]int{}
		start := make(chan struct{})
		for i := range keys {
			fp := fmt.Sprintf("race-%03d", i)
			for j, a := range []Alert{resolved(fp, t0, t0.Add(1e9)), firing(fp, t0)} {
				s := stores[(i+j)%len(stores)]
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					res, err := s.Apply(context.Background(), []Alert{a})
					if !assert.NoError(t, err) {
						return
					}
					if a.Status == incident.StatusFiring {
						mu.Lock()
						firingVerdicts[res[0].Verdict]++
						mu.Unlock()
					}
				}()
			}
		}
		close(start)
		wg.Wait()

		assert.Equal(t, map[incident.Verdict]int{incident.VerdictDuplicate: keys}, firingVerdicts)
		s := stores[0]
		assert.Equal(t, keys, countWhere(t, s, "incidents", "fingerprint LIKE 'race-%'"), "one incident per key")
		assert.Equal(t, keys, countWhere(t, s, "incidents", "fingerprint LIKE 'race-%' AND status = 'resolved'"))
		assert.Equal(t, keys, countWhere(t, s, "incident_alerts", "fingerprint LIKE 'race-%' AND status = 'resolved'"))
	}
	for _, name := range []string{DriverSQLite, DriverPostgres} {
		t.Run(name+"/one replica", func(t *testing.T) {
			run(t, []*Store{newEngine(t, name).open(Options{})})
		})
	}
	t.Run("postgres/two replicas", func(t *testing.T) {
		dsn := testutil.PostgresSchema(t)
		run(t, []*Store{
			openOptions(t, Options{Driver: DriverPostgres, DSN: dsn}),
			openOptions(t, Options{Driver: DriverPostgres, DSN: dsn}),
		})
	})
}

// Fire X; then its resolve and a new instance of it (a re-fire two minutes
// later) race, 150 keys, over replicas: whatever the order, the new instance
// fires in an open incident and the old one is resolved.
func TestResolveRacingANewInstance(t *testing.T) {
	const keys = 150
	t2 := t0.Add(2 * time.Minute)
	run := func(t *testing.T, stores []*Store) {
		t.Helper()
		first := make([]Alert, keys)
		for i := range first {
			first[i] = firing(fmt.Sprintf("again-%03d", i), t0)
		}
		_, err := stores[0].Apply(context.Background(), first)
		require.NoError(t, err)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range keys {
			fp := fmt.Sprintf("again-%03d", i)
			for j, a := range []Alert{resolved(fp, t0, t2), firing(fp, t2)} {
				s := stores[(i+j)%len(stores)]
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					_, err := s.Apply(context.Background(), []Alert{a})
					assert.NoError(t, err)
				}()
			}
		}
		close(start)
		wg.Wait()
		s := stores[0]
		assert.Equal(t, keys, countWhere(t, s, "incident_alerts", "fingerprint LIKE 'again-%' AND status = 'firing' AND starts_at = $1", s.d.ts(t2)))
		assert.Equal(t, keys, countWhere(t, s, "incident_alerts", "fingerprint LIKE 'again-%' AND status = 'resolved' AND starts_at = $1", s.d.ts(t0)))
		assert.Equal(t, keys, countWhere(t, s, "incidents", `fingerprint LIKE 'again-%' AND status = 'open' AND id IN
			(SELECT incident_id FROM incident_alerts WHERE status = 'firing')`), "each new instance fires in an open incident")
	}
	for _, name := range []string{DriverSQLite, DriverPostgres} {
		t.Run(name, func(t *testing.T) {
			run(t, []*Store{newEngine(t, name).open(Options{})})
		})
	}
	t.Run("postgres/three replicas", func(t *testing.T) {
		dsn := testutil.PostgresSchema(t)
		run(t, []*Store{
			openOptions(t, Options{Driver: DriverPostgres, DSN: dsn}),
			openOptions(t, Options{Driver: DriverPostgres, DSN: dsn}),
			openOptions(t, Options{Driver: DriverPostgres, DSN: dsn}),
		})
	})
}

// Two replicas on one PostgreSQL receive the same 20-alert group at once
// (an Alertmanager HA pair): one incident, 20 members, one created event.
func TestTwoReplicasSameGroup(t *testing.T) {
	dsn := testutil.PostgresSchema(t)
	o := Options{Driver: DriverPostgres, DSN: dsn, Sinks: analysis(rules.EventCreated, rules.EventResolved)}
	stores := []*Store{openOptions(t, o), openOptions(t, o)}
	group := make([]Alert, 20)
	for i := range group {
		group[i] = inGroup(firing(fmt.Sprintf("member-%02d", i), t0), `{}:{service="db"}`)
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for round := range 4 {
		for _, s := range stores {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				// Each replica gets the alerts in another order, as two senders would.
				alerts := append([]Alert(nil), group...)
				if round%2 == 1 {
					for i, j := 0, len(alerts)-1; i < j; i, j = i+1, j-1 {
						alerts[i], alerts[j] = alerts[j], alerts[i]
					}
				}
				_, err := s.Apply(context.Background(), alerts)
				assert.NoError(t, err)
			}()
		}
	}
	close(start)
	wg.Wait()
	s := stores[0]
	rows := groupedRows(t, s, "1 = 1")
	require.Len(t, rows, 1)
	assert.Equal(t, int64(20), rows[0].AlertCount)
	assert.Equal(t, 20, countWhere(t, s, "incident_alerts", "incident_id = $1", rows[0].ID))
	assert.Equal(t, []string{rules.EventCreated}, outboxEvents(t, s))
}
