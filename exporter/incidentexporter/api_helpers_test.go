package incidentexporter

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/metadatatest"
)

// The incident API under test: the exporter built through its factory with
// an api section, the real receiver in front of it, a real store.

// The tests' own tokens.
const (
	readToken  = "read-token-of-the-tests"
	writeToken = "write-token-of-the-tests"
)

type apiUnderTest struct {
	base     string // the API
	webhooks string // the receiver
	tel      *componenttest.Telemetry
	logs     *observer.ObservedLogs
	db       *sql.DB
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// startAPI starts the exporter with an API on a free port, a read and a
// write token, and mutate applied to its config.
func startAPI(t *testing.T, sc StoreConfig, mutate ...func(*Config)) *apiUnderTest {
	t.Helper()
	cfg := createDefaultConfig()
	cfg.Store = sc
	api := cfg.API.GetOrInsertDefault()
	api.ServerConfig.NetAddr.Endpoint = freeAddr(t)
	api.ReadTokens = []configopaque.String{readToken}
	api.WriteTokens = []configopaque.String{writeToken}
	for _, m := range mutate {
		m(cfg)
	}
	require.NoError(t, cfg.Validate())
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	set := metadatatest.NewSettings(tel)
	core, logs := observer.New(zap.DebugLevel)
	set.Logger = zap.New(core)
	exp, err := NewFactory().CreateLogs(context.Background(), set, cfg)
	require.NoError(t, err)
	require.NoError(t, exp.Start(context.Background(), componenttest.NewNopHost()))
	stop := sync.OnceFunc(func() { require.NoError(t, exp.Shutdown(context.Background())) })
	t.Cleanup(stop)
	return &apiUnderTest{
		base: "http://" + api.ServerConfig.NetAddr.Endpoint, webhooks: startReceiver(t, exp),
		tel: tel, logs: logs, db: openDB(t, sc),
	}
}

// answer is an HTTP answer as the tests read it.
type answer struct {
	code   int
	header http.Header
	raw    string
	body   map[string]any // nil unless a JSON object
}

func (a answer) String() string { return fmt.Sprintf("%d %s", a.code, a.raw) }

// call sends a request; auth is "Bearer <token>", "basic:<token>" or "".
func (u *apiUnderTest) call(t *testing.T, method, path, auth string, body []byte, headers ...string) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, u.base+path, bytes.NewReader(body))
	require.NoError(t, err)
	if token, ok := strings.CutPrefix(auth, "basic:"); ok {
		req.SetBasicAuth("someone", token)
	} else if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	a := answer{code: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &a.body)
	return a
}

func (u *apiUnderTest) get(t *testing.T, path string) answer {
	t.Helper()
	return u.call(t, http.MethodGet, path, "Bearer "+readToken, nil)
}

// act posts an action with the write token.
func (u *apiUnderTest) act(t *testing.T, id, action, body string) answer {
	t.Helper()
	return u.call(t, http.MethodPost, "/api/v1/incidents/"+id+"/"+action, "Bearer "+writeToken, []byte(body), "Content-Type", "application/json")
}

// fire posts alerts to the global Alertmanager endpoint and returns the
// receiver's answer.
func (u *apiUnderTest) fire(t *testing.T, alerts ...string) map[string]any {
	t.Helper()
	code, body := post(t, u.webhooks+"/webhooks/alertmanager", []byte(`{"version":"4","status":"firing","alerts":[`+strings.Join(alerts, ",")+`]}`))
	require.Equal(t, 200, code, body)
	return body
}

// amAlert is an Alertmanager alert; extra is more JSON members.
func amAlert(status, fingerprint, alertname, severity string, startsAt time.Time, extra string) string {
	a := fmt.Sprintf(`{"status":%q,"fingerprint":%q,"startsAt":%q,"labels":{"alertname":%q,"severity":%q,"service":"svc-%s"}`,
		status, fingerprint, startsAt.UTC().Format(time.RFC3339), alertname, severity, fingerprint)
	if status == "resolved" {
		a += fmt.Sprintf(`,"endsAt":%q`, startsAt.Add(time.Minute).UTC().Format(time.RFC3339))
	}
	if extra != "" {
		a += "," + extra
	}
	return a + "}"
}

// idOf is the id of the incident created by a fire's answer.
func idOf(t *testing.T, fired map[string]any) string {
	t.Helper()
	incs, _ := fired["incidents"].([]any)
	require.Len(t, incs, 1, fired)
	return incs[0].(map[string]any)["id"].(string)
}

// requests sums the API requests counted with these attributes.
func (u *apiUnderTest) requests(t *testing.T, route string, code int) int64 {
	t.Helper()
	m, err := u.tel.GetMetric("otelcol_incident_api_requests")
	if err != nil {
		return 0
	}
	var n int64
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		r, _ := dp.Attributes.Value(attribute.Key("route"))
		c, _ := dp.Attributes.Value(attribute.Key("code"))
		if r.AsString() == route && c.AsInt64() == int64(code) {
			n += dp.Value
		}
	}
	return n
}

// incidentsOf are the list answer's incidents.
func incidentsOf(t *testing.T, a answer) []map[string]any {
	t.Helper()
	require.Equal(t, 200, a.code, a)
	list, ok := a.body["incidents"].([]any)
	require.True(t, ok, a)
	out := make([]map[string]any, len(list))
	for i, v := range list {
		out[i] = v.(map[string]any)
	}
	return out
}

func fingerprints(incs []map[string]any) []string {
	out := make([]string, len(incs))
	for i, inc := range incs {
		out[i] = inc["fingerprint"].(string)
	}
	return out
}
