package e2e

import (
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// The senders of DESIGN §14 through the built collector: PagerDuty Events
// v2 (a real Alertmanager's pagerduty_configs among them) and any JSON,
// mapped by the shipped OTTL of examples/transform-*.yaml in a real
// transform processor, on each sender's sample of testdata/.

// Secrets of the senders' integrations in these tests.
const (
	pdRoutingKey     = "0123456789abcdef0123456789abcdef" // testdata/pagerduty/
	zabbixSecret     = "zabbix-secret"
	datadogSecret    = "datadog-secret"
	cloudwatchSecret = "cloudwatch-secret"
)

// shippedMappings are the transform processors of the README's "Any JSON".
var shippedMappings = []string{"examples/transform-zabbix.yaml", "examples/transform-datadog.yaml", "examples/transform-cloudwatch.yaml"}

// sendersConfig is a collector with an integration of each sender and the
// shipped mappings, as the README's "Any JSON" wires them.
func sendersConfig(t *testing.T, port int, st store) string {
	t.Helper()
	processors := map[string]any{}
	for _, f := range shippedMappings {
		var doc struct {
			Processors map[string]any `yaml:"processors"`
		}
		decodeYAML(t, f, repoFile(t, f), &doc)
		require.Len(t, doc.Processors, 1, "%s defines one processor", f)
		maps.Copy(processors, doc.Processors)
	}
	names := slices.Sorted(maps.Keys(processors))
	cfg := map[string]any{
		"receivers": map[string]any{"alertwebhook": map[string]any{
			"http": map[string]any{"endpoint": fmt.Sprintf("127.0.0.1:%d", port)},
			"integrations": []any{
				map[string]any{"id": "pagerduty", "type": "pagerduty", "secret": pdRoutingKey, "project": "payments"},
				map[string]any{"id": "zabbix", "type": "json", "secret": zabbixSecret},
				map[string]any{"id": "datadog", "type": "json", "secret": datadogSecret},
				map[string]any{"id": "cloudwatch", "type": "json", "secret": cloudwatchSecret},
			},
			"max_alerts_per_request": 3,
		}},
		"processors": processors,
		"exporters":  map[string]any{"incident": map[string]any{"store": map[string]any{"driver": st.driver, "dsn": st.dsn}}},
		"service": map[string]any{
			"telemetry": map[string]any{"metrics": map[string]any{"readers": []any{map[string]any{"pull": map[string]any{
				"exporter": map[string]any{"prometheus": map[string]any{"host": "127.0.0.1", "port": freePort(t)}},
			}}}}},
			"pipelines": map[string]any{"logs/alerts": map[string]any{
				"receivers": []any{"alertwebhook"}, "processors": names, "exporters": []any{"incident"},
			}},
		},
	}
	out, err := yaml.Marshal(cfg)
	require.NoError(t, err)
	return string(out)
}

func startSenders(t *testing.T, st store) *collector {
	t.Helper()
	port := freePort(t)
	return runConfig(t, sendersConfig(t, port, st), port, st)
}

// incidentTime reads a time column of the one incident matching where.
func incidentTime(t *testing.T, db *sql.DB, column, where string) time.Time {
	t.Helper()
	var v any
	require.NoError(t, db.QueryRow("SELECT "+column+" FROM incidents WHERE "+where).Scan(&v))
	switch x := v.(type) {
	case time.Time:
		return x.UTC()
	case string:
		at, err := time.Parse(time.RFC3339Nano, x)
		require.NoError(t, err)
		return at.UTC()
	}
	t.Fatalf("%s is %T", column, v)
	return time.Time{}
}

// examples/alertmanager-pagerduty.yml in a real Alertmanager v0.31.1: its
// pagerduty_configs posts to the collector as to PagerDuty; the group's
// alert opens one incident, repeats are duplicates, and the resolve closes it.
func TestRealAlertmanagerPagerDuty(t *testing.T) {
	eachStore(t, func(t *testing.T, st store) {
		binary(t, "E2E_ALERTMANAGER_BIN", "Alertmanager")
		c := startSenders(t, st)
		secrets := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(secrets, "pagerduty-routing-key"), []byte(pdRoutingKey+"\n"), 0o600))
		var doc map[string]any
		decodeYAML(t, "examples/alertmanager-pagerduty.yml", repoFile(t, "examples/alertmanager-pagerduty.yml"), &doc)
		route := doc["route"].(map[string]any)
		route["group_wait"], route["group_interval"], route["repeat_interval"] = "1s", "2s", "3s"
		out, err := yaml.Marshal(doc)
		require.NoError(t, err)
		cfg := strings.NewReplacer("http://otelcol-incidents:8504", c.base, "/etc/alertmanager/secrets/", secrets+"/").Replace(string(out))
		require.NotContains(t, cfg, "otelcol-incidents:8504", "the example's URL is replaced")
		am := runAlertmanager(t, cfg)
		db := st.db(t)

		startsAt := time.Now().Add(-time.Minute).Truncate(time.Second)
		alert := func(endsAt time.Time) string {
			return fmt.Sprintf(`[{"labels":{"alertname":"CheckoutErrors","service":"checkout","severity":"warning","instance":"web-1"},
			  "annotations":{"summary":"5xx above 2%%","description":"The checkout API fails 3%% of its requests"},
			  "startsAt":%q,"endsAt":%q}]`, startsAt.UTC().Format(time.RFC3339), endsAt.UTC().Format(time.RFC3339))
		}
		am.push(t, alert(time.Now().Add(time.Hour)))
		eventually(t, 20*time.Second, "the incident opened through pagerduty_configs", func() bool {
			return count(t, db, "source = 'pagerduty' AND dedup_scope = 'pagerduty' AND status = 'open'") == 1
		})
		eventually(t, 20*time.Second, "a repeat counted as a duplicate", func() bool {
			return count(t, db, "source = 'pagerduty' AND occurrences >= 2") == 1
		})
		assert.Equal(t, 1, count(t, db, "title = 'CheckoutErrors: 5xx above 2%' AND severity = 'high' AND service_name = 'checkout' "+
			"AND description = 'The checkout API fails 3% of its requests' AND project = 'payments'"), "the example's templates")

		am.push(t, alert(time.Now().Add(-time.Second)))
		eventually(t, 20*time.Second, "the incident resolved (send_resolved)", func() bool {
			return count(t, db, "source = 'pagerduty' AND status = 'resolved' AND resolution_reason = 'alert_resolved'") == 1
		})
		assert.Equal(t, 1, count(t, db, "1 = 1"), "one incident")
	})
}

