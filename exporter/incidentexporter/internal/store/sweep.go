package store // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/store"

import (
	"context"
	"fmt"
	"time"

	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/rules"
	"github.com/sre-copilot/incident-collector/internal/incident"
)

// sweepBatch is how many candidates a sweep reads, and checks in one
// transaction, at a time.
const sweepBatch = 200

// ResolveStale resolves the open incidents no notification touched since
// cutoff (auto_resolve_after), with their resolved events, and returns how
// many it resolved. Candidates are read without locks and checked again under
// their group's lock, like any alert.
func (s *Store) ResolveStale(ctx context.Context, cutoff time.Time) (int64, error) {
	var total int64
	for {
		var ops []rules.Op
		err := eachRow(s.db.QueryContext(ctx, selectStale, s.d.ts(cutoff), sweepBatch))(func(scan func(...any) error) error {
			var id string
			var g rules.GroupRef
			if err := scan(&id, &g.Scope, &g.Key); err != nil {
				return err
			}
			ops = append(ops, rules.AutoResolveOp(id, g, cutoff))
			return nil
		})
		if err != nil {
			return total, classify(fmt.Errorf("finding stale incidents: %w", err))
		}
		n, err := s.sweep(ctx, ops)
		total += n
		if err != nil || len(ops) < sweepBatch || n == 0 {
			return total, err
		}
	}
}

// Heartbeat is the last heartbeat of one watched scope.
type Heartbeat struct {
	Scope    string
	LastSeen time.Time
}

// CheckHeartbeats opens one critical incident for each scope whose last
// heartbeat is older than the timeout, once across replicas, and returns how
// many it opened and the heartbeats it watches.
func (s *Store) CheckHeartbeats(ctx context.Context) (int64, []Heartbeat, error) {
	name := s.rules.HeartbeatAlertname
	if name == "" {
		return 0, nil, nil
	}
	now := s.now()
	var beats []Heartbeat
	err := eachRow(s.db.QueryContext(ctx, selectHeartbeatAges, name))(func(scan func(...any) error) error {
		var h Heartbeat
		var last any
		if err := scan(&h.Scope, &last); err != nil {
			return err
		}
		h.LastSeen = s.d.parseTS(last)
		beats = append(beats, h)
		return nil
	})
	if err != nil {
		return 0, nil, classify(fmt.Errorf("reading heartbeats: %w", err))
	}
	var ops []rules.Op
	err = eachRow(s.db.QueryContext(ctx, selectSilent, name, s.d.ts(now.Add(-s.rules.HeartbeatTimeout)), sweepBatch))(
		func(scan func(...any) error) error {
			var scope string
			if scanErr := scan(&scope); scanErr != nil {
				return scanErr
			}
			ops = append(ops, rules.HeartbeatCheckOp(scope))
			return nil
		})
	if err != nil {
		return 0, beats, classify(fmt.Errorf("finding silent heartbeats: %w", err))
	}
	opened, err := s.sweep(ctx, ops)
	return opened, beats, err
}

// ForgetHeartbeats stops watching the heartbeats of the scopes served says
// no receiver serves any more (an integration removed from the config):
// each one's open heartbeat incident resolves (integration_removed) and its
// heartbeat is forgotten, so that none opens again. It returns how many
// incidents it resolved.
func (s *Store) ForgetHeartbeats(ctx context.Context, served func(scope string) bool) (int64, error) {
	name := s.rules.HeartbeatAlertname
	if name == "" {
		return 0, nil
	}
	var ops []rules.Op
	err := eachRow(s.db.QueryContext(ctx, selectHeartbeatAges, name))(func(scan func(...any) error) error {
		var scope string
		var last any
		if err := scan(&scope, &last); err != nil {
			return err
		}
		if !served(scope) {
			ops = append(ops, rules.ForgetScopeOp(scope))
		}
		return nil
	})
	if err != nil {
		return 0, classify(fmt.Errorf("reading heartbeats: %w", err))
	}
	return s.sweep(ctx, ops)
}

// sweep runs ops in transactions of sweepBatch and counts what they changed.
// Each transaction has the commit deadline of the write path: a sweep must
// not hold its groups' locks for longer than a sender's write would.
func (s *Store) sweep(ctx context.Context, ops []rules.Op) (int64, error) {
	var n int64
	for start := 0; start < len(ops); start += sweepBatch {
		txCtx, cancel := context.WithTimeout(ctx, commitTimeout)
		outcomes, err := s.transact(txCtx, ops[start:min(start+sweepBatch, len(ops))])
		cancel()
		if err != nil {
			return n, err
		}
		for _, o := range outcomes {
			if o.Verdict != incident.VerdictUnchanged {
				n++
			}
		}
	}
	return n, nil
}
