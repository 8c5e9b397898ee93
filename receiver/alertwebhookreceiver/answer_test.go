package alertwebhookreceiver

import (
	"testing"

	gojson "github.com/goccy/go-json"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sre-copilot/incident-collector/internal/incident"
)

// Every answer counts what the request changed.
func TestVerdictBody(t *testing.T) {
	created := incident.Outcome{Verdict: incident.VerdictCreated, IncidentID: "i1", Title: "T", Fingerprint: "a"}
	duplicate := incident.Outcome{Verdict: incident.VerdictDuplicate, Fingerprint: "b"}
	beat := incident.Outcome{Verdict: incident.VerdictHeartbeat, Fingerprint: "w"}
	beatResolving := incident.Outcome{Verdict: incident.VerdictHeartbeat, Fingerprint: "w", IncidentID: "hb1"}
	ignored := incident.Outcome{Verdict: incident.VerdictIgnored, Fingerprint: "c"}
	held := incident.Outcome{Verdict: incident.VerdictSilenced, Fingerprint: "s", SilenceID: "sil1"}
	tests := []struct {
		name     string
		alerts   int
		outcomes []incident.Outcome
		want     string
	}{
		{"nothing came back", 2, nil, `{"status":"accepted","alerts_received":2}`},
		{
			"created", 1,
			[]incident.Outcome{created},
			`{"status":"success","incidents_created":1,"incidents":[{"id":"i1","title":"T","fingerprint":"a"}],"incidents_resolved":0,"incidents_reopened":0,"alerts_grouped":0,"duplicates":0}`,
		},
		{
			"a heartbeat", 1,
			[]incident.Outcome{beat},
			`{"status":"success","incidents_created":0,"incidents":[],"incidents_resolved":0,"incidents_reopened":0,"alerts_grouped":0,"heartbeats":1,"duplicates":0}`,
		},
		{
			"a heartbeat that resolves its incident", 1,
			[]incident.Outcome{beatResolving},
			`{"status":"success","incidents_created":0,"incidents":[],"incidents_resolved":1,"incidents_reopened":0,"alerts_grouped":0,"heartbeats":1,"duplicates":0}`,
		},
		{
			"a resolving heartbeat among duplicates", 2,
			[]incident.Outcome{duplicate, beatResolving},
			`{"status":"success","incidents_created":0,"incidents":[],"incidents_resolved":1,"incidents_reopened":0,"alerts_grouped":0,"heartbeats":1,"duplicates":1}`,
		},
		{
			"every alert silenced", 2,
			[]incident.Outcome{held, {Verdict: incident.VerdictSilenced, Fingerprint: "t", SilenceID: "sil2"}},
			`{"status":"silenced","message":"Alert silenced","fingerprint":"s","silence_id":"sil1"}`,
		},
		{
			"one silenced, one created", 2,
			[]incident.Outcome{held, created},
			`{"status":"success","incidents_created":1,"incidents":[{"id":"i1","title":"T","fingerprint":"a"}],"incidents_resolved":0,"incidents_reopened":0,"alerts_grouped":0,"alerts_silenced":1,"duplicates":0}`,
		},
		{
			"a silenced alert among duplicates", 2,
			[]incident.Outcome{duplicate, held},
			`{"status":"success","incidents_created":0,"incidents":[],"incidents_resolved":0,"incidents_reopened":0,"alerts_grouped":0,"alerts_silenced":1,"duplicates":1}`,
		},
		{
			"duplicates", 2,
			[]incident.Outcome{duplicate, {Verdict: incident.VerdictDuplicate, Fingerprint: "d"}},
			`{"status":"duplicate","message":"Alert already processed","fingerprint":"b","fingerprints":["b","d"]}`,
		},
		{
			"nothing to resolve", 1,
			[]incident.Outcome{ignored},
			`{"status":"ignored","message":"No open incident for this alert","fingerprint":"c"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := gojson.Marshal(verdictBody(tt.alerts, tt.outcomes, nil))
			require.NoError(t, err)
			assert.Equal(t, tt.want, string(got))
		})
	}
}
