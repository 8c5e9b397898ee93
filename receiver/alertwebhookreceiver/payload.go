package alertwebhookreceiver // import "github.com/sre-copilot/incident-collector/receiver/alertwebhookreceiver"

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	gojson "github.com/goccy/go-json"

	"github.com/sre-copilot/incident-collector/internal/incident"
)

// payloadError is a request that can never succeed: it becomes a 400 whose
// detail says what is wrong.
type payloadError struct{ msg string }

func (e *payloadError) Error() string { return "Invalid webhook payload: " + e.msg }

func invalidPayload(format string, args ...any) error {
	return &payloadError{msg: fmt.Sprintf(format, args...)}
}

// rejection names one alert of a payload that could not be used; the others
// still go through.
type rejection struct {
	Index  int    `json:"index"`
	Reason string `json:"reason"`
}

// wireAlert is one alert as Alertmanager, Grafana and Prometheus send it.
// Unknown fields are ignored: senders add fields between versions.
type wireAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     string            `json:"startsAt"`
	EndsAt       string            `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`

	// Grafana extras.
	DashboardURL string `json:"dashboardURL"`
	PanelURL     string `json:"panelURL"`
	SilenceURL   string `json:"silenceURL"`
	ImageURL     string `json:"imageURL"`
	// Values stay raw until the alert is known to be Grafana's: decoding
	// them costs many times their size, for payloads that never use them.
	Values json.RawMessage `json:"values"`
}

// wireNotification is the envelope of an Alertmanager (v4) or Grafana (v1)
// notification. A is []wireAlert on the fast path, which decodes the alerts in the
// same pass (nearly every request is well-formed), and json.RawMessage on the
// slow path, which then looks at each alert alone to say what is wrong.
type wireNotification[A any] struct {
	Receiver        string `json:"receiver"`
	GroupKey        string `json:"groupKey"` // see exactGroupKey
	ExternalURL     string `json:"externalURL"`
	TruncatedAlerts int64  `json:"truncatedAlerts"`
	OrgID           *int64 `json:"orgId"`
	Alerts          A      `json:"alerts"`
}

// notification starts the parsed request with the envelope's metadata,
// found in body.
func (w *wireNotification[A]) notification(source string, body []byte) (*notification, error) {
	groupKey, err := exactGroupKey(body, w.GroupKey)
	if err != nil {
		return nil, err
	}
	return &notification{
		Source: source, Receiver: w.Receiver, GroupKey: groupKey, ExternalURL: w.ExternalURL,
		TruncatedAlerts: w.TruncatedAlerts, OrgID: w.OrgID,
	}, nil
}

// alert is one validated alert, independent of the payload format.
type alert struct {
	Index        int // position in the payload's alerts, for the answer's rejected list
	Status       string
	Labels       map[string]string
	Annotations  map[string]string
	StartsAt     time.Time // zero: the sender did not say
	EndsAt       time.Time // zero: still firing or not said
	GeneratorURL string
	// Fingerprint is the sender's (empty when it sent none) until
	// recordBuilder.identify makes it the alert's dedup key.
	Fingerprint string

	DashboardURL string
	PanelURL     string
	SilenceURL   string
	ImageURL     string
	Values       map[string]any

	// What a PagerDuty event states, where the label formats derive it
	// from labels and annotations (records.go, describe).
	Title, Description, ServiceName, Severity string
	CustomDetails                             map[string]any

	// Body is an alert of any JSON, as sent: its record's body.
	Body map[string]any
}

// notification is a parsed request: the envelope's metadata and its usable
// alerts.
type notification struct {
	Source          string
	Receiver        string
	GroupKey        string // as sent, byte for byte: it may be invalid UTF-8
	ExternalURL     string
	TruncatedAlerts int64
	OrgID           *int64
	Alerts          []alert
	Rejected        []rejection
	// SNS is an Amazon SNS subscription confirmation (json integrations):
	// logged and answered, never an alert.
	SNS *snsConfirmation
}

// jsonSpace is JSON's whitespace: a body that starts with anything else (a
// form feed, a non-breaking space) is not JSON, here as in the alert count.
const jsonSpace = " \t\r\n"

