package store // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/store"

import (
	"context"
	"fmt"
)

// SeverityCount is how many active incidents of one severity there are,
// open and acknowledged.
type SeverityCount struct {
	Severity           string
	Open, Acknowledged int64
}

// countActive reads only open rows (acknowledged ones are open too), which
// the partial indexes of open incidents hold: its cost is the active
// incidents', not the table's.
const countActive = `
SELECT severity,
       SUM(CASE WHEN acknowledged_at IS NULL THEN 1 ELSE 0 END),
       SUM(CASE WHEN acknowledged_at IS NULL THEN 0 ELSE 1 END)
FROM incidents WHERE status = 'open'
GROUP BY severity ORDER BY severity`

// ActiveCounts counts the active incidents by severity (the web view's
// summary), by severity name.
func (s *Store) ActiveCounts(ctx context.Context) ([]SeverityCount, error) {
	var out []SeverityCount
	err := eachRow(s.db.QueryContext(ctx, countActive))(func(scan func(...any) error) error {
		var c SeverityCount
		if err := scan(&c.Severity, &c.Open, &c.Acknowledged); err != nil {
			return err
		}
		out = append(out, c)
		return nil
	})
	if err != nil {
		return nil, classify(fmt.Errorf("counting active incidents: %w", err))
	}
	return out, nil
}
