package incidentexporter // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter"

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/rules"
	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/store"
	"github.com/sre-copilot/incident-collector/internal/incident"
)

// The list's query parameters (README, "Incident API"). A parameter this
// API does not know is refused, not ignored: a misspelled filter would
// otherwise show everything and look like an answer.

const (
	defaultListLimit = 50
	maxListLimit     = 500
	// maxQueryValue bounds a filter's value; fingerprints are at most 256
	// bytes, services and projects are label values.
	maxQueryValue = 1024
)

// statusChoices are the status parameter's values and the shown statuses
// each selects; all selects every status (none).
var statusChoices = map[string][]string{
	"active":                 {rules.StatusOpen, rules.StatusAcknowledged},
	rules.StatusOpen:         {rules.StatusOpen},
	rules.StatusAcknowledged: {rules.StatusAcknowledged},
	rules.StatusResolved:     {rules.StatusResolved},
	"all":                    nil,
}

const (
	statusDefault = "active"
	statusNames   = "active, open, acknowledged, resolved or all"
)

var severities = []string{incident.SeverityCritical, incident.SeverityHigh, incident.SeverityMedium, incident.SeverityLow}

var listParams = []string{"status", "severity", "service", "integration", "project", "fingerprint", "since", "until", "limit", "cursor"}

// listQuery is a parsed list request.
type listQuery struct {
	filter store.IncidentFilter
	// status is the status parameter as given (statusDefault when absent),
	// for the web view's filter links.
	status string
}

// parseListQuery reads the list's parameters; the error says which one is
// wrong and how.
func parseListQuery(raw string, defaultLimit int) (listQuery, error) {
	lq := listQuery{status: statusDefault, filter: store.IncidentFilter{Limit: defaultLimit}}
	// url.Values from a request drops the pairs it cannot read ("a;b",
	// "%zz"): read it here, so that a filter given is never a filter lost.
	q, err := url.ParseQuery(raw)
	if err != nil {
		return lq, fmt.Errorf("the query cannot be read (%s): separate parameters with & and percent-encode their values", truncate(err.Error(), 100))
	}
	for name, values := range q {
		if !slices.Contains(listParams, name) {
			return lq, fmt.Errorf("unknown query parameter %q: use %s", truncate(name, 100), strings.Join(listParams, ", "))
		}
		if len(values) > 1 {
			return lq, fmt.Errorf("%s is given %d times: give it once (a comma list for several statuses or severities)", name, len(values))
		}
		if len(values[0]) > maxQueryValue {
			return lq, fmt.Errorf("%s is longer than %d bytes", name, maxQueryValue)
		}
	}
	f := &lq.filter
	f.Service, f.Scope, f.Project, f.Fingerprint = q.Get("service"), q.Get("integration"), q.Get("project"), q.Get("fingerprint")
	f.After = q.Get("cursor")
	if s := q.Get("status"); s != "" {
		lq.status = s
	}
	if f.Statuses, err = parseStatuses(lq.status); err != nil {
		return lq, err
	}
	if s := q.Get("severity"); s != "" {
		for _, sev := range strings.Split(s, ",") {
			sev = strings.TrimSpace(sev)
			if !slices.Contains(severities, sev) {
				return lq, fmt.Errorf("severity %q is unknown: use critical, high, medium or low (a comma list for several)", truncate(sev, 100))
			}
			if !slices.Contains(f.Severities, sev) {
				f.Severities = append(f.Severities, sev)
			}
		}
	}
	if f.Since, err = parseTime(q, "since"); err != nil {
		return lq, err
	}
	if f.Until, err = parseTime(q, "until"); err != nil {
		return lq, err
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return lq, fmt.Errorf("since (%s) must be before until (%s)", q.Get("since"), q.Get("until"))
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxListLimit {
			return lq, fmt.Errorf("limit must be a whole number from 1 to %d, got %q", maxListLimit, truncate(s, 100))
		}
		f.Limit = n
	}
	return lq, nil
}

// parseStatuses reads a status value: one of statusChoices, or a comma
// list of them.
func parseStatuses(s string) ([]string, error) {
	var out []string
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		shown, ok := statusChoices[name]
		if !ok {
			return nil, fmt.Errorf("status %q is unknown: use %s (a comma list for several)", truncate(name, 100), statusNames)
		}
		if shown == nil {
			return nil, nil // all
		}
		for _, st := range shown {
			if !slices.Contains(out, st) {
				out = append(out, st)
			}
		}
	}
	return out, nil
}

// parseTime reads an RFC 3339 time. A '+' of an offset that was not
// escaped in the URL arrives as a space: it is read back as the '+' it was.
func parseTime(q url.Values, name string) (time.Time, error) {
	s := q.Get(name)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, strings.Replace(s, " ", "+", 1))
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q is not an RFC 3339 time such as 2026-11-28T19:00:00Z", name, truncate(s, 100))
	}
	return t, nil
}
