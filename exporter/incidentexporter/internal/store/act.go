package store // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/store"

import (
	"context"

	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/rules"
	"github.com/sre-copilot/incident-collector/internal/incident"
)

// Act runs a person's action (rules.KindAcknowledge, KindUnacknowledge,
// KindResolve) on incident id, in a transaction that holds the incident's
// group like any alert of it, and returns the outcome and the incident as it
// is after the commit. ErrNotFound when there is no such incident.
func (s *Store) Act(ctx context.Context, kind rules.Kind, id, by, note string) (incident.Outcome, rules.Incident, error) {
	g, err := s.groupOf(ctx, id)
	if err != nil {
		return incident.Outcome{}, rules.Incident{}, err
	}
	outcomes, err := s.transact(ctx, []rules.Op{rules.ActionOp(kind, id, g, by, note)})
	if err != nil {
		return incident.Outcome{}, rules.Incident{}, err
	}
	w, err := s.Incident(ctx, id, 0, 0)
	return outcomes[0], w.Incident, err
}
