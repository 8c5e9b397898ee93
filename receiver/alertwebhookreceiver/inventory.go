package alertwebhookreceiver // import "github.com/sre-copilot/incident-collector/receiver/alertwebhookreceiver"

import (
	"context"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"

	"github.com/sre-copilot/incident-collector/internal/incident"
	"github.com/sre-copilot/incident-collector/receiver/alertwebhookreceiver/internal/metadata"
)

// inventoryPeriod is how often a receiver announces its integrations.
const inventoryPeriod = time.Minute

// inventory announces through the pipeline, at start and then every period,
// the dedup scopes this receiver serves: the exporter cannot see the
// receiver's config, and a heartbeat incident of an integration that was
// removed would otherwise stay open for ever.
type inventory struct {
	period  time.Duration
	stop    context.CancelFunc // nil until started
	running sync.WaitGroup
}

// startInventory announces in the background: the store may be down, and
// Start must not wait for it.
func (r *alertReceiver) startInventory() {
	ctx, cancel := context.WithCancel(context.Background())
	r.inventory.stop = cancel
	r.inventory.running.Go(func() { r.announce(ctx) })
}

// stopInventory ends the announcements (one in the pipeline is cancelled)
// and waits for them.
func (r *alertReceiver) stopInventory() {
	if r.inventory.stop != nil {
		r.inventory.stop()
		r.inventory.running.Wait()
	}
}

// announce sends the inventory now and at every tick until ctx ends. A
// refused one is sent again at the next tick anyway. Its time is the
// ticker's: the record states when it was sent, it decides nothing.
func (r *alertReceiver) announce(ctx context.Context) {
	ticker := time.NewTicker(r.inventory.period)
	defer ticker.Stop()
	receiverID, scopes := r.settings.ID.String(), r.scopes()
	for at := time.Now(); ; {
		logs := inventoryRecord(receiverID, scopes, r.settings.BuildInfo.Version, at)
		if err := r.next.ConsumeLogs(ctx, logs); err != nil && ctx.Err() == nil {
			r.logger.Debug("Integration inventory not delivered, sent again at the next tick", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return
		case at = <-ticker.C:
		}
	}
}

// scopes are the dedup scopes the receiver's records carry in
// webhook.integration.id: each integration's id, and the global endpoint's.
func (r *alertReceiver) scopes() []string {
	scopes := make([]string, 0, len(r.integrations)+1)
	if r.global != nil {
		scopes = append(scopes, r.global.id)
	}
	for id := range r.integrations {
		scopes = append(scopes, id)
	}
	slices.Sort(scopes)
	return scopes
}

// inventoryRecord is the one record of an announcement.
func inventoryRecord(receiverID string, scopes []string, version string, now time.Time) plog.Logs {
	logs := plog.NewLogs()
	sl := logs.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty()
	sl.Scope().SetName(metadata.ScopeName)
	sl.Scope().SetVersion(version)
	lr := sl.LogRecords().AppendEmpty()
	lr.SetEventName(incident.EventNameInventory)
	at := pcommon.NewTimestampFromTime(now)
	lr.SetTimestamp(at)
	lr.SetObservedTimestamp(at)
	attrs := lr.Attributes()
	attrs.PutStr(incident.AttrReceiverID, receiverID)
	ids := attrs.PutEmptySlice(incident.AttrIntegrationIDs)
	ids.EnsureCapacity(len(scopes))
	for _, s := range scopes {
		ids.AppendEmpty().SetStr(s)
	}
	return logs
}
