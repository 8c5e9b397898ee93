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

// AnnouncementTTL is how long a collector's announcement of what its
// receivers serve counts without being renewed (they renew it every minute):
// after a crash, its integrations count as served for that long.
const AnnouncementTTL = 3 * time.Minute

// Announce records, for collector instance, the scopes receiver serves now
// (its alertwebhook.inventory record), replacing what it announced before.
func (s *Store) Announce(ctx context.Context, instance, receiver string, scopes []string) error {
	now := s.d.ts(s.now())
	qs := []query{{sql: `DELETE FROM integration_announcements WHERE instance = $1 AND receiver = $2`, args: []any{instance, receiver}}}
	for _, scope := range scopes {
		qs = append(qs,
			query{
				sql: `INSERT INTO integration_announcements (instance, receiver, dedup_scope, announced_at) VALUES ($1, $2, $3, $4)
				ON CONFLICT (instance, receiver, dedup_scope) DO UPDATE SET announced_at = excluded.announced_at`,
				args: []any{instance, receiver, scope, now},
			},
			query{
				sql:  `INSERT INTO announced_scopes (dedup_scope, first_announced_at) VALUES ($1, $2) ON CONFLICT (dedup_scope) DO NOTHING`,
				args: []any{scope, now},
			})
	}
	if err := s.exec.inTx(ctx, func(txn) ([]query, error) { return qs, nil }); err != nil {
		return classify(fmt.Errorf("recording what receiver %s serves: %w", receiver, err))
	}
	return nil
}

// Withdraw forgets what collector instance announced: it stops.
func (s *Store) Withdraw(ctx context.Context, instance string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM integration_announcements WHERE instance = $1`, instance)
	return classify(err)
}

// selectUnannounced are the watched heartbeats of integrations that were
// announced and that no live announcement lists any more.
const selectUnannounced = `
SELECT h.dedup_scope FROM heartbeats h JOIN announced_scopes a ON a.dedup_scope = h.dedup_scope
WHERE h.alertname = $1 AND NOT EXISTS (
    SELECT 1 FROM integration_announcements n WHERE n.dedup_scope = h.dedup_scope AND n.announced_at > $2)
ORDER BY h.dedup_scope LIMIT $3`

// ForgetRemovedIntegrations stops watching the heartbeats of integrations
// that were announced and that no live collector announces any more (removed
// from every replica's config): each one's open heartbeat incident resolves
// (integration_removed) and its heartbeat is forgotten, so that none opens
// again. A replica that does not serve an integration another one serves,
// or a receiver whose announcements never arrive, forgets nothing. It
// returns how many incidents it resolved.
func (s *Store) ForgetRemovedIntegrations(ctx context.Context) (int64, error) {
	name := s.rules.HeartbeatAlertname
	if name == "" {
		return 0, nil
	}
	var ops []rules.Op
	err := eachRow(s.db.QueryContext(ctx, selectUnannounced, name, s.d.ts(s.now().Add(-AnnouncementTTL)), sweepBatch))(
		func(scan func(...any) error) error {
			var scope string
			if err := scan(&scope); err != nil {
				return err
			}
			ops = append(ops, rules.ForgetScopeOp(scope, rules.ReasonIntegrationRemoved))
			return nil
		})
	if err != nil {
		return 0, classify(fmt.Errorf("finding removed integrations: %w", err))
	}
	return s.sweep(ctx, ops)
}

// ForgetAllHeartbeats resolves every open heartbeat incident (heartbeats
// are off: nothing would ever resolve them) and forgets every heartbeat.
func (s *Store) ForgetAllHeartbeats(ctx context.Context) (int64, error) {
	var ops []rules.Op
	err := eachRow(s.db.QueryContext(ctx, `SELECT dedup_scope FROM heartbeats UNION
		SELECT dedup_scope FROM incidents WHERE group_key = '' AND status = 'open'`))(func(scan func(...any) error) error {
		var scope string
		if err := scan(&scope); err != nil {
			return err
		}
		ops = append(ops, rules.ForgetScopeOp(scope, rules.ReasonHeartbeatsOff))
		return nil
	})
	if err != nil {
		return 0, classify(fmt.Errorf("finding heartbeats: %w", err))
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
