package alertwebhookreceiver

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLabelLimits(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"alerts":[{"labels":{"alertname":"Many"`)
	for i := range maxLabels {
		fmt.Fprintf(&b, `,"l%d":"v"`, i)
	}
	b.WriteString(`}},{"labels":{"alertname":"Few"}}]}`)
	n, err := parseGroup([]byte(b.String()), "alertmanager", time.Now())
	require.NoError(t, err)
	require.Len(t, n.Alerts, 1)
	assert.Equal(t, "Few", n.Alerts[0].Labels["alertname"])
	require.Len(t, n.Rejected, 1)
	assert.Equal(t, rejection{Index: 0, Reason: "1001 labels, more than the limit of 1000"}, n.Rejected[0])
}

func TestTimestampsWithAnyOffset(t *testing.T) {
	for in, want := range map[string]string{
		"2026-01-24T12:00:00.000Z":         "2026-01-24T12:00:00Z",
		"2021-10-12T09:51:03.157076+02:00": "2021-10-12T07:51:03.157076Z",
		"2026-01-24T12:00:00-05:30":        "2026-01-24T17:30:00Z",
		"2026-01-24T12:00:00.123456789Z":   "2026-01-24T12:00:00.123456789Z",
	} {
		got, err := parseTime(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got.Format(time.RFC3339Nano), in)
	}
	zero, err := parseTime("0001-01-01T00:00:00Z")
	require.NoError(t, err)
	assert.True(t, zero.IsZero())
	_, err = parseTime("yesterday")
	assert.EqualError(t, err, `"yesterday" is not an RFC 3339 timestamp`)
}