// PagerDuty's own answers through the built collector.
func TestPagerDutyAnswers(t *testing.T) {
	st := sqliteStore(t)
	c := startSenders(t, st)
	db := st.db(t)
	path := "/webhooks/pagerduty/pagerduty/v2/enqueue"
	a := c.post(t, path, fixture(t, "pagerduty/docs-trigger.json"))
	require.Equal(t, 202, a.Code, a.Raw)
	assert.JSONEq(t, `{"status":"success","message":"Event processed","dedup_key":"db-03/postgres/disk"}`, a.Raw)
	assert.Equal(t, 202, c.post(t, "/webhooks/pagerduty/pagerduty", fixture(t, "pagerduty/docs-trigger.json")).Code)
	assert.Equal(t, 1, count(t, db, "fingerprint = 'db-03/postgres/disk' AND occurrences = 2 AND severity = 'critical' AND service_name = 'postgres'"))
	assert.Equal(t, time.Date(2026, 11, 28, 19, 4, 11, 250e6, time.UTC), incidentTime(t, db, "detected_at", "1 = 1"))

	require.Equal(t, 202, c.post(t, path, fixture(t, "pagerduty/docs-acknowledge.json")).Code)
	assert.Equal(t, 1, count(t, db, "acknowledged_at IS NOT NULL AND acknowledged_by = 'pagerduty' AND status = 'open'"))
	require.Equal(t, 202, c.post(t, path, fixture(t, "pagerduty/docs-resolve.json")).Code)
	assert.Equal(t, 1, count(t, db, "status = 'resolved'"))

	bad := c.post(t, path, []byte(`{"routing_key":"`+pdRoutingKey+`","event_action":"trigger","payload":{"summary":"x","severity":"fatal"}}`))
	require.Equal(t, 400, bad.Code, bad.Raw)
	assert.JSONEq(t, `{"status":"invalid event","message":"Event object is invalid","errors":[
		"'payload.source' is missing","'payload.severity' must be critical, error, warning or info, got \"fatal\""]}`, bad.Raw)
	forbidden := c.post(t, path, []byte(`{"routing_key":"wrong","event_action":"trigger"}`))
	require.Equal(t, 403, forbidden.Code, forbidden.Raw)
	assert.JSONEq(t, `{"status":"forbidden","message":"Invalid routing key"}`, forbidden.Raw)
	computed := c.post(t, path, []byte(`{"routing_key":"`+pdRoutingKey+`","event_action":"trigger","payload":{"summary":"Queue backlog","source":"mq-1","severity":"warning"}}`))
	require.Equal(t, 202, computed.Code, computed.Raw)
	key := computed.Body["dedup_key"].(string)
	assert.Len(t, key, 16, "a key computed from source and summary")
	assert.Equal(t, 1, count(t, db, "fingerprint = $1 AND severity = 'medium'", key))
}

