package incidentexporter

import (
	"encoding/base64"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configopaque"
)

// What an adversarial run found the API let through: filters dropped
// without a word, names that show another name, forged cursors answered as
// a store failure, tokens that can never match.
func TestAPIRefusesWhatItCannotRead(t *testing.T) {
	for _, st := range storesUnderTest {
		t.Run(st.name, func(t *testing.T) {
			u := startAPI(t, st.cfg(t))
			for _, query := range []string{"status=resolved;x", "status=resolved%zz", "severity=low;"} {
				a := u.get(t, "/api/v1/incidents?"+query)
				assert.Equal(t, http.StatusBadRequest, a.code, "%s: %s", query, a)
				assert.Contains(t, a.body["detail"], "the query cannot be read", query)
			}
			forged := base64.RawURLEncoding.EncodeToString([]byte("2026-11-28T19:00:00Z|not-a-uuid-but-36-characters-long!!!"))
			a := u.get(t, "/api/v1/incidents?cursor="+forged)
			assert.Equal(t, http.StatusBadRequest, a.code, a)
			assert.Contains(t, a.body["detail"], "cursor")

			id := idOf(t, u.fire(t, amAlert("firing", "bidi", "DiskFull", "critical", t0, "")))
			for _, by := range []string{"alice\u202Eecila", "al\u200Bice", "alice\u2028bob"} {
				a := u.act(t, id, "acknowledge", `{"by":"`+by+`"}`)
				assert.Equal(t, http.StatusBadRequest, a.code, "%q: %s", by, a)
				assert.Contains(t, a.body["detail"], "invisible or direction-changing")
			}
		})
	}
}

func TestAPITokenWithWhiteSpaceIsRefused(t *testing.T) {
	cfg := createDefaultConfig()
	api := cfg.API.GetOrInsertDefault()
	api.ReadTokens = []configopaque.String{"good-token", "from-a-file\n"}
	err := cfg.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "read_tokens[1] begins or ends with white space")
	assert.NotContains(t, err.Error(), "from-a-file")
}
