package incidentexporter // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter"

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/rules"
	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/store"
	"github.com/sre-copilot/incident-collector/internal/incident"
)

// defaultScope deduplicates records that name no integration (records from
// another receiver that carry the alert attributes).
const defaultScope = "default"

// maxYear is the last year both stores keep faithfully (SQLite's timestamps
// are fixed-width text).
const maxYear = 9999

// alertsOf reads the alert records of ld. Records without a fingerprint are
// not alerts and are counted as skipped; alerts that cannot be stored
// faithfully (an unusable fingerprint, a timestamp out of range) are
// rejected, each with its reason, and the others go on.
func (e *incidentExporter) alertsOf(ld plog.Logs) (alerts []store.Alert, rejected []incident.Outcome, announced []announcement, skipped int) {
	alerts = make([]store.Alert, 0, ld.LogRecordCount())
	now := e.now()
	grouping := rules.Grouping{By: e.cfg.Grouping.By, Labels: e.cfg.Grouping.Labels}
	rls := ld.ResourceLogs()
	for i := range rls.Len() {
		sls := rls.At(i).ScopeLogs()
		for j := range sls.Len() {
			lrs := sls.At(j).LogRecords()
			for k := range lrs.Len() {
				if a, ok := announcementOf(lrs.At(k)); ok {
					announced = append(announced, a)
					continue
				}
				a, problem := alertOf(lrs.At(k), now, grouping)
				switch {
				case a.Fingerprint == "" && problem == "":
					skipped++
				case problem != "":
					rejected = append(rejected, incident.Outcome{
						Verdict: incident.VerdictRejected, Fingerprint: a.Fingerprint, Reason: problem, Index: alertIndex(lrs.At(k)),
					})
				default:
					alerts = append(alerts, a)
				}
			}
		}
	}
	return alerts, rejected, announced, skipped
}

// alertIndex is the record's index in its request's payload, -1 when the
// receiver did not say.
func alertIndex(lr plog.LogRecord) int {
	if v, ok := lr.Attributes().Get(incident.AttrAlertIndex); ok && v.Type() == pcommon.ValueTypeInt {
		return int(v.Int())
	}
	return -1
}

// requiredOfJSON are the attributes an alert of any JSON (alert.source
// json) must have after the user's processors mapped it; the others have
// defaults (README, "Any JSON").
var requiredOfJSON = []string{incident.AttrFingerprint, incident.AttrTitle}

// alertOf reads one record, or says why it cannot be stored. A record with
// no fingerprint at all is not an alert: it comes back empty, no problem;
// but one of any JSON is, and lacking a required attribute it is refused.
func alertOf(lr plog.LogRecord, now time.Time, grouping rules.Grouping) (store.Alert, string) {
	attrs := lr.Attributes()
	if problem := missingOfJSON(attrs); problem != "" {
		return store.Alert{Fingerprint: rawStr(attrs, incident.AttrFingerprint)}, problem
	}
	fpValue, ok := attrs.Get(incident.AttrFingerprint)
	if !ok || fpValue.AsString() == "" {
		return store.Alert{}, ""
	}
	// The fingerprint is an identity: never altered, refused when unusable.
	fp := fpValue.AsString()
	if problem := incident.FingerprintProblem(fp); problem != "" {
		return store.Alert{Fingerprint: fp}, problem
	}
	var labels pcommon.Map
	if v, ok := attrs.Get(incident.AttrLabels); ok && v.Type() == pcommon.ValueTypeMap {
		labels = v.Map()
	} else {
		labels = pcommon.NewMap()
	}
	label := func(name string) (string, bool) {
		v, ok := labels.Get(name)
		if !ok {
			return "", false
		}
		return v.AsString(), true
	}
	// The scope and the group key are identities too: read as sent, never
	// cleaned into another one (KeyOf hashes a key that cannot be stored).
	scope := rawStr(attrs, incident.AttrIntegrationID)
	if scope == "" {
		scope = defaultScope
	}
	if problem := incident.IdentityProblem("integration id", scope, incident.MaxFingerprintLen); problem != "" {
		return store.Alert{Fingerprint: fp}, problem
	}
	alertname, _ := label("alertname")
	a := store.Alert{
		Scope:        scope,
		Fingerprint:  fp,
		GroupKey:     grouping.KeyOf(rawStr(attrs, incident.AttrGroupKey), label),
		AlertName:    clean(alertname),
		Status:       getStr(attrs, incident.AttrStatus),
		Project:      getStr(attrs, incident.AttrProject),
		Source:       getStr(attrs, incident.AttrSource),
		Title:        getStr(attrs, incident.AttrTitle),
		Description:  getStr(attrs, incident.AttrDescription),
		ServiceName:  getStr(attrs, incident.AttrServiceName),
		Severity:     getStr(attrs, incident.AttrSeverity),
		Labels:       getJSON(attrs, incident.AttrLabels),
		Annotations:  getJSON(attrs, incident.AttrAnnotations),
		GeneratorURL: getStr(attrs, incident.AttrGeneratorURL),
	}
	switch a.Status {
	case incident.StatusResolved, incident.StatusAcknowledged:
	default:
		a.Status = incident.StatusFiring
	}
	if a.Severity == "" {
		a.Severity = incident.SeverityMedium
	}
	if a.Title == "" {
		a.Title = a.AlertName
	}
	return a, instanceTimes(&a, lr, now)
}

