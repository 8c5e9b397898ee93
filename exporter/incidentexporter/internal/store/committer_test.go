package store

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumererror"

	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/rules"
	"github.com/sre-copilot/incident-collector/internal/incident"
	"github.com/sre-copilot/incident-collector/internal/testutil"
)

// batchOf submits n one-alert requests at once to a committer whose first
// transaction waits until all of them are queued, so that they share it.
func batchOf(t *testing.T, n int, fail func(alerts []Alert) error) (calls *atomic.Int64, errs []error) {
	t.Helper()
	calls = &atomic.Int64{}
	queued := make(chan struct{})
	c := newCommitter(func(_ context.Context, alerts []Alert) ([]incident.Outcome, error) {
		if calls.Add(1) == 1 {
			<-queued
		}
		if err := fail(alerts); err != nil {
			return nil, err
		}
		return make([]incident.Outcome, len(alerts)), nil
	}, 1, 500)
	t.Cleanup(func() { _ = c.close(context.Background()) })

	// The first request takes the writer alone; the rest queue up as one batch.
	errs = make([]error, n+1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _, errs[0] = c.submit(context.Background(), []Alert{firing("first", t0)}) }()
	require.Eventually(t, func() bool { return calls.Load() == 1 }, 5*time.Second, time.Millisecond)
	for i := 1; i <= n; i++ {
		wg.Add(1)
		fp := "fp-" + strconv.Itoa(i)
		go func() { defer wg.Done(); _, errs[i] = c.submit(context.Background(), []Alert{firing(fp, t0)}) }()
	}
	require.Eventually(t, func() bool { return len(c.queue) == n }, 5*time.Second, time.Millisecond)
	close(queued)
	wg.Wait()
	return calls, errs
}

// A transient failure (an outage) fails the whole batch at once: the
// senders retry, and trying each request alone would hold the writer n
// times longer.
func TestTransientBatchFailureIsNotRetriedPerRequest(t *testing.T) {
	outage := errors.New("connection refused")
	calls, errs := batchOf(t, 5, func(alerts []Alert) error {
		if len(alerts) > 1 {
			return outage
		}
		return nil
	})
	assert.Equal(t, int64(2), calls.Load(), "the first request, then the batch once")
	assert.NoError(t, errs[0])
	for _, err := range errs[1:] {
		assert.ErrorIs(t, err, outage)
	}
}

// A permanent failure (a value that can never be stored) is isolated: each
// request of the batch is tried alone and only the bad one fails.
func TestPermanentBatchFailureIsolatesTheBadRequest(t *testing.T) {
	calls, errs := batchOf(t, 5, func(alerts []Alert) error {
		for _, a := range alerts {
			if a.Fingerprint == "fp-2" {
				return consumererror.NewPermanent(errors.New("bad value"))
			}
		}
		return nil
	})
	assert.Equal(t, int64(1+1+5), calls.Load(), "the first, the batch, then each of the five alone")
	for i, err := range errs {
		if i == 2 {
			assert.True(t, consumererror.IsPermanent(err), "%v", err)
			continue
		}
		assert.NoError(t, err, "request %d", i)
	}
}

// PostgreSQL stalls (a partition): a request gives up at its own deadline,
// the transaction is abandoned with it, and closing the store completes
// within the shutdown context.
func TestCloseWithAStalledPostgres(t *testing.T) {
	dsn := testutil.PostgresSchema(t)
	proxy := testutil.NewProxy(t, "127.0.0.1:5432")
	proxied := strings.Replace(strings.Replace(dsn, "127.0.0.1:5432", proxy.Addr(), 1), "localhost:5432", proxy.Addr(), 1)
	require.NotEqual(t, dsn, proxied)
	s, err := Open(context.Background(), Options{Driver: DriverPostgres, DSN: proxied})
	require.NoError(t, err)
	assert.Equal(t, incident.VerdictCreated, apply1(t, s, firing("before", t0)).Verdict)

	proxy.Stall()
	defer proxy.Restore()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	began := time.Now()
	_, err = s.Apply(ctx, []Alert{firing("during", t0)})
	require.Error(t, err)
	assert.False(t, consumererror.IsPermanent(err))
	assert.Less(t, time.Since(began), 3*time.Second, "answered at the caller's deadline")

	closeCtx, cancelClose := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancelClose()
	began = time.Now()
	_ = s.Close(closeCtx)
	took := time.Since(began)
	t.Logf("Close with PostgreSQL stalled took %v", took)
	assert.Less(t, took, 4*time.Second, "shutdown bounded by its context")
}

