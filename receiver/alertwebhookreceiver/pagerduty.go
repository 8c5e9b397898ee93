package alertwebhookreceiver // import "github.com/sre-copilot/incident-collector/receiver/alertwebhookreceiver"

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sre-copilot/incident-collector/internal/incident"
)

// A PagerDuty Events API v2 event (https://developer.pagerduty.com, "Send an
// alert event"): one event per request, authenticated by its routing_key.
// Tools that speak it (Alertmanager's pagerduty_configs, Grafana, Zabbix,
// Datadog…) point their URL here instead of events.pagerduty.com.

// PagerDuty's event actions.
const (
	pdTrigger     = "trigger"
	pdAcknowledge = "acknowledge"
	pdResolve     = "resolve"
)

// maxSummaryBytes bounds the title taken from payload.summary: PagerDuty
// keeps 1 024 characters of it (Alertmanager cuts it there too).
const maxSummaryBytes = 1024

// pdSeverities maps PagerDuty's severities to the incident's.
var pdSeverities = map[string]string{
	"critical": incident.SeverityCritical,
	"error":    incident.SeverityHigh,
	"warning":  incident.SeverityMedium,
	"info":     incident.SeverityLow,
}

// wireEvent is an event with every field kept raw, so that each problem can
// be named; unknown fields (images, links, client…) are ignored.
type wireEvent struct {
	RoutingKey  json.RawMessage `json:"routing_key"`
	EventAction json.RawMessage `json:"event_action"`
	DedupKey    json.RawMessage `json:"dedup_key"`
	ClientURL   json.RawMessage `json:"client_url"`
	Payload     json.RawMessage `json:"payload"`
}

type wirePayload struct {
	Summary       json.RawMessage `json:"summary"`
	Source        json.RawMessage `json:"source"`
	Severity      json.RawMessage `json:"severity"`
	Timestamp     json.RawMessage `json:"timestamp"`
	Component     json.RawMessage `json:"component"`
	Group         json.RawMessage `json:"group"`
	Class         json.RawMessage `json:"class"`
	CustomDetails json.RawMessage `json:"custom_details"`
}

// decodeEvent reads an event's envelope; only malformed JSON or a body that
// is not an object fails here, before anyone knows who sent it.
func decodeEvent(body []byte) (*wireEvent, error) {
	body = bytes.Trim(body, jsonSpace)
	if err := checkTopLevel(body, '{', "a JSON object (one PagerDuty event)"); err != nil {
		return nil, err
	}
	var ev wireEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		return nil, describeJSONError(err)
	}
	return &ev, nil
}

// routingKey is the event's credential, "" when it has none.
func (ev *wireEvent) routingKey() string {
	var key string
	if json.Unmarshal(ev.RoutingKey, &key) != nil {
		return ""
	}
	return key
}

// fields collects an event's problems while its fields are read.
type fields struct{ problems []string }

func (f *fields) problem(format string, args ...any) {
	f.problems = append(f.problems, fmt.Sprintf(format, args...))
}

// str reads a string field: absent or null is "".
func (f *fields) str(raw json.RawMessage, name string) string {
	if isAbsent(raw) {
		return ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		f.problem("'%s' must be a string, got JSON %s", name, jsonKindOf(raw))
		return ""
	}
	return s
}

// required reads a string field that must be there and not blank.
func (f *fields) required(raw json.RawMessage, name string) string {
	if isAbsent(raw) {
		f.problem("'%s' is missing", name)
		return ""
	}
	s := f.str(raw, name)
	if raw[0] == '"' && strings.TrimSpace(s) == "" {
		f.problem("'%s' is blank", name)
	}
	return s
}

func isAbsent(raw json.RawMessage) bool { return len(raw) == 0 || string(raw) == "null" }

// jsonKindOf names a raw JSON value's kind, for a problem's message.
func jsonKindOf(raw json.RawMessage) string {
	switch raw[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	default:
		return "number"
	}
}

// alert checks the event and returns the alert it becomes, or every problem
// that makes it invalid. now is the receipt time (a resolve's end).
func (ev *wireEvent) alert(now time.Time) (alert, []string) {
	var f fields
	action := f.str(ev.EventAction, "event_action")
	dedupKey := f.str(ev.DedupKey, "dedup_key")
	clientURL := f.str(ev.ClientURL, "client_url")
	var status string
	switch action {
	case pdTrigger:
		status = incident.StatusFiring
	case pdAcknowledge:
		status = incident.StatusAcknowledged
	case pdResolve:
		status = incident.StatusResolved
	case "":
		if isAbsent(ev.EventAction) || ev.EventAction[0] == '"' { // else str named the problem
			f.problem("'event_action' is missing: use trigger, acknowledge or resolve")
		}
	default:
		f.problem("'event_action' must be trigger, acknowledge or resolve, got %q", truncate(action, 64))
	}
	// PagerDuty reads the payload of a trigger only; an acknowledge or a
	// resolve may carry one (Alertmanager's does), which then names the
	// alert but is not checked.
	p := ev.readPayload(action == pdTrigger, &f)
	switch {
	case strings.ContainsRune(dedupKey, utf8.RuneError):
		// Decoding replaced invalid UTF-8 (or a lone surrogate's escape) with
		// U+FFFD: two keys as sent would be one. The label formats refuse
		// their fingerprints alike (records.go, identify).
		f.problem("'dedup_key' is not valid UTF-8")
	case dedupKey != "":
		if problem := incident.IdentityProblem("'dedup_key'", dedupKey, incident.MaxFingerprintLen); problem != "" {
			f.problem("%s", problem)
		}
	case action == pdAcknowledge || action == pdResolve:
		f.problem("'dedup_key' is required to %s an alert", action)
	default:
		// Repeats of one problem must deduplicate: the key is computed from
		// what names the problem, not drawn at random as PagerDuty does.
		dedupKey = incident.Fingerprint(p.identity(), nil)
	}
	if len(f.problems) > 0 {
		return alert{}, f.problems
	}
	a := alert{
		Status: status, Fingerprint: dedupKey, StartsAt: p.timestamp, GeneratorURL: clientURL,
		Title: truncate(p.summary, maxSummaryBytes-len("…")), Description: p.summary,
		ServiceName: p.component, Severity: pdSeverities[p.severity],
		Labels: p.labels(), Annotations: map[string]string{}, CustomDetails: p.details,
	}
	if a.Title == "" {
		a.Title = dedupKey
	}
	if p.summary != "" {
		a.Annotations["summary"] = p.summary
	}
	if d, ok := p.details["description"].(string); ok && d != "" {
		a.Description = d
		a.Annotations["description"] = d
	}
	if status == incident.StatusResolved {
		a.EndsAt = now
	}
	return a, nil
}

