// Package store keeps incidents in SQLite or PostgreSQL. The rules (package
// rules) decide what every alert, sweep and action does; this package reads
// the rows they need, runs them and writes what they changed, the same on
// both engines (dialect.go holds what differs). Each transaction first locks
// the groups it touches (PostgreSQL advisory locks; SQLite has one writer),
// so the rules read and write a group alone, and unique indexes stand behind
// them: concurrent writers (goroutines, replicas, an Alertmanager HA pair)
// cannot make two open incidents of one group or two firing instances of one
// alert.
//
// Words, one meaning each, in the code, the schema and the README:
//   - scope: the integration an alert came through (dedup_scope).
//   - alert: (scope, fingerprint).
//   - instance: one firing of an alert, (scope, fingerprint, starts_at).
//   - member: an instance as a row of its incident (incident_alerts).
//   - group: the alerts that share an incident, (scope, group_key).
//   - incident: a group's open incident, or one of its resolved ones.
//   - batch: the requests one transaction commits together (committer.go).
package store // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/store"

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/rules"
	"github.com/sre-copilot/incident-collector/internal/incident"
)

// Drivers.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// Alert is one alert as the exporter read it from a log record.
type Alert = rules.Alert

// Options open a store.
type Options struct {
	Driver string
	DSN    string
	Clock  func() time.Time
	// Sinks are told of incident changes: each event a sink wants is queued
	// in the outbox with the change. None: no outbox rows.
	Sinks []Sink
	Rules rules.Config
}

// Store applies alerts to incidents and keeps the analysis outbox.
type Store struct {
	db        *sql.DB
	d         dialect
	now       func() time.Time
	rules     rules.Config
	sinks     []Sink
	committer *committer
	exec      *executor
	sql       *statements
	// lockSpace tells this store's advisory locks from those of other
	// databases and schemas on the same PostgreSQL server.
	lockSpace string
	// woken are the dispatchers to wake after a commit that queued events.
	wokenMu  sync.Mutex
	woken    []chan struct{}
	silences silenceCacheRef
	// explain, in tests, sees the incident list's query before it runs.
	explain func(query string, args []any)
}

// Open connects to the store, applies the migrations and starts the group
// committer. The DSN never appears in an error: it may hold a password.
func Open(ctx context.Context, o Options) (*Store, error) {
	var (
		d   dialect
		db  *sql.DB
		err error
	)
	switch o.Driver {
	case DriverSQLite, "":
		d = sqliteDialect{}
		db, err = openSQLite(o.DSN)
	case DriverPostgres:
		d = postgresDialect{}
		db, err = openPostgres(o.DSN)
	default:
		return nil, fmt.Errorf("unknown store driver %q", o.Driver)
	}
	if err != nil {
		return nil, err
	}
	if err = migrate(ctx, db, d); err != nil {
		_ = db.Close()
		return nil, classify(fmt.Errorf("migrating the %s store: %w", d.name(), err))
	}
	clock := o.Clock
	if clock == nil {
		clock = time.Now
	}
	s := &Store{db: db, d: d, now: clock, rules: o.Rules, sinks: o.Sinks, sql: renderStatements(d)}
	if s.lockSpace, err = d.lockSpace(ctx, db); err != nil {
		_ = db.Close()
		return nil, classify(fmt.Errorf("reading the lock space: %w", err))
	}
	if s.exec, err = newExecutor(ctx, db, d, s.sql.all()); err != nil {
		_ = db.Close()
		return nil, classify(err)
	}
	s.committer = newCommitter(s.applyChunk, d.writers(), d.maxChunk())
	return s, nil
}

// ErrClosed is returned by Apply after Close.
var ErrClosed = errors.New("store is closed")

// Apply runs the rules for alerts, in order, and returns one result per
// alert once they are durably committed. A request larger than one chunk is
// committed chunk after chunk, so that it never holds the writer for long;
// on an error the chunks already committed stay, and the sender's retry
// finds them as duplicates.
func (s *Store) Apply(ctx context.Context, alerts []Alert) ([]incident.Outcome, error) {
	if len(alerts) == 0 {
		return nil, nil
	}
	return s.committer.submit(ctx, alerts)
}

// applyChunk applies one transaction's alerts.
func (s *Store) applyChunk(ctx context.Context, alerts []Alert) ([]incident.Outcome, error) {
	ops := make([]rules.Op, len(alerts))
	for i := range alerts {
		ops[i] = s.rules.AlertOp(&alerts[i])
	}
	return s.transact(ctx, ops)
}

// Ping checks that the database answers, for the exporter's health status.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return classify(fmt.Errorf("pinging the %s store: %w", s.d.name(), err))
	}
	return nil
}

// Close lets the transactions in flight finish within ctx, refuses the
// rest, and closes the database.
func (s *Store) Close(ctx context.Context) error {
	err := s.committer.close(ctx)
	s.exec.close()
	return errors.Join(err, s.db.Close())
}

// wakeDispatchers tells the dispatchers that events may be waiting; one
// pending signal each is enough.
func (s *Store) wakeDispatchers() {
	s.wokenMu.Lock()
	defer s.wokenMu.Unlock()
	for _, c := range s.woken {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}

// Outboxed returns a channel signaled after each commit that may have
// queued events: one per dispatcher.
func (s *Store) Outboxed() <-chan struct{} {
	c := make(chan struct{}, 1)
	s.wokenMu.Lock()
	s.woken = append(s.woken, c)
	s.wokenMu.Unlock()
	return c
}
