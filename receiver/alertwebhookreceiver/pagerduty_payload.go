package alertwebhookreceiver // import "github.com/sre-copilot/incident-collector/receiver/alertwebhookreceiver"

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// An event's payload: what names and describes the alert (pagerduty.go).

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