// pdPayload is an event's payload, read.
type pdPayload struct {
	summary, source, severity, component, group, class string
	timestamp                                          time.Time // zero: not stated
	details                                            map[string]any
}

// readPayload reads the payload; strict (a trigger) reports every problem,
// otherwise what cannot be read is left out.
func (ev *wireEvent) readPayload(strict bool, f *fields) pdPayload {
	var p pdPayload
	var w wirePayload
	if isAbsent(ev.Payload) {
		if strict {
			f.problem("'payload' is missing: a trigger needs summary, source and severity")
		}
		return p
	}
	if ev.Payload[0] != '{' || json.Unmarshal(ev.Payload, &w) != nil {
		if strict {
			f.problem("'payload' must be an object, got JSON %s", jsonKindOf(ev.Payload))
		}
		return p
	}
	pf := f
	if !strict {
		pf = &fields{} // problems of a payload PagerDuty does not read are no one's
	}
	str := pf.str
	if strict {
		str = pf.required
	}
	p.summary = str(w.Summary, "payload.summary")
	p.source = str(w.Source, "payload.source")
	p.severity = str(w.Severity, "payload.severity")
	p.component = pf.str(w.Component, "payload.component")
	p.group = pf.str(w.Group, "payload.group")
	p.class = pf.str(w.Class, "payload.class")
	if _, known := pdSeverities[p.severity]; p.severity != "" && !known {
		pf.problem("'payload.severity' must be critical, error, warning or info, got %q", truncate(p.severity, 64))
	}
	if ts := pf.str(w.Timestamp, "payload.timestamp"); ts != "" {
		t, err := parseEventTime(ts)
		if err != nil {
			pf.problem("'payload.timestamp': %v", err)
		}
		p.timestamp = t
	}
	if !isAbsent(w.CustomDetails) {
		v, err := decodeJSONValue(w.CustomDetails)
		details, isMap := v.(map[string]any)
		if err != nil || !isMap {
			pf.problem("'payload.custom_details' must be an object, got JSON %s", jsonKindOf(w.CustomDetails))
		}
		p.details = details
	}
	return p
}

// parseEventTime reads payload.timestamp: ISO 8601 as PagerDuty documents
// it, with an RFC 3339 offset or a basic one (2015-07-17T08:42:58.315+0000).
func parseEventTime(s string) (time.Time, error) {
	t, err := parseTime(s)
	if err == nil {
		return t, nil
	}
	basic, berr := time.Parse("2006-01-02T15:04:05.999999999Z0700", s)
	if berr != nil {
		return time.Time{}, fmt.Errorf("%q is not an ISO 8601 timestamp", truncate(s, 64))
	}
	return parseTime(basic.Format(time.RFC3339Nano))
}

// identity names the problem an event without a dedup_key is about.
func (p *pdPayload) identity() map[string]string {
	id := map[string]string{}
	for k, v := range map[string]string{"source": p.source, "summary": p.summary, "component": p.component, "group": p.group, "class": p.class} {
		if v != "" {
			id[k] = v
		}
	}
	return id
}

// labels are the non-empty source, component, group, class and severity,
// and the string values of custom_details, in name order, as many as the
// bounds of one alert's labels allow (the rest stay in custom_details): the
// named fields win over a custom detail of the same name.
func (p *pdPayload) labels() map[string]string {
	named := map[string]string{"source": p.source, "component": p.component, "group": p.group, "class": p.class, "severity": p.severity}
	labels := make(map[string]string, len(named)+len(p.details))
	size := 0
	for k, v := range named {
		if v != "" {
			labels[k] = v
			size += len(k) + len(v)
		}
	}
	keys := make([]string, 0, len(p.details))
	for k := range p.details {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v, ok := p.details[k].(string)
		if _, taken := labels[k]; !ok || v == "" || taken {
			continue
		}
		if len(labels) >= maxLabels || size+len(k)+len(v) > maxLabelBytes {
			continue
		}
		labels[k] = v
		size += len(k) + len(v)
	}
	return labels
}