// A transaction never holds more than a chunk of alerts, however the
// requests queue up: a request that would overflow it waits for the next.
func TestBatchesStayWithinAChunk(t *testing.T) {
	var largest, calls atomic.Int64
	queued := make(chan struct{})
	c := newCommitter(func(_ context.Context, alerts []Alert) ([]incident.Outcome, error) {
		if calls.Add(1) == 1 {
			<-queued // the others queue up behind the first
		}
		for {
			old := largest.Load()
			if int64(len(alerts)) <= old || largest.CompareAndSwap(old, int64(len(alerts))) {
				break
			}
		}
		return make([]incident.Outcome, len(alerts)), nil
	}, 1, 10)
	t.Cleanup(func() { _ = c.close(context.Background()) })
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			alerts := make([]Alert, 1+i%7)
			res, err := c.submit(context.Background(), alerts)
			assert.NoError(t, err)
			assert.Len(t, res, len(alerts))
		}()
	}
	// The first batch holds 10 alerts at most: at least 40 requests queue.
	require.Eventually(t, func() bool { return calls.Load() == 1 && len(c.queue) >= 40 }, 5*time.Second, time.Millisecond)
	close(queued)
	wg.Wait()
	assert.LessOrEqual(t, largest.Load(), int64(10))
	assert.Greater(t, largest.Load(), int64(7), "requests were batched")
}

// A replica cut off inside a transaction holds its groups' locks only until
// PostgreSQL ends its idle session (idle_in_transaction_session_timeout,
// here 2 s instead of the default 15 s): another replica then writes those
// groups again.
func TestPartitionedReplicaReleasesItsGroups(t *testing.T) {
	dsn := testutil.PostgresSchema(t) + "&idle_in_transaction_session_timeout=2000"
	proxy := testutil.NewProxy(t, "127.0.0.1:5432")
	proxied := strings.Replace(strings.Replace(dsn, "127.0.0.1:5432", proxy.Addr(), 1), "localhost:5432", proxy.Addr(), 1)
	healthy := openOptions(t, Options{Driver: DriverPostgres, DSN: dsn})
	cut := openOptions(t, Options{Driver: DriverPostgres, DSN: proxied})

	// The cut-off replica is inside a transaction that holds the group's lock.
	conn, err := cut.db.Conn(context.Background())
	require.NoError(t, err)
	tx, err := conn.BeginTx(context.Background(), nil)
	require.NoError(t, err)
	a := firing("partitioned", t0)
	_, err = tx.Exec("SELECT pg_advisory_xact_lock($1)", groupLockKey(cut.lockSpace, rules.GroupRef{Scope: a.Scope, Key: a.Fingerprint}))
	require.NoError(t, err)
	proxy.Stall()
	t.Cleanup(func() { proxy.Restore(); _ = tx.Rollback(); _ = conn.Close() })

	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := healthy.Apply(ctx, []Alert{a})
	require.NoError(t, err)
	assert.Equal(t, incident.VerdictCreated, res[0].Verdict)
	t.Logf("the healthy replica wrote the group after %v", time.Since(began))
	assert.Less(t, time.Since(began), 8*time.Second)

	// Without the parameter in the DSN, the store sets its own bound.
	plain := openOptions(t, Options{Driver: DriverPostgres, DSN: testutil.PostgresSchema(t)})
	var timeout string
	require.NoError(t, plain.db.QueryRow("SHOW idle_in_transaction_session_timeout").Scan(&timeout))
	assert.Equal(t, "15s", timeout)
}
