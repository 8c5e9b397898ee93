package store

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumererror"

	"github.com/sre-copilot/incident-collector/internal/incident"
	"github.com/sre-copilot/incident-collector/internal/testutil"
)

var t0 = time.Date(2026, 11, 28, 19, 0, 0, 0, time.UTC)

type fakeClock struct{ now atomic.Pointer[time.Time] }

func newClock(t time.Time) *fakeClock { c := &fakeClock{}; c.set(t); return c }
func (c *fakeClock) set(t time.Time)  { c.now.Store(&t) }
func (c *fakeClock) Now() time.Time   { return *c.now.Load() }

func firing(fp string, startsAt time.Time) Alert {
	return Alert{
		Scope: "alertmanager", Fingerprint: fp, Status: incident.StatusFiring, StartsAt: startsAt,
		Title: "HighErrorRate", Description: "Error rate above 5%", ServiceName: "api-gateway", Severity: "critical",
		Source: "alertmanager", Project: "prod", Labels: `{"alertname":"HighErrorRate"}`, Annotations: `{"summary":"s"}`,
		GeneratorURL: "http://prometheus:9090/graph",
	}
}

func resolved(fp string, startsAt, endsAt time.Time) Alert {
	a := firing(fp, startsAt)
	a.Status, a.EndsAt = incident.StatusResolved, endsAt
	return a
}

func apply1(t *testing.T, s *Store, a Alert) incident.Outcome {
	t.Helper()
	res, err := s.Apply(context.Background(), []Alert{a})
	require.NoError(t, err)
	require.Len(t, res, 1)
	return res[0]
}

type row struct {
	ID, Status, Previous string
	Occurrences          int64
	DetectedAt, LastSeen string
	ResolvedAt, Reason   sql.NullString
	Title, Labels        string
}

// rows reads incidents back, timestamps as RFC 3339 text whatever the engine.
func rows(t *testing.T, s *Store, fp string) []row {
	t.Helper()
	q := `SELECT CAST(id AS TEXT), status, COALESCE(CAST(previous_incident_id AS TEXT), ''), occurrences,
		detected_at, last_seen_at, resolved_at, resolution_reason, title, CAST(labels AS TEXT)
		FROM incidents WHERE fingerprint = $1 ORDER BY created_at, detected_at`
	r, err := s.db.Query(q, fp)
	require.NoError(t, err)
	defer r.Close()
	var out []row
	for r.Next() {
		var x row
		var detected, lastSeen, resolvedAt any
		require.NoError(t, r.Scan(&x.ID, &x.Status, &x.Previous, &x.Occurrences, &detected, &lastSeen, &resolvedAt, &x.Reason, &x.Title, &x.Labels))
		x.DetectedAt, x.LastSeen = tsText(detected), tsText(lastSeen)
		if resolvedAt != nil {
			x.ResolvedAt = sql.NullString{String: tsText(resolvedAt), Valid: true}
		}
		out = append(out, x)
	}
	require.NoError(t, r.Err())
	return out
}

func tsText(v any) string {
	switch x := v.(type) {
	case time.Time:
		return x.UTC().Format(sqliteTimeLayout)
	case string:
		return x
	case []byte:
		return string(x)
	}
	return fmt.Sprint(v)
}

func ts(t time.Time) string { return t.UTC().Format(sqliteTimeLayout) }

