package alertwebhookreceiver

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sre-copilot/incident-collector/internal/incident"
	"github.com/sre-copilot/incident-collector/receiver/alertwebhookreceiver/internal/metadata"
)

// inventorySink keeps the inventories it got; fail makes the first ones fail.
type inventorySink struct {
	mu    sync.Mutex
	calls int
	fail  int
	got   []plog.LogRecord
}

func (s *inventorySink) consume(_ context.Context, ld plog.Logs) error {
	if !isInventory(ld) {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.calls <= s.fail {
		return errors.New("memory limiter: data refused")
	}
	forEachRecord(ld, func(lr plog.LogRecord) { s.got = append(s.got, lr) })
	return nil
}

func (s *inventorySink) records() []plog.LogRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]plog.LogRecord(nil), s.got...)
}

func every(period time.Duration) func(*alertReceiver) {
	return func(r *alertReceiver) { r.inventory.period = period }
}

// At start, and then every period, the receiver sends one record naming
// every scope it serves: each integration and the global endpoint, under the
// scope its alert records carry.
func TestInventoryAnnouncedAtStartAndPeriodically(t *testing.T) {
	sink := &inventorySink{}
	r, _ := startReceiver(t, testConfig(), consumerFunc(sink.consume), every(20*time.Millisecond))
	require.Eventually(t, func() bool { return len(sink.records()) >= 3 }, 5*time.Second, 5*time.Millisecond)

	want := []any{typeAlertmanager, promID, grafID, hmacID, hmacTSID}
	for _, lr := range sink.records() {
		assert.Equal(t, incident.EventNameInventory, lr.EventName())
		assert.NotZero(t, lr.Timestamp())
		attrs := attrMap(lr)
		assert.NotContains(t, attrs, incident.AttrFingerprint, "not an alert")
		assert.Equal(t, r.settings.ID.String(), attrs[incident.AttrReceiverID])
		assert.ElementsMatch(t, want, attrs[incident.AttrIntegrationIDs])
	}

	// The scope of the global endpoint is the one its alerts carry.
	store := newStoreConsumer(t)
	_, alertsBase := startReceiver(t, testConfig(), store)
	require.Equal(t, 200, post(t, alertsBase+"/webhooks/alertmanager", fixture(t, "alertmanager/seed-example.json"), nil).code)
	assert.Contains(t, want, attrMap(allRecords(&store.LogsSink)[0])[incident.AttrIntegrationID])
}

// The receiver announces its component id ("alertwebhook/prod"); without
// the global endpoint, that scope is not served.
func TestInventoryOfANamedReceiver(t *testing.T) {
	cfg := testConfig()
	cfg.Alertmanager.Enabled = false
	cfg.Integrations = cfg.Integrations[:1]
	sink := &inventorySink{}
	set := receiverSettings()
	set.ID = component.MustNewIDWithName(metadata.Type.String(), "prod")
	r, err := newReceiver(cfg, set, consumerFunc(sink.consume))
	require.NoError(t, err)
	require.NoError(t, r.Start(context.Background(), hostWith{}))
	t.Cleanup(func() { require.NoError(t, r.Shutdown(context.Background())) })
	require.Eventually(t, func() bool { return len(sink.records()) == 1 }, 5*time.Second, 5*time.Millisecond)
	attrs := attrMap(sink.records()[0])
	assert.Equal(t, "alertwebhook/prod", attrs[incident.AttrReceiverID])
	assert.Equal(t, []any{promID}, attrs[incident.AttrIntegrationIDs])
}

// A refused inventory is logged at debug and sent again at the next tick.
func TestInventoryRetriedAtTheNextTick(t *testing.T) {
	sink := &inventorySink{fail: 2}
	core, logs := observer.New(zapcore.DebugLevel)
	startReceiver(t, testConfig(), consumerFunc(sink.consume), every(10*time.Millisecond),
		func(r *alertReceiver) { r.logger = zap.New(core) })
	require.Eventually(t, func() bool { return len(sink.records()) >= 1 }, 5*time.Second, 5*time.Millisecond)
	sink.mu.Lock()
	assert.Greater(t, sink.calls, 2)
	sink.mu.Unlock()
	refused := logs.FilterMessage("Integration inventory not delivered, sent again at the next tick").All()
	require.Len(t, refused, 2)
	assert.Equal(t, zapcore.DebugLevel, refused[0].Level)
}

// Start does not wait for a pipeline that does not answer (the store may be
// down); Shutdown cancels the announcement in flight and waits for it.
func TestInventoryNeverBlocksStartOrShutdown(t *testing.T) {
	entered := make(chan struct{}, 1)
	stuck := consumerFunc(func(ctx context.Context, ld plog.Logs) error {
		if isInventory(ld) {
			entered <- struct{}{}
		}
		<-ctx.Done()
		return ctx.Err()
	})
	r, err := newReceiver(testConfig(), receiverSettings(), stuck)
	require.NoError(t, err)
	require.NoError(t, r.Start(context.Background(), hostWith{}))
	<-entered
	shutdown := make(chan error, 1)
	go func() { shutdown <- r.Shutdown(context.Background()) }()
	select {
	case err := <-shutdown:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown waits for an announcement the pipeline holds")
	}
}