// A sample posted as its sender posts it.
func (c *collector) send(t *testing.T, integration, secret, sample string) map[string]any {
	t.Helper()
	a := c.post(t, "/webhooks/json/"+integration, fixture(t, sample), "Authorization", "Bearer "+secret)
	require.Equal(t, 200, a.Code, "%s: %s", sample, a.Raw)
	return a.Body
}

// Zabbix's media type (examples/zabbix-media-type.yaml) through
// transform/zabbix: problem, repeat, acknowledgement, recovery.
func TestZabbixMapping(t *testing.T) {
	eachStore(t, func(t *testing.T, st store) {
		c := startSenders(t, st)
		db := st.db(t)
		created := c.send(t, "zabbix", zabbixSecret, "zabbix/problem.json")
		assert.Equal(t, "success", created["status"])
		incidents := created["incidents"].([]any)
		require.Len(t, incidents, 1)
		assert.Equal(t, "High CPU utilization (over 90% for 5m)", incidents[0].(map[string]any)["title"])
		assert.Equal(t, "31746", incidents[0].(map[string]any)["fingerprint"])
		assert.Equal(t, 1, count(t, db, "fingerprint = '31746' AND source = 'json' AND severity = 'high' AND service_name = 'orders' "+
			"AND description = 'CPU utilization is too high. The system might be slow to respond.' "+
			"AND generator_url = 'https://zabbix.example.com/tr_events.php?triggerid=23551&eventid=31746'"))
		assert.JSONEq(t, `{"class":"os","component":"cpu","scope":"performance","service":"orders","host":"orders-db-01"}`,
			column(t, db, "labels", "fingerprint = '31746'"))
		assert.Equal(t, time.Date(2026, 11, 28, 19, 4, 11, 0, time.UTC), incidentTime(t, db, "detected_at", "fingerprint = '31746'"))

		assert.Equal(t, "duplicate", c.send(t, "zabbix", zabbixSecret, "zabbix/problem.json")["status"])
		c.send(t, "zabbix", zabbixSecret, "zabbix/acknowledged.json")
		assert.Equal(t, 1, count(t, db, "fingerprint = '31746' AND acknowledged_at IS NOT NULL AND status = 'open'"))
		resolved := c.send(t, "zabbix", zabbixSecret, "zabbix/recovery.json")
		assert.EqualValues(t, 1, resolved["incidents_resolved"], resolved)
		assert.Equal(t, time.Date(2026, 11, 28, 19, 31, 40, 0, time.UTC), incidentTime(t, db, "resolved_at", "fingerprint = '31746'"))
		assert.Equal(t, 1, count(t, db, "1 = 1"))
	})
}

