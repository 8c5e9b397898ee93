package store // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/store"

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// query is one statement of a transaction. row, when set, is called for each
// row the statement returns, with the function that scans it.
type query struct {
	sql  string
	args []any
	row  func(scan func(dest ...any) error) error
}

// txn runs statements inside one transaction, in order. On PostgreSQL one
// call is one round trip (a pgx batch); SQLite runs in process, where a
// statement costs no round trip, and its statements are prepared once.
type txn interface {
	run(ctx context.Context, qs []query) error
}

// executor opens transactions on either engine.
type executor struct {
	db *sql.DB
	pg bool

	// SQLite: the write path's statements, prepared once at start (parsing
	// them cost more than running them). Not later: the one connection is
	// then inside a transaction. PostgreSQL: pgx caches them per connection.
	stmts map[string]*sql.Stmt
}

func newExecutor(ctx context.Context, db *sql.DB, d dialect, writePath []string) (*executor, error) {
	_, pg := d.(postgresDialect)
	e := &executor{db: db, pg: pg, stmts: map[string]*sql.Stmt{}}
	if pg {
		return e, nil
	}
	for _, text := range writePath {
		s, err := db.PrepareContext(ctx, text) //nolint:sqlclosecheck // kept for the store's life, closed by close
		if err != nil {
			e.close()
			return nil, fmt.Errorf("preparing statements: %w", err)
		}
		e.stmts[text] = s
	}
	return e, nil
}

func (e *executor) close() {
	for _, s := range e.stmts {
		_ = s.Close()
	}
}

// inTx runs fn in a transaction; the statements fn returns are run last,
// with the commit. On PostgreSQL the transaction costs two round trips when
// fn runs one batch of its own: BEGIN goes with fn's first batch, COMMIT
// with its last.
func (e *executor) inTx(ctx context.Context, fn func(txn) ([]query, error)) error {
	if e.pg {
		return e.inPgxTx(ctx, fn)
	}
	tx, err := e.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("beginning a transaction: %w", err)
	}
	t := &sqlTxn{tx: tx, e: e}
	last, err := fn(t)
	if err == nil {
		err = t.run(ctx, last)
	}
	if err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	return nil
}

func (e *executor) inPgxTx(ctx context.Context, fn func(txn) ([]query, error)) error {
	conn, err := e.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("taking a connection: %w", err)
	}
	defer conn.Close()
	return conn.Raw(func(driverConn any) error {
		t := &pgxTxn{conn: driverConn.(*stdlib.Conn).Conn()}
		last, err := fn(t)
		if err == nil {
			err = t.run(ctx, append(last, query{sql: "COMMIT"}))
		}
		if err != nil && t.begun {
			// Whatever state the failed batch left (an aborted transaction, or
			// a COMMIT not reached), this ends it; the connection is clean.
			_, _ = t.conn.Exec(context.WithoutCancel(ctx), "ROLLBACK")
		}
		return err
	})
}

type sqlTxn struct {
	tx *sql.Tx
	e  *executor
}

// run checks ctx between statements rather than inside them: a statement
// here takes microseconds, and a cancellable context would make the driver
// start a watcher goroutine for every one of them.
func (t *sqlTxn) run(ctx context.Context, qs []query) error {
	stmtCtx := context.WithoutCancel(ctx)
	for _, q := range qs {
		if err := ctx.Err(); err != nil {
			return err
		}
		var stmt *sql.Stmt
		var err error
		if prepared := t.e.stmts[q.sql]; prepared != nil {
			stmt = t.tx.StmtContext(stmtCtx, prepared) //nolint:sqlclosecheck // the transaction closes its statements
		} else if stmt, err = t.tx.PrepareContext(stmtCtx, q.sql); err != nil {
			return fmt.Errorf("preparing a statement: %w", err)
		}
		if q.row == nil {
			_, err = stmt.ExecContext(stmtCtx, q.args...)
		} else {
			err = eachRow(stmt.QueryContext(stmtCtx, q.args...))(q.row)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// eachRow calls fn on every row, and reports the rows' own error.
func eachRow(rows *sql.Rows, err error) func(fn func(scan func(dest ...any) error) error) error {
	return func(fn func(scan func(dest ...any) error) error) error {
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := fn(rows.Scan); err != nil {
				return err
			}
		}
		return rows.Err()
	}
}

// pgxTxn runs a transaction's statements as pgx batches on one
// connection; the first batch begins the transaction.
type pgxTxn struct {
	conn  *pgx.Conn
	begun bool
}

func (t *pgxTxn) run(ctx context.Context, qs []query) error {
	if len(qs) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	if !t.begun {
		t.begun = true
		b.Queue("BEGIN").Exec(func(pgconn.CommandTag) error { return nil })
	}
	for _, q := range qs {
		qq := b.Queue(q.sql, q.args...)
		if q.row == nil {
			qq.Exec(func(pgconn.CommandTag) error { return nil })
			continue
		}
		each := q.row
		qq.Query(func(rows pgx.Rows) error {
			for rows.Next() {
				if err := each(rows.Scan); err != nil {
					return err
				}
			}
			return rows.Err()
		})
	}
	return t.conn.SendBatch(ctx, b).Close()
}
