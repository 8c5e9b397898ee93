package incident

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRecorderThroughContext(t *testing.T) {
	assert.Nil(t, RecorderFromContext(context.Background()))
	rec := NewRecorder()
	ctx := ContextWithRecorder(context.Background(), rec)
	require.Same(t, rec, RecorderFromContext(ctx))

	assert.True(t, rec.Record(Outcome{Verdict: VerdictCreated, IncidentID: "1", Fingerprint: "a"}))
	assert.True(t, rec.Record(Outcome{Verdict: VerdictDuplicate, IncidentID: "1", Fingerprint: "a"}))
	got := rec.Close()
	require.Len(t, got, 2)
	assert.Equal(t, VerdictCreated, got[0].Verdict)
	assert.Equal(t, VerdictDuplicate, got[1].Verdict)

	// After the answer went out, late reports are refused and not kept.
	assert.False(t, rec.Record(Outcome{Verdict: VerdictCreated}))
	assert.Nil(t, rec.Close())
}

// Reports racing with Close are either in the closed set or refused, never lost
// silently nor counted twice. Run with -race.
func TestRecorderConcurrentReportsAndClose(t *testing.T) {
	rec := NewRecorder()
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted := 0
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if rec.Record(Outcome{Verdict: VerdictCreated}) {
				mu.Lock()
				accepted++
				mu.Unlock()
			}
		}()
	}
	closed := rec.Close()
	wg.Wait()
	assert.Len(t, closed, accepted)
}