// missingOfJSON names the first required attribute an alert of any JSON
// lacks; "" for every other record.
func missingOfJSON(attrs pcommon.Map) string {
	if rawStr(attrs, incident.AttrSource) != incident.SourceJSON {
		return ""
	}
	for _, key := range requiredOfJSON {
		if getStr(attrs, key) == "" {
			return "missing required attribute " + key + ": set it from the JSON with a transform processor"
		}
	}
	return ""
}

// instanceTimes reads when the alert's instance started and ended, or says
// why they cannot be stored. The instance identity is the start time,
// alert.starts_at. Without it the start is unknown (a repeat of the firing
// alert is then the same instance); the incident is detected at what a
// processor left in incident.detected_at, else at the record's timestamp.
func instanceTimes(a *store.Alert, lr plog.LogRecord, now time.Time) string {
	attrs := lr.Attributes()
	a.StartsAt = getTime(attrs, incident.AttrStartsAt)
	if a.StartsAt.IsZero() {
		a.StartUnknown = true
		a.StartsAt = getTime(attrs, incident.AttrDetectedAt)
	}
	if a.StartsAt.IsZero() && lr.Timestamp() != 0 {
		a.StartsAt = lr.Timestamp().AsTime()
	}
	if a.StartsAt.IsZero() {
		a.StartsAt = now
	}
	// Both engines keep microseconds; instance equality must hold after a round trip.
	a.StartsAt = a.StartsAt.UTC().Truncate(time.Microsecond)
	a.EndsAt = getTime(attrs, incident.AttrEndsAt).UTC().Truncate(time.Microsecond)
	if a.StartsAt.Year() > maxYear || a.EndsAt.Year() > maxYear {
		return "timestamp after the year 9999 (UTC)"
	}
	return ""
}

func rawStr(attrs pcommon.Map, key string) string {
	if v, ok := attrs.Get(key); ok {
		return v.AsString()
	}
	return ""
}

// getStr reads a string attribute as a value both stores keep: NUL
// characters (PostgreSQL text cannot hold them) are removed and invalid UTF-8
// is replaced. Never used for identities.
func getStr(attrs pcommon.Map, key string) string {
	return clean(rawStr(attrs, key))
}

func clean(s string) string {
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "")
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return s
}

func getTime(attrs pcommon.Map, key string) time.Time {
	s := getStr(attrs, key)
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	// Years before 1 (year 0 with an offset east of UTC) mean "not set", as
	// in the receiver: Alertmanager's zero time is 0001-01-01.
	if err != nil || t.UTC().Year() < 1 {
		return time.Time{}
	}
	return t
}

// getJSON renders a map attribute as a JSON object ("{}" when absent). Keys
// and values are cleaned before encoding, so the JSON says exactly what was
// sent but for NUL characters, and is always valid for both stores.
func getJSON(attrs pcommon.Map, key string) string {
	v, ok := attrs.Get(key)
	if !ok || v.Type() != pcommon.ValueTypeMap {
		return "{}"
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // "<" stays "<" for whoever reads the column
	if err := enc.Encode(cleanRaw(v.Map().AsRaw())); err != nil {
		return "{}"
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

func cleanRaw(v any) any {
	switch x := v.(type) {
	case string:
		return clean(x)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			out[clean(k)] = cleanRaw(val)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = cleanRaw(val)
		}
		return out
	default:
		return v
	}
}
