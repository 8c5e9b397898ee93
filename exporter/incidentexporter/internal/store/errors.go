package store // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/store"

import (
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
	"go.opentelemetry.io/collector/consumer/consumererror"
)

// classify marks errors that no retry can fix as permanent; everything else
// (connection refused or lost, timeouts, SQLITE_BUSY, serialization failures,
// deadlocks, a full disk) stays retryable, so the sender gets a 503 and tries
// again instead of losing the alert.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Class 22, data exception: a value this record carries can never be
		// stored. Schema or permission problems (class 42) are not permanent:
		// an operator fixes them and the sender's retry then succeeds.
		if len(pgErr.Code) == 5 && pgErr.Code[:2] == "22" {
			return consumererror.NewPermanent(err)
		}
	}
	return err
}
