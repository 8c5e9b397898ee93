package alertwebhookreceiver // import "github.com/sre-copilot/incident-collector/receiver/alertwebhookreceiver"

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/sre-copilot/incident-collector/internal/incident"
)

// An integration of type json takes any JSON: an object, or an array of
// objects, each one alert. The receiver does not interpret it: each becomes a
// log record whose body is the object as sent, and the user's processors (a
// transform with OTTL) set the alert's attributes from it.

// parseJSONAlerts parses a json integration's body. An element that is not an
// object is rejected alone; a body with none left is a 400.
func parseJSONAlerts(body []byte, maxAlerts int) (*notification, error) {
	body = bytes.Trim(body, jsonSpace)
	if len(body) == 0 {
		return nil, invalidPayload("empty body")
	}
	if !json.Valid(body) {
		return nil, describeJSONError(json.Unmarshal(body, new(any)))
	}
	v, err := decodeJSONValue(body)
	if err != nil {
		return nil, describeJSONError(err)
	}
	n := &notification{Source: incident.SourceJSON}
	switch x := v.(type) {
	case map[string]any:
		n.Alerts = []alert{{Index: 0, Body: x}}
	case []any:
		if len(x) == 0 {
			return nil, invalidPayload("empty array: no alert")
		}
		if len(x) > maxAlerts {
			return nil, &tooManyAlertsError{limit: maxAlerts}
		}
		n.Alerts = make([]alert, 0, len(x))
		for i, e := range x {
			if m, ok := e.(map[string]any); ok {
				n.Alerts = append(n.Alerts, alert{Index: i, Body: m})
				continue
			}
			n.Rejected = append(n.Rejected, rejection{Index: i, Reason: "expected a JSON object, got JSON " + rawKind(e)})
		}
	default:
		return nil, invalidPayload("expected a JSON object or an array of objects, got JSON %s", rawKind(v))
	}
	return n, n.usable()
}

// decodeJSONValue decodes valid JSON into the values a log record's body
// holds: an integer stays an exact int64 (alert ids are often larger than a
// float64 keeps exactly), other numbers become float64.
func decodeJSONValue(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return exactNumbers(v), nil
}

func exactNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if !strings.ContainsAny(x.String(), ".eE") {
			if i, err := x.Int64(); err == nil {
				return i
			}
		}
		f, err := x.Float64()
		if err != nil {
			// Past float64's range (1e400): kept as written, not as ±Inf.
			return x.String()
		}
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = exactNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = exactNumbers(e)
		}
	}
	return v
}

// rawKind names a decoded value's JSON kind.
func rawKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	default:
		return "number"
	}
}