// A Datadog webhook with the payload of examples/datadog-webhook.json
// through transform/datadog: triggered, renotified, recovered.
func TestDatadogMapping(t *testing.T) {
	eachStore(t, func(t *testing.T, st store) {
		c := startSenders(t, st)
		db := st.db(t)
		created := c.send(t, "datadog", datadogSecret, "datadog/triggered.json")
		assert.EqualValues(t, 1, created["incidents_created"], created)
		where := "fingerprint = '7325641238347895631'"
		assert.Equal(t, 1, count(t, db, where+" AND title = 'Checkout latency is high' AND severity = 'high' AND service_name = 'checkout' "+
			"AND description = 'p99 latency of checkout is above 1s on web-04. Runbook: https://runbooks.example.com/checkout-latency' "+
			"AND generator_url = 'https://app.datadoghq.com/event/event?id=7325648192347829300'"))
		assert.JSONEq(t, `{"env":"prod","host":"web-04","service":"checkout","team":"payments"}`, column(t, db, "labels", where))
		assert.Equal(t, time.Date(2026, 11, 28, 19, 4, 11, 0, time.UTC), incidentTime(t, db, "detected_at", where), "$DATE")
		assert.Equal(t, "duplicate", c.send(t, "datadog", datadogSecret, "datadog/triggered.json")["status"])
		resolved := c.send(t, "datadog", datadogSecret, "datadog/recovered.json")
		assert.EqualValues(t, 1, resolved["incidents_resolved"], resolved)
		assert.Equal(t, time.Date(2026, 11, 28, 19, 31, 40, 0, time.UTC), incidentTime(t, db, "resolved_at", where))
		assert.Equal(t, 1, count(t, db, "1 = 1"))
	})
}

// CloudWatch alarms through SNS (HTTP Basic auth in the subscription's URL)
// through transform/cloudwatch: the confirmation is logged, never opened;
// ALARM opens, a retry is a duplicate, OK resolves.
func TestCloudWatchMapping(t *testing.T) {
	eachStore(t, func(t *testing.T, st store) {
		c := startSenders(t, st)
		db := st.db(t)
		sns := func(sample, messageType string) map[string]any {
			t.Helper()
			a := c.post(t, "/webhooks/json/cloudwatch", fixture(t, sample), "Authorization", basicAuth("sns", cloudwatchSecret),
				"Content-Type", "text/plain; charset=UTF-8", "X-Amz-Sns-Message-Type", messageType)
			require.Equal(t, 200, a.Code, "%s: %s", sample, a.Raw)
			return a.Body
		}
		confirmed := sns("cloudwatch/subscription-confirmation.json", "SubscriptionConfirmation")
		assert.Equal(t, "confirmation_logged", confirmed["status"])
		eventually(t, 10*time.Second, "the SubscribeURL in the log", func() bool {
			return strings.Contains(c.output.String(), `"subscribe_url": "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:eu-west-1:123456789012:incidents&Token=2336412f37fb`)
		})
		assert.Equal(t, 0, count(t, db, "1 = 1"))

		created := sns("cloudwatch/alarm.json", "Notification")
		assert.EqualValues(t, 1, created["incidents_created"], created)
		sum := sha256.Sum256([]byte("arn:aws:cloudwatch:eu-west-1:123456789012:alarm:orders-api-5xx-rate"))
		where := "fingerprint = '" + hex.EncodeToString(sum[:]) + "'"
		assert.Equal(t, 1, count(t, db, where+" AND title = 'orders-api-5xx-rate' AND severity = 'medium' AND status = 'open' "+
			"AND description LIKE 'Threshold Crossed: 5 out of the last 5 datapoints%'"))
		assert.JSONEq(t, `{"account":"123456789012","region":"EU (Ireland)","namespace":"AWS/ApplicationELB","metric":"HTTPCode_Target_5XX_Count"}`,
			column(t, db, "labels", where))
		assert.Equal(t, time.Date(2026, 11, 28, 19, 4, 11, 250e6, time.UTC), incidentTime(t, db, "detected_at", where), "StateChangeTime")
		assert.Equal(t, "duplicate", sns("cloudwatch/alarm.json", "Notification")["status"], "SNS retries are duplicates")
		resolved := sns("cloudwatch/ok.json", "Notification")
		assert.EqualValues(t, 1, resolved["incidents_resolved"], resolved)
		assert.Equal(t, time.Date(2026, 11, 28, 19, 31, 40, 702e6, time.UTC), incidentTime(t, db, "resolved_at", where))
		assert.Equal(t, 1, count(t, db, "1 = 1"))
	})
}

