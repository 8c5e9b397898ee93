package incidentexporter

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The silences' endpoints on both engines: each rule with its answer and
// the store's state, each bad input with its 400.

func (u *apiUnderTest) silence(t *testing.T, body string) answer {
	t.Helper()
	return u.call(t, http.MethodPost, "/api/v1/silences", "Bearer "+writeToken, []byte(body), "Content-Type", "application/json")
}

func silenceBodyOf(t *testing.T, a answer) map[string]any {
	t.Helper()
	s, ok := a.body["silence"].(map[string]any)
	require.True(t, ok, a)
	return s
}

func TestAPISilences(t *testing.T) {
	for _, st := range storesUnderTest {
		t.Run(st.name, func(t *testing.T) {
			u := startAPI(t, st.cfg(t))
			now := time.Now().UTC()
			ends := now.Add(time.Hour).Format(time.RFC3339)
			created := u.silence(t, `{"matchers":[{"name":"service","value":"svc-held","op":"="},{"name":"severity","value":"crit.*","op":"=~"}],
				"ends_at":"`+ends+`","created_by":"alice","comment":"database upgrade"}`)
			require.Equal(t, http.StatusCreated, created.code, created)
			sil := silenceBodyOf(t, created)
			id := sil["id"].(string)
			assert.Equal(t, "active", sil["status"])
			assert.Equal(t, "alice", sil["created_by"])
			assert.Empty(t, sil["integration"])
			assert.Equal(t, ends, sil["ends_at"])

			// An alert it matches, that would open an incident, is held.
			fired := u.fire(t, amAlert("firing", "held", "DiskFull", "critical", now.Add(-time.Minute), ""))
			assert.Equal(t, "silenced", fired["status"], fired)
			assert.Equal(t, id, fired["silence_id"])
			assert.Equal(t, "held", fired["fingerprint"])
			// A mixed request counts it.
			mixed := u.fire(t, amAlert("firing", "held", "DiskFull", "critical", now.Add(-time.Minute), ""),
				amAlert("firing", "free", "DiskFull", "critical", now, ""))
			assert.Equal(t, "success", mixed["status"], mixed)
			assert.EqualValues(t, 1, mixed["alerts_silenced"])
			assert.EqualValues(t, 1, mixed["incidents_created"])
			assert.Empty(t, incidentsOf(t, u.get(t, "/api/v1/incidents?fingerprint=held")), "no incident while held")

			list := u.get(t, "/api/v1/silences")
			require.Equal(t, 200, list.code, list)
			assert.Len(t, list.body["silences"], 1)
			one := u.get(t, "/api/v1/silences/"+id)
			require.Equal(t, 200, one.code, one)
			assert.Equal(t, "database upgrade", silenceBodyOf(t, one)["comment"])
			assert.Equal(t, 404, u.get(t, "/api/v1/silences/01930000-0000-7000-8000-00000000dead").code)
			assert.Equal(t, 404, u.get(t, "/api/v1/silences/nope").code)

			page := u.call(t, http.MethodGet, "/", "basic:"+readToken, nil)
			assert.Contains(t, page.raw, "1 silenced")
			assert.Contains(t, page.raw, "service=&#34;svc-held&#34;")

			// Expiring it by hand: the held alert opens its incident at once,
			// detected when it started.
			read := u.call(t, http.MethodDelete, "/api/v1/silences/"+id, "Bearer "+readToken, nil)
			assert.Equal(t, 403, read.code, read)
			expired := u.call(t, http.MethodDelete, "/api/v1/silences/"+id, "Bearer "+writeToken, nil)
			require.Equal(t, 200, expired.code, expired)
			assert.Equal(t, "expired", silenceBodyOf(t, expired)["status"])
			incs := incidentsOf(t, u.get(t, "/api/v1/incidents?fingerprint=held"))
			require.Len(t, incs, 1)
			assert.Equal(t, now.Add(-time.Minute).Truncate(time.Second).Format(time.RFC3339), incs[0]["detected_at"])
			detail := u.get(t, "/api/v1/incidents/"+incs[0]["id"].(string))
			timeline, _ := json.Marshal(detail.body["timeline"])
			assert.Contains(t, string(timeline), "held by silence "+id)
			again := u.call(t, http.MethodDelete, "/api/v1/silences/"+id, "Bearer "+writeToken, nil)
			assert.Equal(t, 200, again.code, "expiring it again changes nothing")
			assert.Len(t, incidentsOf(t, u.get(t, "/api/v1/incidents?fingerprint=held")), 1)
			expiredList := u.get(t, "/api/v1/silences?status=expired")
			assert.Len(t, expiredList.body["silences"], 1)
			assert.Empty(t, u.get(t, "/api/v1/silences").body["silences"])
		})
	}
}

