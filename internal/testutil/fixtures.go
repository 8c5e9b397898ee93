package testutil

import (
	"database/sql"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Fixture reads testdata/<name> at the repository's root, from any package.
func Fixture(t testing.TB, name string) []byte {
	t.Helper()
	_, self, _, _ := runtime.Caller(0)
	b, err := os.ReadFile(filepath.Join(filepath.Dir(self), "..", "..", "testdata", name))
	if err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	return b
}

// CountIncidents counts the incidents rows matching where.
func CountIncidents(t testing.TB, db *sql.DB, where string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM incidents WHERE "+where, args...).Scan(&n); err != nil {
		t.Fatalf("counting incidents where %s: %v", where, err)
	}
	return n
}
