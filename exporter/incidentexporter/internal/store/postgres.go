package store // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/store"

import (
	"database/sql"
	"errors"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// idleInTransactionTimeout: our transactions are two round trips apart from
// the commit; one idle this long has lost its client.
const idleInTransactionTimeout = commitTimeout

// openPostgres opens a pgx connection pool. Parse errors are reported without
// the DSN, which may carry a password.
func openPostgres(dsn string) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, errors.New("the postgres store dsn cannot be parsed (not shown: it may hold a password)")
	}
	// A replica cut off in the middle of a transaction would hold its groups'
	// locks until TCP gave up (hours): the server ends a session idle inside
	// a transaction for longer than any transaction of ours takes.
	if _, set := cfg.RuntimeParams["idle_in_transaction_session_timeout"]; !set {
		cfg.RuntimeParams["idle_in_transaction_session_timeout"] = strconv.Itoa(int(idleInTransactionTimeout / time.Millisecond))
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 5 * time.Second
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(8)
	db.SetConnMaxIdleTime(5 * time.Minute)
	return db, nil
}
