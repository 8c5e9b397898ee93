package testutil

import (
	"database/sql"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Fixture reads testdata/<name> at the repository's root, from any package.
func Fixture(tb testing.TB, name string) []byte {
	tb.Helper()
	_, self, _, _ := runtime.Caller(0)
	b, err := os.ReadFile(filepath.Join(filepath.Dir(self), "..", "..", "testdata", name))
	if err != nil {
		tb.Fatalf("fixture %s: %v", name, err)
	}
	return b
}

// CountIncidents counts the incidents rows matching where.
func CountIncidents(tb testing.TB, db *sql.DB, where string, args ...any) int {
	tb.Helper()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM incidents WHERE "+where, args...).Scan(&n); err != nil {
		tb.Fatalf("counting incidents where %s: %v", where, err)
	}
	return n
}
