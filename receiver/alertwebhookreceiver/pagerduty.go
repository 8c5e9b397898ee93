package alertwebhookreceiver // import "github.com/sre-copilot/incident-collector/receiver/alertwebhookreceiver"

import (
	"bytes"
	"encoding/json"
	"fmt"
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
