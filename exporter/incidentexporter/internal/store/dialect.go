package store // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/store"

import (
	"context"
	"database/sql"
	"embed"
	"time"
)

//go:embed migrations
var migrationFiles embed.FS

// dialect is what differs between the engines; the dedup SQL itself is shared.
type dialect interface {
	name() string
	// ts converts a time to the driver value the schema stores.
	ts(time.Time) any
	// writers is how many transactions may run at once: SQLite has one writer.
	writers() int
	// lock serialises migrations across processes on conn; unlock undoes it.
	lock(ctx context.Context, conn *sql.Conn) error
	unlock(ctx context.Context, conn *sql.Conn) error
	// skipLocked ends the outbox claim's row selection.
	skipLocked() string
	// parseTS reads back a timestamp column.
	parseTS(v any) time.Time
}

// sqliteTimeLayout has a fixed width so that text order is time order.
const sqliteTimeLayout = "2006-01-02T15:04:05.000000Z"

type sqliteDialect struct{}

func (sqliteDialect) name() string       { return "sqlite" }
func (sqliteDialect) ts(t time.Time) any { return t.UTC().Format(sqliteTimeLayout) }
func (sqliteDialect) writers() int       { return 1 }

// SQLite has one writer and the committer is it; BEGIN IMMEDIATE in the
// migration transaction keeps a second process out.
func (sqliteDialect) lock(context.Context, *sql.Conn) error   { return nil }
func (sqliteDialect) unlock(context.Context, *sql.Conn) error { return nil }

// One writer at a time: there is nothing to skip.
func (sqliteDialect) skipLocked() string { return "" }

func (sqliteDialect) parseTS(v any) time.Time {
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case []byte:
		s = string(x)
	case time.Time:
		return x.UTC()
	}
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

type postgresDialect struct{}

// migrationLockKey is an arbitrary constant shared by every replica.
const migrationLockKey = 0x1c1de417

func (postgresDialect) name() string       { return "postgres" }
func (postgresDialect) ts(t time.Time) any { return t.UTC() }
func (postgresDialect) writers() int       { return 4 }

func (postgresDialect) lock(ctx context.Context, conn *sql.Conn) error {
	_, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", migrationLockKey)
	return err
}

func (postgresDialect) skipLocked() string { return " FOR UPDATE SKIP LOCKED" }

func (postgresDialect) parseTS(v any) time.Time {
	t, _ := v.(time.Time)
	return t.UTC()
}

func (postgresDialect) unlock(ctx context.Context, conn *sql.Conn) error {
	_, err := conn.ExecContext(ctx, "SELECT pg_advisory_unlock($1)", migrationLockKey)
	return err
}