func TestDedupRules(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		clock := newClock(t0.Add(time.Minute))
		s := e.open(Options{Clock: clock.Now})

		// firing, nothing open → created.
		r1 := apply1(t, s, firing("fp1", t0))
		assert.Equal(t, incident.VerdictCreated, r1.Verdict)
		assert.Equal(t, "HighErrorRate", r1.Title)
		require.Len(t, rows(t, s, "fp1"), 1)
		assert.Equal(t, "open", rows(t, s, "fp1")[0].Status)
		assert.Equal(t, int64(1), rows(t, s, "fp1")[0].Occurrences)
		assert.JSONEq(t, `{"alertname":"HighErrorRate"}`, rows(t, s, "fp1")[0].Labels)

		// firing again → duplicate: occurrences and last_seen_at move.
		clock.set(t0.Add(5 * time.Minute))
		r2 := apply1(t, s, firing("fp1", t0))
		assert.Equal(t, incident.VerdictDuplicate, r2.Verdict)
		assert.Equal(t, r1.IncidentID, r2.IncidentID)
		got := rows(t, s, "fp1")
		require.Len(t, got, 1)
		assert.Equal(t, int64(2), got[0].Occurrences)
		assert.Equal(t, ts(t0.Add(5*time.Minute)), got[0].LastSeen)
		assert.Equal(t, ts(t0), got[0].DetectedAt)

		// resolved → resolves, resolved_at = endsAt.
		clock.set(t0.Add(60 * time.Minute))
		r3 := apply1(t, s, resolved("fp1", t0, t0.Add(55*time.Minute)))
		assert.Equal(t, incident.VerdictResolved, r3.Verdict)
		assert.Equal(t, r1.IncidentID, r3.IncidentID)
		got = rows(t, s, "fp1")
		require.Len(t, got, 1)
		assert.Equal(t, "resolved", got[0].Status)
		assert.Equal(t, ts(t0.Add(55*time.Minute)), got[0].ResolvedAt.String)
		assert.Equal(t, "alert_resolved", got[0].Reason.String)

		// the same resolved again → nothing open → ignored, nothing created.
		r4 := apply1(t, s, resolved("fp1", t0, t0.Add(55*time.Minute)))
		assert.Equal(t, incident.VerdictIgnored, r4.Verdict)

		// a stale firing of the resolved instance (a retry, an HA echo) → duplicate, stays resolved.
		r5 := apply1(t, s, firing("fp1", t0))
		assert.Equal(t, incident.VerdictDuplicate, r5.Verdict)
		assert.Equal(t, r1.IncidentID, r5.IncidentID)
		got = rows(t, s, "fp1")
		require.Len(t, got, 1)
		assert.Equal(t, "resolved", got[0].Status)

		// fires again with a new startsAt → a new incident linked to the previous one.
		r6 := apply1(t, s, firing("fp1", t0.Add(90*time.Minute)))
		assert.Equal(t, incident.VerdictCreated, r6.Verdict)
		assert.NotEqual(t, r1.IncidentID, r6.IncidentID)
		got = rows(t, s, "fp1")
		require.Len(t, got, 2)
		assert.Equal(t, r1.IncidentID, got[1].Previous)
		assert.Equal(t, "open", got[1].Status)

		// a late resolved notification of the older instance does not close the newer one.
		r7 := apply1(t, s, resolved("fp1", t0, t0.Add(55*time.Minute)))
		assert.Equal(t, incident.VerdictIgnored, r7.Verdict)
		assert.Equal(t, "open", rows(t, s, "fp1")[1].Status)

		// resolved with no incident at all → nothing created.
		r8 := apply1(t, s, resolved("never-fired", t0, t0.Add(time.Minute)))
		assert.Equal(t, incident.VerdictIgnored, r8.Verdict)
		assert.Empty(t, rows(t, s, "never-fired"))

		// the same fingerprint in another scope is another incident.
		other := firing("fp1", t0.Add(90*time.Minute))
		other.Scope = "550e8400-e29b-41d4-a716-446655440000"
		assert.Equal(t, incident.VerdictCreated, apply1(t, s, other).Verdict)
	})
}

// Results come back per caller in the caller's order even when the group
// commit reorders alerts by key.
func TestApplyKeepsOrderWithinARequest(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		s := e.open(Options{Clock: time.Now})
		res, err := s.Apply(context.Background(), []Alert{
			firing("zz", t0), firing("aa", t0), firing("zz", t0), resolved("aa", t0, t0.Add(time.Minute)), firing("mm", t0),
		})
		require.NoError(t, err)
		verdicts := make([]incident.Verdict, len(res))
		for i, r := range res {
			verdicts[i] = r.Verdict
		}
		assert.Equal(t, []incident.Verdict{
			incident.VerdictCreated, incident.VerdictCreated, incident.VerdictDuplicate, incident.VerdictResolved, incident.VerdictCreated,
		}, verdicts)
		assert.Equal(t, res[0].IncidentID, res[2].IncidentID)
		assert.Equal(t, res[1].IncidentID, res[3].IncidentID)
	})
}

func TestConcurrentSameAlertMakesOneIncident(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		s := e.open(Options{Clock: time.Now})
		counts := deliverConcurrently(t, []*Store{s}, 50, firing("same", t0))
		assert.Equal(t, 1, counts[incident.VerdictCreated])
		assert.Equal(t, 49, counts[incident.VerdictDuplicate])
		got := rows(t, s, "same")
		require.Len(t, got, 1)
		assert.Equal(t, int64(50), got[0].Occurrences)
	})
}

// Two exporters (two replicas) on one database: still one incident.
func TestTwoStoresOnOnePostgres(t *testing.T) {
	dsn := testutil.PostgresSchema(t)
	a := openOptions(t, Options{Driver: DriverPostgres, DSN: dsn})
	b := openOptions(t, Options{Driver: DriverPostgres, DSN: dsn})
	counts := deliverConcurrently(t, []*Store{a, b}, 50, firing("ha", t0))
	assert.Equal(t, 1, counts[incident.VerdictCreated])
	assert.Equal(t, 49, counts[incident.VerdictDuplicate])
	require.Len(t, rows(t, a, "ha"), 1)
}

func deliverConcurrently(t *testing.T, stores []*Store, n int, a Alert) map[incident.Verdict]int {
	t.Helper()
	var mu sync.Mutex
	counts := map[incident.Verdict]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			res, err := stores[i%len(stores)].Apply(context.Background(), []Alert{a})
			if !assert.NoError(t, err) {
				return
			}
			mu.Lock()
			counts[res[0].Verdict]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	return counts
}

