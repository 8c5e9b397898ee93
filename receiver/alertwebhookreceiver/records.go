package alertwebhookreceiver // import "github.com/sre-copilot/incident-collector/receiver/alertwebhookreceiver"

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/sre-copilot/incident-collector/internal/incident"
	"github.com/sre-copilot/incident-collector/receiver/alertwebhookreceiver/internal/metadata"
)

// recordBuilder turns parsed alerts into log records (the contract of
// internal/incident). It holds only configuration, so one serves all requests.
type recordBuilder struct {
	recompute    bool
	ignoreLabels map[string]struct{}
	version      string
}

func newRecordBuilder(cfg FingerprintConfig, version string) recordBuilder {
	ignore := make(map[string]struct{}, len(cfg.IgnoreLabels))
	for _, l := range cfg.IgnoreLabels {
		ignore[l] = struct{}{}
	}
	return recordBuilder{recompute: cfg.Recompute, ignoreLabels: ignore, version: version}
}

// fingerprint is the sender's unless it sent none or recomputation is on.
func (b recordBuilder) fingerprint(a *alert) string {
	switch {
	case b.recompute:
		return incident.Fingerprint(a.Labels, b.ignoreLabels)
	case a.Fingerprint != "":
		return a.Fingerprint
	default:
		return incident.Fingerprint(a.Labels, nil)
	}
}

// identify sets each alert's dedup key and moves the alerts whose key cannot
// be an identity (empty, too long, a NUL, invalid UTF-8) to the rejected
// ones. A fingerprint is never altered to fit: "zz\x00X" must not become zzX.
func (b recordBuilder) identify(n *notification) {
	kept := n.Alerts[:0]
	for _, a := range n.Alerts {
		a.Fingerprint = b.fingerprint(&a)
		problem := incident.FingerprintProblem(a.Fingerprint)
		if problem == "" && strings.ContainsRune(a.Fingerprint, utf8.RuneError) {
			// JSON decoding replaced invalid UTF-8 with U+FFFD: two different
			// fingerprints as sent would become one.
			problem = "fingerprint is not valid UTF-8"
		}
		if problem != "" {
			n.Rejected = append(n.Rejected, rejection{Index: a.Index, Reason: problem})
			continue
		}
		kept = append(kept, a)
	}
	clear(n.Alerts[len(kept):])
	n.Alerts = kept
	slices.SortStableFunc(n.Rejected, func(x, y rejection) int { return cmp.Compare(x.Index, y.Index) })
}

// maxFallbackTitle bounds a title that is not an alertname.
const maxFallbackTitle = 256