// parseNotification parses an Alertmanager v4 or Grafana v1 notification. A
// payload that is not usable at all is a *payloadError; single bad alerts are
// listed in Rejected and the rest are kept.
func parseNotification(body []byte, source string, now time.Time) (*notification, error) {
	body = bytes.Trim(body, jsonSpace)
	if err := checkTopLevel(body, '{', "a JSON object"); err != nil {
		return nil, err
	}
	var fast wireNotification[[]wireAlert]
	if err := decodeFast(body, &fast); err == nil {
		if fast.Alerts == nil {
			return nil, invalidPayload("missing required field 'alerts'")
		}
		n, err := fast.notification(source, body)
		if err != nil {
			return nil, err
		}
		n.addAll(fast.Alerts, source, now)
		return n, n.usable()
	}

	// Slow path: find out exactly what is wrong, alert by alert.
	var slow wireNotification[json.RawMessage]
	if err := json.Unmarshal(body, &slow); err != nil {
		return nil, describeJSONError(err)
	}
	raws, err := alertArray(slow.Alerts)
	if err != nil {
		return nil, err
	}
	n, err := slow.notification(source, body)
	if err != nil {
		return nil, err
	}
	n.addRaw(raws, source, now)
	return n, n.usable()
}

// parsePush parses Prometheus' own push body (POST /api/v2/alerts): a JSON
// array of alerts without status or fingerprint.
func parsePush(body []byte, now time.Time) (*notification, error) {
	body = bytes.Trim(body, jsonSpace)
	if err := checkTopLevel(body, '[', "a JSON array of alerts"); err != nil {
		return nil, err
	}
	n := &notification{Source: incident.SourcePrometheus}
	var fast []wireAlert
	if err := decodeFast(body, &fast); err == nil {
		n.addAll(fast, incident.SourcePrometheus, now)
		return n, n.usable()
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(body, &raws); err != nil {
		return nil, describeJSONError(err)
	}
	n.addRaw(raws, incident.SourcePrometheus, now)
	return n, n.usable()
}

// decodeFast decodes body with goccy/go-json (the decoder the collector's
// contrib components moved to from the unmaintained json-iterator: 2.5 to
// 3.5 times as fast as encoding/json on our payloads, BenchmarkDecodeNotification)
// when it is valid UTF-8. Otherwise it refuses, so that encoding/json (which
// replaces invalid bytes with U+FFFD, as pdata and PostgreSQL need, and says
// precisely what is wrong) takes the slow path.
func decodeFast(body []byte, v any) error {
	if !utf8.Valid(body) {
		return errInvalidUTF8
	}
	return gojson.Unmarshal(body, v)
}

var errInvalidUTF8 = errors.New("invalid UTF-8")

func checkTopLevel(body []byte, want byte, what string) error {
	if len(body) == 0 {
		return invalidPayload("empty body")
	}
	if body[0] != want {
		if !json.Valid(body) {
			return describeJSONError(json.Unmarshal(body, new(any)))
		}
		return invalidPayload("expected %s", what)
	}
	return nil
}

func alertArray(raw json.RawMessage) ([]json.RawMessage, error) {
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, invalidPayload("missing required field 'alerts'")
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(raw, &raws); err != nil {
		return nil, invalidPayload("field 'alerts' must be an array")
	}
	return raws, nil
}

func (n *notification) addAll(wires []wireAlert, source string, now time.Time) {
	n.Alerts = make([]alert, 0, len(wires))
	for i := range wires {
		n.add(i, &wires[i], source, now)
	}
}

func (n *notification) addRaw(raws []json.RawMessage, source string, now time.Time) {
	n.Alerts = make([]alert, 0, len(raws))
	for i, raw := range raws {
		var w wireAlert
		if err := json.Unmarshal(raw, &w); err != nil {
			n.Rejected = append(n.Rejected, rejection{Index: i, Reason: jsonProblem(err)})
			continue
		}
		n.add(i, &w, source, now)
	}
}

func (n *notification) add(i int, w *wireAlert, source string, now time.Time) {
	a, reason := validate(w, source, now)
	if reason != "" {
		n.Rejected = append(n.Rejected, rejection{Index: i, Reason: reason})
		return
	}
	a.Index = i
	n.Alerts = append(n.Alerts, a)
}

// usable reports a payload with no alert left as a whole-request error.
func (n *notification) usable() error {
	if len(n.Alerts) > 0 {
		return nil
	}
	switch len(n.Rejected) {
	case 0:
		return invalidPayload("field 'alerts' is empty")
	case 1:
		return invalidPayload("alerts[%d]: %s", n.Rejected[0].Index, n.Rejected[0].Reason)
	default:
		return invalidPayload("no valid alert: alerts[%d]: %s (and %d more)",
			n.Rejected[0].Index, n.Rejected[0].Reason, len(n.Rejected)-1)
	}
}

// Bounds of one alert. Real alerts carry tens of labels of tens of bytes;
// these keep one hostile alert from turning into megabytes of attributes,
// index entries and JSON columns. An alert over one is rejected alone.
const (
	maxLabels      = 1000
	maxAnnotations = 1000
	// maxLabelBytes bounds the label names and values of one alert together:
	// the labels are hashed into the fingerprint and stored with every incident.
	maxLabelBytes = 64 << 10
)

func validate(w *wireAlert, source string, now time.Time) (alert, string) {
	if len(w.Labels) == 0 {
		return alert{}, "missing required field 'labels'"
	}
	if len(w.Labels) > maxLabels {
		return alert{}, fmt.Sprintf("%d labels, more than the limit of %d", len(w.Labels), maxLabels)
	}
	if len(w.Annotations) > maxAnnotations {
		return alert{}, fmt.Sprintf("%d annotations, more than the limit of %d", len(w.Annotations), maxAnnotations)
	}
	// alertname is not required (Alertmanager's API does not require it: the
	// title falls back), but an alert must be told apart by some label value.
	size, valued := 0, false
	for k, v := range w.Labels {
		size += len(k) + len(v)
		valued = valued || v != ""
	}
	if !valued {
		return alert{}, "field 'labels' has no label with a value"
	}
	if size > maxLabelBytes {
		return alert{}, fmt.Sprintf("labels of %d bytes, more than the limit of %d", size, maxLabelBytes)
	}
	startsAt, err := parseTime(w.StartsAt)
	if err != nil {
		return alert{}, fmt.Sprintf("field 'startsAt': %v", err)
	}
	endsAt, err := parseTime(w.EndsAt)
	if err != nil {
		return alert{}, fmt.Sprintf("field 'endsAt': %v", err)
	}
	status := w.Status
	switch {
	case source == incident.SourcePrometheus || status == "":
		// Prometheus pushes no status: an alert whose end time has passed is resolved.
		status = incident.StatusFiring
		if !endsAt.IsZero() && !endsAt.After(now) {
			status = incident.StatusResolved
		}
	case status != incident.StatusFiring && status != incident.StatusResolved:
		return alert{}, fmt.Sprintf("field 'status' must be 'firing' or 'resolved', got %q", truncate(status, 64))
	}
	var values map[string]any
	if source == incident.SourceGrafana && len(w.Values) > 0 && string(w.Values) != "null" {
		if err := json.Unmarshal(w.Values, &values); err != nil {
			return alert{}, "field 'values' must be an object"
		}
	}
	return alert{
		Status:       status,
		Labels:       w.Labels,
		Annotations:  w.Annotations,
		StartsAt:     startsAt,
		EndsAt:       endsAt,
		GeneratorURL: w.GeneratorURL,
		Fingerprint:  w.Fingerprint,
		DashboardURL: w.DashboardURL,
		PanelURL:     w.PanelURL,
		SilenceURL:   w.SilenceURL,
		ImageURL:     w.ImageURL,
		Values:       values,
	}, ""
}

// parseTime reads an RFC 3339 timestamp with any offset. Empty and Go's zero
// time (which Alertmanager sends as endsAt of a firing alert) mean "not set".
// A time past the year 9999 in UTC (9999-12-31T23:59:59-23:59 is one) cannot
// be stored as it was sent by either store, so it is refused, never altered.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 timestamp", truncate(s, 64))
	}
	if t.Year() <= 1 {
		return time.Time{}, nil
	}
	if t.UTC().Year() > 9999 {
		return time.Time{}, fmt.Errorf("%q is after the year 9999 in UTC", truncate(s, 64))
	}
	return t.UTC(), nil
}

