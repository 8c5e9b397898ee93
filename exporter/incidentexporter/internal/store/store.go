// Package store keeps incidents in SQLite or PostgreSQL. The deduplication
// rules live in SQL, enforced by a partial unique index, so that concurrent
// writers (goroutines, replicas, an Alertmanager HA pair) cannot race.
package store // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/store"

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/sre-copilot/incident-collector/internal/incident"
)

// Drivers.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// Alert is one alert record as the exporter read it from a log record.
type Alert struct {
	Scope        string // dedup scope: the integration id
	Fingerprint  string
	Status       string // incident.StatusFiring or incident.StatusResolved
	StartsAt     time.Time
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

// Result is the store's verdict on one alert.
type Result struct {
	Verdict    incident.Verdict
	IncidentID string
	Title      string
}

// Store applies alerts to the incidents table and keeps the analysis outbox.
type Store interface {
	// Apply runs the dedup rules for alerts, in order, and returns one result
	// per alert once they are durably committed.
	Apply(ctx context.Context, alerts []Alert) ([]Result, error)
	// ResolveStale resolves open incidents last seen before cutoff.
	ResolveStale(ctx context.Context, cutoff, now time.Time) (int64, error)
	// DB is the underlying database, for inspection in tests and tools.
	DB() *sql.DB
	Close() error

	// Outboxed is signalled after a commit that queued analysis events.
	Outboxed() <-chan struct{}
	ClaimOutbox(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]OutboxEvent, error)
	MarkDelivered(ctx context.Context, id int64, now time.Time) error
	MarkRetry(ctx context.Context, id int64, next time.Time, reason string) error
	MarkFailed(ctx context.Context, id int64, reason string) error
	OutboxBacklog(ctx context.Context) (pending int64, oldest time.Time, err error)
	PruneOutbox(ctx context.Context, cutoff time.Time) (int64, error)
}

// Options open a store.
type Options struct {
	Driver string
	DSN    string
	Clock  func() time.Time
	// AnalysisEvents are the events (created, resolved) queued for the
	// analysis service with each incident change; none: no outbox rows.
	AnalysisEvents []string
}

// Open connects to the store, applies the migrations and starts the group
// committer. The DSN never appears in an error: it may hold a password.
func Open(ctx context.Context, o Options) (Store, error) {
	driver, dsn := o.Driver, o.DSN
	var (
		d       dialect
		db      *sql.DB
		err     error
		pgxPath bool // PostgreSQL: groups go through pgx batches, nothing to prepare
	)
	switch driver {
	case DriverSQLite, "":
		d = sqliteDialect{}
		db, err = openSQLite(dsn)
	case DriverPostgres:
		d = postgresDialect{}
		db, err = openPostgres(dsn)
		pgxPath = true
	default:
		return nil, fmt.Errorf("unknown store driver %q", driver)
	}
	if err != nil {
		return nil, err
	}
	if err := migrate(ctx, db, d); err != nil {
		_ = db.Close()
		return nil, classify(fmt.Errorf("migrating the %s store: %w", d.name(), err))
	}
	clock := o.Clock
	if clock == nil {
		clock = time.Now
	}
	s := &sqlStore{db: db, d: d, now: clock, events: map[string]bool{}, outboxed: make(chan struct{}, 1)}
	for _, e := range o.AnalysisEvents {
		s.events[e] = true
	}
	apply := s.applySQL
	if pgxPath {
		apply = s.applyPgx
	} else if err := s.prepare(ctx); err != nil {
		_ = db.Close()
		return nil, classify(err)
	}
	s.committer = newCommitter(apply, d.writers())
	return s, nil
}

// ErrClosed is returned by Apply after Close.
var ErrClosed = errors.New("store is closed")