// title names the incident: the alertname, else the summary, else the labels
// themselves, as Prometheus writes them ({service="api", severity="critical"}).
func title(a *alert) string {
	if name := a.Labels["alertname"]; name != "" {
		return name
	}
	if summary := a.Annotations["summary"]; summary != "" {
		return truncate(summary, maxFallbackTitle)
	}
	names := make([]string, 0, len(a.Labels))
	for k, v := range a.Labels {
		if v != "" {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	var t strings.Builder
	t.WriteByte('{')
	for i, k := range names {
		if t.Len() > maxFallbackTitle {
			break
		}
		if i > 0 {
			t.WriteString(", ")
		}
		t.WriteString(k)
		t.WriteByte('=')
		t.WriteString(strconv.Quote(a.Labels[k]))
	}
	t.WriteByte('}')
	return truncate(t.String(), maxFallbackTitle)
}

// receipt is what the records of one request share: the notification, the
// endpoint it came through and when it arrived.
type receipt struct {
	n        *notification
	ep       *endpoint
	now      time.Time
	received pcommon.Timestamp
}

// build returns one log record per alert of n, received at now through ep.
func (b recordBuilder) build(n *notification, ep *endpoint, now time.Time) plog.Logs {
	logs := plog.NewLogs()
	sl := logs.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty()
	sl.Scope().SetName(metadata.ScopeName)
	sl.Scope().SetVersion(b.version)
	records := sl.LogRecords()
	records.EnsureCapacity(len(n.Alerts))
	rc := &receipt{n: n, ep: ep, now: now, received: pcommon.NewTimestampFromTime(now)}
	for i := range n.Alerts {
		lr := records.AppendEmpty()
		if n.Source == incident.SourceJSON {
			fillJSON(lr, rc, &n.Alerts[i])
		} else {
			b.fill(lr, rc, &n.Alerts[i])
		}
		// Its place in the payload: the answer names a rejected alert by it,
		// also when it has no fingerprint.
		lr.Attributes().PutInt(incident.AttrAlertIndex, int64(n.Alerts[i].Index))
		putWebhook(lr.Attributes(), ep)
	}
	return logs
}

// putWebhook sets what the receiver knows of the integration.
func putWebhook(attrs pcommon.Map, ep *endpoint) {
	attrs.PutStr(incident.AttrIntegrationID, ep.id)
	attrs.PutStr(incident.AttrIntegrationType, ep.typ)
	putNonEmpty(attrs, incident.AttrProject, ep.project)
}

// fillJSON makes an alert of any JSON a record that says only where it came
// from: its body is the JSON object, and the user's processors set the
// attributes of the contract from it (the exporter says which it needs).
func fillJSON(lr plog.LogRecord, rc *receipt, a *alert) {
	lr.SetEventName(incident.EventName)
	// The receipt time, which a processor may replace with the sender's
	// (set(log.time, …)): the exporter detects the incident at it.
	lr.SetTimestamp(rc.received)
	lr.SetObservedTimestamp(rc.received)
	// FromRaw only fails on types JSON cannot produce.
	_ = lr.Body().SetEmptyMap().FromRaw(a.Body)
	lr.Attributes().PutStr(incident.AttrSource, incident.SourceJSON)
}

// described is what names an alert in its incident.
type described struct {
	title, description, service, severity string
}

// describe derives an alert's title, description, service and severity
// from its labels and annotations, unless its format states them (a
// PagerDuty event).
func describe(source string, a *alert) described {
	if source == incident.SourcePagerDuty {
		severity := a.Severity
		if severity == "" { // an acknowledge or a resolve without payload
			severity = incident.SeverityMedium
		}
		return described{title: a.Title, description: a.Description, service: a.ServiceName, severity: severity}
	}
	description := a.Annotations["description"]
	if description == "" {
		description = a.Annotations["summary"]
	}
	return described{
		title: title(a), description: description, service: a.Labels["service"],
		severity: incident.SeverityFromLabel(a.Labels["severity"]),
	}
}

func (b recordBuilder) fill(lr plog.LogRecord, rc *receipt, a *alert) {
	n := rc.n
	startsAt := a.StartsAt
	if startsAt.IsZero() {
		// As Alertmanager does for an alert pushed without a start; the
		// record then carries no alert.starts_at (see below).
		startsAt = rc.now
	}
	d := describe(n.Source, a)
	lr.SetEventName(incident.EventName)
	lr.SetTimestamp(pcommon.NewTimestampFromTime(startsAt))
	lr.SetObservedTimestamp(rc.received)
	lr.SetSeverityText(d.severity)
	lr.SetSeverityNumber(incident.SeverityNumber(d.severity))

	body := d.description
	if body == "" {
		body = d.title
	}
	lr.Body().SetStr(body)

	attrs := lr.Attributes()
	attrs.EnsureCapacity(24)
	attrs.PutStr(incident.AttrTitle, d.title)
	attrs.PutStr(incident.AttrDescription, d.description)
	putNonEmpty(attrs, incident.AttrServiceName, d.service)
	attrs.PutStr(incident.AttrSeverity, d.severity)
	started := startsAt.UTC().Format(incident.TimeLayout)
	attrs.PutStr(incident.AttrDetectedAt, started)

	attrs.PutStr(incident.AttrFingerprint, a.Fingerprint)
	attrs.PutStr(incident.AttrStatus, a.Status)
	if !a.StartsAt.IsZero() {
		// Only a start the sender stated: a repeat of a firing alert sent
		// without one is the same instance while it fires, which the
		// exporter can tell only if the receipt time is not passed off as
		// the start.
		attrs.PutStr(incident.AttrStartsAt, started)
	}
	if a.Status == incident.StatusResolved {
		endsAt := a.EndsAt
		if endsAt.IsZero() {
			endsAt = rc.now
		}
		attrs.PutStr(incident.AttrEndsAt, endsAt.UTC().Format(incident.TimeLayout))
	}
	putStringMap(attrs.PutEmptyMap(incident.AttrLabels), a.Labels)
	putStringMap(attrs.PutEmptyMap(incident.AttrAnnotations), a.Annotations)
	attrs.PutStr(incident.AttrSource, n.Source)
	putNonEmpty(attrs, incident.AttrGeneratorURL, a.GeneratorURL)
	putNonEmpty(attrs, incident.AttrGroupKey, n.GroupKey)
	putNonEmpty(attrs, incident.AttrReceiver, n.Receiver)
	putNonEmpty(attrs, incident.AttrExternalURL, n.ExternalURL)
	if n.Source == incident.SourceAlertmanager || n.Source == incident.SourceGrafana {
		attrs.PutInt(incident.AttrTruncatedAlerts, n.TruncatedAlerts)
	}
	if len(a.CustomDetails) > 0 {
		// PagerDuty's custom_details, whole: its labels hold only the strings.
		_ = attrs.PutEmptyMap(incident.AttrCustomDetails).FromRaw(a.CustomDetails)
	}

	if n.Source == incident.SourceGrafana {
		putNonEmpty(attrs, incident.AttrDashboardURL, a.DashboardURL)
		putNonEmpty(attrs, incident.AttrPanelURL, a.PanelURL)
		putNonEmpty(attrs, incident.AttrSilenceURL, a.SilenceURL)
		putNonEmpty(attrs, incident.AttrImageURL, a.ImageURL)
		if len(a.Values) > 0 {
			// FromRaw only fails on types JSON cannot produce.
			_ = attrs.PutEmptyMap(incident.AttrValues).FromRaw(a.Values)
		}
		if n.OrgID != nil {
			attrs.PutInt(incident.AttrOrgID, *n.OrgID)
		}
	}
}

func putNonEmpty(attrs pcommon.Map, key, value string) {
	if value != "" {
		attrs.PutStr(key, value)
	}
}

func putStringMap(m pcommon.Map, values map[string]string) {
	m.EnsureCapacity(len(values))
	for k, v := range values {
		m.PutStr(k, v)
	}
}
