package incident

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFingerprintVectors(t *testing.T) {
	tests := []struct {
		name   string
		labels map[string]string
		want   string
	}{
		{"empty", map[string]string{}, "cbf29ce484222325"},
		{"nil", nil, "cbf29ce484222325"},
		{"readme vector", map[string]string{"alertname": "HighLatency", "job": "api", "severity": "page"}, "a105e054dfb59f59"},
		{"seed curl test", map[string]string{"alertname": "TestAlert", "severity": "warning", "service": "test-service"}, "48937227ff21c070"},
		{"prometheus push gw-1", map[string]string{
			"alertname": "HighErrorRate", "severity": "critical", "service": "api-gateway", "job": "api", "instance": "gw-1:8080",
		}, "21473860c0a3436e"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, Fingerprint(tt.labels, nil))
		})
	}
}

// Every fingerprint a real Alertmanager sent must be reproduced from the labels.
func TestFingerprintMatchesRealAlertmanager(t *testing.T) {
	files, err := filepath.Glob("../../testdata/alertmanager/real-*.json")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	checked := 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		var msg struct {
			Alerts []struct {
				Labels      map[string]string `json:"labels"`
				Fingerprint string            `json:"fingerprint"`
			} `json:"alerts"`
		}
		require.NoError(t, json.Unmarshal(raw, &msg), f)
		for _, a := range msg.Alerts {
			assert.Equal(t, a.Fingerprint, Fingerprint(a.Labels, nil), "%s %v", f, a.Labels)
			checked++
		}
	}
	assert.GreaterOrEqual(t, checked, 8)
}

func TestFingerprintIgnoreLabels(t *testing.T) {
	base := map[string]string{"alertname": "HighLatency", "job": "api", "severity": "page"}
	withReplica := map[string]string{"alertname": "HighLatency", "job": "api", "severity": "page", "replica": "b"}
	ignore := map[string]struct{}{"replica": {}}
	assert.NotEqual(t, Fingerprint(base, nil), Fingerprint(withReplica, nil))
	assert.Equal(t, "a105e054dfb59f59", Fingerprint(withReplica, ignore))
}

func TestFingerprintSeparatesNameAndValue(t *testing.T) {
	// Without the separator byte these two would hash the same bytes.
	a := Fingerprint(map[string]string{"ab": "c"}, nil)
	b := Fingerprint(map[string]string{"a": "bc"}, nil)
	assert.NotEqual(t, a, b)
	assert.Len(t, a, 16)
}