// Any JSON through a real transform: an array with an element that does
// not map, nothing that maps, malformed, over the limits.
func TestJSONAnswersThroughTransform(t *testing.T) {
	st := sqliteStore(t)
	c := startSenders(t, st)
	db := st.db(t)
	bearer := []string{"Authorization", "Bearer " + datadogSecret}
	mixed := c.post(t, "/webhooks/json/datadog", []byte(`[`+string(fixture(t, "datadog/triggered.json"))+`,{"monitor":"no cycle key"}]`), bearer...)
	require.Equal(t, 200, mixed.Code, mixed.Raw)
	assert.Equal(t, "success", mixed.Body["status"])
	assert.Equal(t, []any{map[string]any{
		"index":  1.0,
		"reason": "missing required attribute alert.fingerprint: set it from the JSON with a transform processor",
	}}, mixed.Body["rejected"])
	assert.Equal(t, 1, count(t, db, "title = 'Checkout latency is high'"))

	none := c.post(t, "/webhooks/json/datadog", []byte(`[{"alert_cycle_key":"1"},{"alert_cycle_key":"2"}]`), bearer...)
	require.Equal(t, 400, none.Code, none.Raw)
	assert.Equal(t, "Invalid webhook payload: alerts[0]: missing required attribute incident.title: set it from the JSON with a transform processor", none.Body["detail"])
	malformed := c.post(t, "/webhooks/json/datadog", []byte(`{"alert_cycle_key":`), bearer...)
	require.Equal(t, 400, malformed.Code, malformed.Raw)
	assert.Contains(t, malformed.Body["detail"], "malformed JSON")
	tooMany := c.post(t, "/webhooks/json/datadog", []byte(`[{},{},{},{}]`), bearer...)
	assert.Equal(t, 413, tooMany.Code, "max_alerts_per_request 3: %s", tooMany.Raw)
	tooBig := c.post(t, "/webhooks/json/datadog", []byte(`{"x":"`+strings.Repeat("x", 21<<20)+`"}`), bearer...)
	assert.Equal(t, 413, tooBig.Code, "max_request_body_size: %s", tooBig.Raw)
	assert.Equal(t, 403, c.post(t, "/webhooks/json/datadog", fixture(t, "datadog/triggered.json")).Code)
	assert.Equal(t, 1, count(t, db, "1 = 1"))
}