func TestMigrations(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		s := e.open(Options{})
		apply1(t, s, firing("kept", t0))
		require.NoError(t, s.Close(context.Background()))
		// A second start applies nothing and keeps the data.
		s2 := e.open(Options{})
		var n int
		require.NoError(t, s2.db.QueryRow("SELECT COUNT(*) FROM schema_migrations").Scan(&n))
		migrations, err := loadMigrations(s2.d)
		require.NoError(t, err)
		assert.Equal(t, len(migrations), n)
		assert.Len(t, rows(t, s2, "kept"), 1)
		// Foreign keys hold after the migrations that rebuilt tables.
		_, err = s2.db.Exec(`INSERT INTO incident_alerts (incident_id, dedup_scope, fingerprint, status, starts_at, first_seen_at, last_seen_at)
			VALUES ('01930000-0000-7000-8000-0000000000ff', 's', 'orphan', 'firing', $1, $1, $1)`, s2.d.ts(t0))
		require.Error(t, err, "a member of no incident")
	})
}

func TestConcurrentMigrationsOnPostgres(t *testing.T) {
	dsn := testutil.PostgresSchema(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	stores := make([]*Store, 4)
	for i := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stores[i], errs[i] = Open(context.Background(), Options{Driver: DriverPostgres, DSN: dsn})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "replica %d", i)
		defer stores[i].Close(context.Background())
	}
	var n int
	require.NoError(t, stores[0].db.QueryRow("SELECT COUNT(*) FROM schema_migrations").Scan(&n))
	migrations, err := loadMigrations(postgresDialect{})
	require.NoError(t, err)
	assert.Equal(t, len(migrations), n, "each migration applied once")
	assert.GreaterOrEqual(t, n, 2)
}

func TestPostgresDownIsRetryableThenRecovers(t *testing.T) {
	dsn := testutil.PostgresSchema(t)
	proxy := testutil.NewProxy(t, "127.0.0.1:5432")
	proxied := strings.Replace(dsn, "127.0.0.1:5432", proxy.Addr(), 1)
	proxied = strings.Replace(proxied, "localhost:5432", proxy.Addr(), 1)
	require.NotEqual(t, dsn, proxied, "the test DSN must name 127.0.0.1:5432 or localhost:5432")
	s := openOptions(t, Options{Driver: DriverPostgres, DSN: proxied})
	assert.Equal(t, incident.VerdictCreated, apply1(t, s, firing("before", t0)).Verdict)

	proxy.Cut()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := s.Apply(ctx, []Alert{firing("during", t0)})
	require.Error(t, err)
	assert.False(t, consumererror.IsPermanent(err), "an outage is retryable: %v", err)
	assert.NotContains(t, err.Error(), "password")

	proxy.Restore()
	// The sender retries the same alert: it is stored once.
	var res []incident.Outcome
	require.Eventually(t, func() bool {
		res, err = s.Apply(context.Background(), []Alert{firing("during", t0)})
		return err == nil
	}, 10*time.Second, 100*time.Millisecond)
	assert.Contains(t, []incident.Verdict{incident.VerdictCreated, incident.VerdictDuplicate}, res[0].Verdict)
	assert.Len(t, rows(t, s, "during"), 1)
	assert.Equal(t, incident.VerdictDuplicate, apply1(t, s, firing("before", t0)).Verdict)
}

func TestResolveStale(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		clock := newClock(t0)
		s := e.open(Options{Clock: clock.Now})
		apply1(t, s, firing("old", t0))
		clock.set(t0.Add(2 * time.Hour))
		apply1(t, s, firing("fresh", t0))
		n, err := s.ResolveStale(context.Background(), t0.Add(time.Hour))
		require.NoError(t, err)
		assert.Equal(t, int64(1), n)
		old := rows(t, s, "old")[0]
		assert.Equal(t, "resolved", old.Status)
		assert.Equal(t, "auto_resolved", old.Reason.String)
		assert.Equal(t, ts(t0.Add(2*time.Hour)), old.ResolvedAt.String)
		assert.Equal(t, "open", rows(t, s, "fresh")[0].Status)
	})
}

func TestOpenErrorsHideTheDSN(t *testing.T) {
	_, err := Open(context.Background(), Options{Driver: DriverPostgres, DSN: "postgres://user:s3cr3t@127.0.0.1:1/db?connect_timeout=1"})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "s3cr3t")
	_, err = Open(context.Background(), Options{Driver: DriverPostgres, DSN: "postgres://user:s3cr3t@[bad"})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "s3cr3t")
	_, err = Open(context.Background(), Options{Driver: "mysql", DSN: "x"})
	assert.ErrorContains(t, err, `unknown store driver "mysql"`)
}

func TestApplyAfterClose(t *testing.T) {
	s, err := Open(context.Background(), Options{Driver: DriverSQLite, DSN: filepath.Join(t.TempDir(), "x.db")})
	require.NoError(t, err)
	require.NoError(t, s.Close(context.Background()))
	_, err = s.Apply(context.Background(), []Alert{firing("x", t0)})
	assert.ErrorIs(t, err, ErrClosed)
}
