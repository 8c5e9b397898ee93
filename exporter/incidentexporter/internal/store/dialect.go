package store // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/store"

import (
	"context"
	"database/sql"
	"embed"
	"time"
)

//go:embed migrations
var migrationFiles embed.FS

// dialect is what differs between the engines; the rules and their SQL are
// shared.
type dialect interface {
	name() string
	// ts converts a time to the driver value the schema stores.
	ts(time.Time) any
	// writers is how many transactions may run at once: SQLite has one writer.
	writers() int
	// maxChunk bounds the alerts of one transaction.
	maxChunk() int
	// lockGroups are the statements that make this transaction the only
	// writer of the groups with these keys (sorted, so that two transactions
	// never wait for each other in a circle); none where the engine has a
	// single writer.
	lockGroups(keys []int64) []query
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

// A chunk of 500 alerts takes about 50 ms of the one writer: a large request
// lets the others in between its chunks.
func (sqliteDialect) maxChunk() int { return 500 }

// BEGIN IMMEDIATE (the DSN's _txlock) already makes a transaction the only
// writer of the whole file, across processes.
func (sqliteDialect) lockGroups([]int64) []query { return nil }

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

// Each group of a transaction holds one advisory lock until it ends;
// PostgreSQL's shared lock table has 64 × max_connections slots by default,
// so four writers with 250 groups each stay far from it.
func (postgresDialect) maxChunk() int { return 250 }

// Transaction-level advisory locks end with the transaction, also when the
// connection dies. They are taken one statement each, in key order, inside
// one batch: one round trip.
func (postgresDialect) lockGroups(keys []int64) []query {
	qs := make([]query, len(keys))
	for i, k := range keys {
		qs[i] = query{sql: "SELECT pg_advisory_xact_lock($1)", args: []any{k}}
	}
	return qs
}

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