func TestAPISilenceRefusals(t *testing.T) {
	u := startAPI(t, storesUnderTest[0].cfg(t))
	ends := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	ok := `{"name":"service","value":"api","op":"="}`
	tests := []struct {
		name, body string
		code       int
		detail     string
	}{
		{"no matchers", `{"matchers":[],"ends_at":"` + ends + `","created_by":"a"}`, 400, "matchers: at least one is required"},
		{"unknown op", `{"matchers":[{"name":"a","value":"b","op":"=="}],"ends_at":"` + ends + `","created_by":"a"}`, 400, `matchers[0].op: "==" is not one of`},
		{"bad regex", `{"matchers":[{"name":"a","value":"(","op":"=~"}],"ends_at":"` + ends + `","created_by":"a"}`, 400, "not a valid RE2"},
		{"matches everything", `{"matchers":[{"name":"a","value":".*","op":"=~"}],"ends_at":"` + ends + `","created_by":"a"}`, 400, "must not match the empty string"},
		{"no end", `{"matchers":[` + ok + `],"created_by":"a"}`, 400, "ends_at: required"},
		{"end before start", `{"matchers":[` + ok + `],"starts_at":"2030-01-02T00:00:00Z","ends_at":"2030-01-01T00:00:00Z","created_by":"a"}`, 400, "ends_at: must be after starts_at"},
		{"longer than 90 days", `{"matchers":[` + ok + `],"starts_at":"2030-01-01T00:00:00Z","ends_at":"2030-04-02T00:00:00Z","created_by":"a"}`, 400, "at most 90 days"},
		{"not a time", `{"matchers":[` + ok + `],"ends_at":"tomorrow","created_by":"a"}`, 400, "ends_at: not an RFC 3339 time"},
		{"no author", `{"matchers":[` + ok + `],"ends_at":"` + ends + `"}`, 400, "created_by is required"},
		{"unknown field", `{"matchers":[` + ok + `],"ends_at":"` + ends + `","created_by":"a","until":"x"}`, 400, `unknown field "until"`},
		{"not an object", `[1]`, 400, "must be a JSON object"},
		{"a NUL", `{"matchers":[{"name":"a","value":"b\u0000","op":"="}],"ends_at":"` + ends + `","created_by":"a"}`, 400, "must not contain NUL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := u.silence(t, tt.body)
			assert.Equal(t, tt.code, a.code, a)
			assert.Contains(t, a.body["detail"], tt.detail, a)
		})
	}
	form := u.call(t, http.MethodPost, "/api/v1/silences", "Bearer "+writeToken, []byte(`matchers=x`), "Content-Type", "application/x-www-form-urlencoded")
	assert.Equal(t, 415, form.code, form)
	readOnly := u.call(t, http.MethodPost, "/api/v1/silences", "Bearer "+readToken, []byte(`{}`), "Content-Type", "application/json")
	assert.Equal(t, 403, readOnly.code, readOnly)
	put := u.call(t, http.MethodPut, "/api/v1/silences", "Bearer "+writeToken, nil)
	assert.Equal(t, 405, put.code, put)
	assert.Equal(t, "GET, HEAD, POST", put.header.Get("Allow"))
	bad := u.get(t, "/api/v1/silences?status=forever")
	assert.Equal(t, 400, bad.code, bad)
	assert.Contains(t, bad.body["detail"], "status forever is unknown")
	assert.Empty(t, u.get(t, "/api/v1/silences?status=all").body["silences"], "nothing was created")
	hostile := u.silence(t, `{"matchers":[{"name":"service","value":"<script>x</script>","op":"="}],"ends_at":"`+ends+`","created_by":"<b>m</b>","comment":"<img src=x>"}`)
	require.Equal(t, 201, hostile.code, hostile)
	page := u.call(t, http.MethodGet, "/", "basic:"+readToken, nil)
	assert.NotContains(t, page.raw, "<script>x")
	assert.NotContains(t, page.raw, "<img src=x>")
	assert.Contains(t, page.raw, "&lt;script&gt;x&lt;/script&gt;", "the matcher shows as text")
}
