package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sre-copilot/incident-collector/internal/testutil"
)

// engine is one fresh database of a test: a SQLite file or a PostgreSQL
// schema of its own.
type engine struct {
	t           *testing.T
	driver, dsn string
}

func newEngine(t *testing.T, driver string) engine {
	t.Helper()
	if driver == DriverPostgres {
		return engine{t: t, driver: driver, dsn: testutil.PostgresSchema(t)}
	}
	return engine{t: t, driver: driver, dsn: filepath.Join(t.TempDir(), "sub", "incidents.db")}
}

// open opens a store on the engine's database; each call is another
// replica of the same database.
func (e engine) open(o Options) *Store {
	e.t.Helper()
	o.Driver, o.DSN = e.driver, e.dsn
	return openOptions(e.t, o)
}

// eachEngine runs fn on a fresh database of each engine.
func eachEngine(t *testing.T, fn func(t *testing.T, e engine)) {
	for _, name := range []string{DriverSQLite, DriverPostgres} {
		t.Run(name, func(t *testing.T) { fn(t, newEngine(t, name)) })
	}
}

// releaseDB opens e's database as an earlier release left it: the
// migrations up to last applied, no store running.
func (e engine) releaseDB(last int) (*sql.DB, dialect) {
	e.t.Helper()
	var db *sql.DB
	var d dialect
	var err error
	if e.driver == DriverSQLite {
		db, err = openSQLite(e.dsn)
		d = sqliteDialect{}
	} else {
		db, err = sql.Open("pgx", e.dsn)
		d = postgresDialect{}
	}
	require.NoError(e.t, err)
	releaseSchema(e.t, db, d, last)
	return db, d
}

func openOptions(t *testing.T, o Options) *Store {
	t.Helper()
	s, err := Open(context.Background(), o)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// analysis is the analysis trigger's sink, told of these events.
func analysis(events ...string) []Sink { return []Sink{{Name: "analysis", Events: events}} }