// describeJSONError turns a decoding error into a 400 a sender can act on.
func describeJSONError(err error) error { return &payloadError{msg: jsonProblem(err)} }

func jsonProblem(err error) string {
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntaxErr):
		return fmt.Sprintf("malformed JSON at byte %d: %v", syntaxErr.Offset, syntaxErr)
	case errors.As(err, &typeErr):
		if typeErr.Field == "labels" || typeErr.Field == "annotations" {
			return fmt.Sprintf("field '%s' must map names to strings, got JSON %s", typeErr.Field, typeErr.Value)
		}
		if typeErr.Field == "" {
			return fmt.Sprintf("expected %s, got JSON %s", jsonKind(typeErr.Type.Kind().String()), typeErr.Value)
		}
		return fmt.Sprintf("field '%s' must be %s, got JSON %s", truncate(typeErr.Field, 128),
			jsonKind(typeErr.Type.Kind().String()), typeErr.Value)
	default:
		return fmt.Sprintf("malformed JSON: %v", err)
	}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "map", "struct":
		return "an object"
	case "slice", "array":
		return "an array"
	case "int64", "int", "float64":
		return "a number"
	case "bool":
		return "a boolean"
	default:
		return goKind
	}
}

// truncate cuts s to at most n bytes, at a character boundary, and marks the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
