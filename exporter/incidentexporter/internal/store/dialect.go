package store // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/store"

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"strconv"
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
	// lock serializes migrations across processes on conn; unlock undoes it.
	lock(ctx context.Context, conn *sql.Conn) error
	unlock(ctx context.Context, conn *sql.Conn) error
	// skipLocked ends the outbox claim's row selection.
	skipLocked() string
	// parseTS reads back a timestamp column.
	parseTS(v any) time.Time
	// sqlType names a column type in casts.
	sqlType(colType) string
	// placeholder is the n-th (from 1) parameter of a statement.
	placeholder(n int) string
	// lockSpace names the scope of lockGroups' keys.
	lockSpace(ctx context.Context, db *sql.DB) (string, error)
	// lateral: the engine has LATERAL subqueries.
	lateral() bool
	// suspendForeignKeys stops enforcing foreign keys on conn, outside a
	// transaction, for a migration that rebuilds a table others refer to;
	// restore enforces them again. checkForeignKeys fails when a row of tx
	// refers to nothing.
	suspendForeignKeys(ctx context.Context, conn *sql.Conn) (restore func(), err error)
	checkForeignKeys(ctx context.Context, tx *sql.Tx) error
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

func (sqliteDialect) lockSpace(context.Context, *sql.DB) (string, error) { return "", nil }

// PRAGMA foreign_keys is a no-op inside a transaction: it is set before.
func (sqliteDialect) suspendForeignKeys(ctx context.Context, conn *sql.Conn) (func(), error) {
	if _, err := conn.ExecContext(ctx, "PRAGMA foreign_keys = OFF"); err != nil {
		return nil, err
	}
	return func() { _, _ = conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA foreign_keys = ON") }, nil
}

func (sqliteDialect) checkForeignKeys(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, "PRAGMA foreign_key_check")
	if err != nil {
		return err
	}
	defer rows.Close()
	if rows.Next() {
		var table string
		var rowid, parent, fk any
		if err := rows.Scan(&table, &rowid, &parent, &fk); err != nil {
			return err
		}
		return fmt.Errorf("a row of %s refers to a missing %v", table, parent)
	}
	return rows.Err()
}
func (sqliteDialect) lateral() bool { return false }

// Anonymous parameters: SQLite looks a named one ($n) up by a linear scan
// of the statement's names, which makes binding a long tuple list quadratic.
func (sqliteDialect) placeholder(int) string { return "?" }

// Timestamps and ids are text in SQLite.
func (sqliteDialect) sqlType(t colType) string {
	if t == colInt {
		return "INTEGER"
	}
	return "TEXT"
}

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
// connection dies. One statement takes them all, one after the other in the
// array's (sorted) order.
func (postgresDialect) lockGroups(keys []int64) []query {
	return []query{{sql: "SELECT COUNT(pg_advisory_xact_lock(k)) FROM unnest($1::bigint[]) AS k", args: []any{keys}}}
}

func (postgresDialect) lock(ctx context.Context, conn *sql.Conn) error {
	_, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", migrationLockKey)
	return err
}

func (postgresDialect) skipLocked() string { return " FOR UPDATE SKIP LOCKED" }

func (postgresDialect) placeholder(n int) string { return "$" + strconv.Itoa(n) }
func (postgresDialect) lateral() bool            { return true }

// Advisory locks are shared by the whole server: the database and the
// schema the tables live in tell this installation's keys apart.
func (postgresDialect) lockSpace(ctx context.Context, db *sql.DB) (string, error) {
	var space string
	err := db.QueryRowContext(ctx, `SELECT current_database() || '.' || current_schema()`).Scan(&space)
	return space, err
}

func (postgresDialect) sqlType(t colType) string {
	switch t {
	case colUUID, colNullUUID:
		return "UUID"
	case colTime, colNullTime:
		return "TIMESTAMPTZ"
	case colInt:
		return "BIGINT"
	default:
		return "TEXT"
	}
}

func (postgresDialect) parseTS(v any) time.Time {
	t, _ := v.(time.Time)
	return t.UTC()
}

// PostgreSQL alters tables in place: nothing to suspend.
func (postgresDialect) suspendForeignKeys(context.Context, *sql.Conn) (func(), error) {
	return func() {}, nil
}
func (postgresDialect) checkForeignKeys(context.Context, *sql.Tx) error { return nil }

func (postgresDialect) unlock(ctx context.Context, conn *sql.Conn) error {
	_, err := conn.ExecContext(ctx, "SELECT pg_advisory_unlock($1)", migrationLockKey)
	return err
}
