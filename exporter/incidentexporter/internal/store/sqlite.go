package store // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/store"

import (
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver: the collector builds with cgo off
)

// sqlitePragmas make every commit durable (WAL with synchronous=FULL), wait
// for a lock instead of failing at once, and take the write lock at BEGIN so
// two processes on one file cannot deadlock upgrading read locks.
var sqlitePragmas = []string{
	"_pragma=journal_mode(WAL)",
	"_pragma=synchronous(FULL)",
	"_pragma=busy_timeout(5000)",
	"_pragma=foreign_keys(ON)",
	"_txlock=immediate",
}

// openSQLite opens the file at dsn (a path, or file:path?params), creating
// its directory.
func openSQLite(dsn string) (*sql.DB, error) {
	path := strings.TrimPrefix(dsn, "file:")
	path, query, _ := strings.Cut(path, "?")
	if path == "" || path == ":memory:" {
		return nil, fmt.Errorf("sqlite store needs a file path, not %q", dsn)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("creating the sqlite store directory: %w", err)
	}
	params := append([]string{}, sqlitePragmas...)
	if query != "" {
		if _, err := url.ParseQuery(query); err != nil {
			return nil, fmt.Errorf("sqlite store dsn parameters: %w", err)
		}
		params = append(params, query)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?"+strings.Join(params, "&"))
	if err != nil {
		return nil, fmt.Errorf("opening the sqlite store %s: %w", path, err)
	}
	// One connection for the one writer; the sweep and tests share it.
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	return db, nil
}