// The shipped sender configs agree with the samples: the Datadog payload
// renders to the samples with Datadog's variables, and the Zabbix media
// type sends what the samples hold.
func TestSenderSamplesMatchShippedConfigs(t *testing.T) {
	template := string(repoFile(t, "examples/datadog-webhook.json"))
	for sample, vars := range map[string]map[string]string{
		"datadog/triggered.json": {
			"$ID": "7325648192347829300", "$ALERT_TRANSITION": "Triggered", "$ALERT_TYPE": "error",
			"$ALERT_TITLE": "[Triggered on {host:web-04}] Checkout latency is high", "$DATE": "1795892651000",
			"$ALERT_STATUS": "trace.http.request.duration over host:web-04,service:checkout was > 1.0 on average during the last 5m.",
			"$LINK":         "https://app.datadoghq.com/event/event?id=7325648192347829300",
		},
		"datadog/recovered.json": {
			"$ID": "7325651837465112900", "$ALERT_TRANSITION": "Recovered", "$ALERT_TYPE": "success",
			"$ALERT_TITLE": "[Recovered on {host:web-04}] Checkout latency is high", "$DATE": "1795894300000",
			"$ALERT_STATUS": "trace.http.request.duration over host:web-04,service:checkout was <= 1.0 on average during the last 5m.",
			"$LINK":         "https://app.datadoghq.com/event/event?id=7325651837465112900",
		},
	} {
		common := map[string]string{
			"$ALERT_ID": "12345678", "$ALERT_CYCLE_KEY": "7325641238347895631", "$AGGREG_KEY": "5a1f0c2e9b7d4e3f8a6b1c0d9e8f7a6b",
			"$ALERT_PRIORITY": "P2", "$ALERT_SCOPE": "host:web-04,service:checkout", "$ALERT_METRIC": "trace.http.request.duration",
			"$HOSTNAME": "web-04", "$TAGS": "env:prod,host:web-04,service:checkout,team:payments", "$ORG_ID": "123456",
			"$ORG_NAME": "Example Corp", "$TEXT_ONLY_MSG": "p99 latency of checkout is above 1s on web-04. Runbook: https://runbooks.example.com/checkout-latency",
		}
		maps.Copy(common, vars)
		names := slices.Collect(maps.Keys(common))
		// Longer names first, so that no name is replaced inside another.
		slices.SortFunc(names, func(a, b string) int { return len(b) - len(a) })
		rendered := template
		for _, n := range names {
			rendered = strings.ReplaceAll(rendered, n, common[n])
		}
		assert.NotContains(t, rendered, "$", "every variable of the payload is one of Datadog's")
		assert.Equal(t, string(fixture(t, sample)), rendered, "%s is the payload rendered", sample)
	}

	var media struct {
		Export struct {
			MediaTypes []struct {
				Name       string `yaml:"name"`
				Type       string `yaml:"type"`
				Parameters []struct {
					Name  string `yaml:"name"`
					Value string `yaml:"value"`
				} `yaml:"parameters"`
				Script string `yaml:"script"`
			} `yaml:"media_types"`
		} `yaml:"zabbix_export"`
	}
	decodeYAML(t, "examples/zabbix-media-type.yaml", repoFile(t, "examples/zabbix-media-type.yaml"), &media)
	require.Len(t, media.Export.MediaTypes, 1)
	mt := media.Export.MediaTypes[0]
	assert.Equal(t, "WEBHOOK", mt.Type)
	var sent []string
	for _, p := range mt.Parameters {
		switch p.Name {
		case "URL":
			assert.Equal(t, "http://"+exampleHost+"/webhooks/json/zabbix", p.Value)
		case "Secret", "HTTPProxy":
		default:
			sent = append(sent, p.Name)
		}
	}
	// The script adds the times in UTC.
	sent = append(sent, "event_started_at", "event_recovered_at")
	for _, sample := range []string{"zabbix/problem.json", "zabbix/acknowledged.json", "zabbix/recovery.json"} {
		var body map[string]any
		decodeYAML(t, sample, fixture(t, sample), &body)
		assert.ElementsMatch(t, sent, slices.Collect(maps.Keys(body)), "%s holds what the media type sends", sample)
	}
}

// basicAuth is an Authorization header of HTTP Basic auth, as SNS sends
// the credentials of a subscription's URL.
func basicAuth(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

// column reads a text column of the one incident matching where.
func column(t *testing.T, db *sql.DB, name, where string) string {
	t.Helper()
	var v string
	require.NoError(t, db.QueryRow("SELECT "+name+" FROM incidents WHERE "+where).Scan(&v))
	return v
}
