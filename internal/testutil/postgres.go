// Package testutil holds helpers shared by the tests of several packages.
package testutil

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	_ "github.com/jackc/pgx/v5/stdlib" // "pgx" database/sql driver for test set-up
)

// PostgresDSNEnv names the variable that holds the test database's DSN.
const PostgresDSNEnv = "INCIDENT_TEST_POSTGRES_DSN"

// PostgresDSN returns the DSN of the test PostgreSQL, or skips the test with
// a message when it is not set. CI always sets it (see .ci/run), so there
// these tests always run.
func PostgresDSN(tb testing.TB) string {
	tb.Helper()
	return RequireEnv(tb, PostgresDSNEnv, "the PostgreSQL tests (.ci/run sets the variable)")
}

// RequireEnv returns the variable's value. When it is unset the test fails in
// CI (CI is set), where every test must run, and is skipped elsewhere, with
// what needs it.
func RequireEnv(tb testing.TB, name, forWhat string) string {
	tb.Helper()
	v := os.Getenv(name)
	if v == "" {
		if os.Getenv("CI") != "" {
			tb.Fatalf("%s is not set in CI: %s must run there", name, forWhat)
		}
		tb.Skipf("%s is not set: skipping %s", name, forWhat)
	}
	return v
}

// PostgresSchema creates a fresh schema for one test, dropped at its end, and
// returns a DSN whose search_path points at it.
func PostgresSchema(tb testing.TB) string {
	tb.Helper()
	dsn := PostgresDSN(tb)
	schema := "t_" + strings.ReplaceAll(uuid.NewString(), "-", "")[:20]
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		tb.Fatalf("opening postgres: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("creating schema: %v", err)
	}
	tb.Cleanup(func() {
		_, _ = db.Exec("DROP SCHEMA " + schema + " CASCADE")
		_ = db.Close()
	})
	return WithSearchPath(tb, dsn, schema)
}

// WithSearchPath adds search_path=schema to a URL or key=value DSN.
func WithSearchPath(tb testing.TB, dsn, schema string) string {
	tb.Helper()
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			tb.Fatalf("parsing %s: %v", PostgresDSNEnv, err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return fmt.Sprintf("%s search_path=%s", dsn, schema)
}
