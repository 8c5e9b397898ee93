package incidentexporter // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter"

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/rules"
	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/store"
)

// What the templates show, as plain strings: the templates only place
// values, html/template escapes them, and nothing here is marked safe HTML.

// listView is the list page.
type listView struct {
	Filters     []filterLink
	Counts      []severityCount
	ActiveTotal int64
	// Silenced: firing alerts the active silences hold; Silences: those.
	Silenced int64
	Silences []silenceRow
	Heading  string
	Rows     []listRow
	NextHref string // "" on the last page
}

type filterLink struct {
	Name, Href string
	Selected   bool
}

type severityCount struct {
	Severity, Class    string
	Open, Acknowledged int64
}

type silenceRow struct {
	Matchers, Integration, CreatedBy, Comment, EndsIn, EndsAt string
	Held                                                      int64
}

// silenceRowsOf shows the active silences, with the alerts each holds.
func silenceRowsOf(silences []rules.Silence, held map[string]int64, now time.Time) ([]silenceRow, int64) {
	var rows []silenceRow
	var total int64
	for i := range silences {
		s := &silences[i]
		parts := make([]string, len(s.Matchers))
		for j, m := range s.Matchers {
			parts[j] = m.Name + m.Op + strconv.Quote(m.Value)
		}
		integration := s.Scope
		if integration == "" {
			integration = "all"
		}
		rows = append(rows, silenceRow{
			Matchers: strings.Join(parts, ", "), Integration: integration, CreatedBy: s.CreatedBy, Comment: s.Comment,
			EndsIn: age(s.EndsAt.Sub(now)), EndsAt: formatTime(s.EndsAt), Held: held[s.ID],
		})
		total += held[s.ID]
	}
	return rows, total
}

type listRow struct {
	Href, Severity, SeverityClass, Title, Service, Integration   string
	Age, DetectedAt, Alerts, Status, StatusClass, AcknowledgedBy string
}

func listViewOf(lq *listQuery, page store.Page, counts []store.SeverityCount, now time.Time) listView {
	v := listView{Heading: statusHeading(lq.status)}
	for _, name := range shownStatuses {
		params := url.Values{}
		if name != statusDefault {
			params.Set("status", name)
		}
		v.Filters = append(v.Filters, filterLink{Name: name, Href: listHref(params), Selected: name == lq.status})
	}
	for _, c := range sortedCounts(counts) {
		v.Counts = append(v.Counts, severityCount{Severity: c.Severity, Class: severityClass(c.Severity), Open: c.Open, Acknowledged: c.Acknowledged})
		v.ActiveTotal += c.Open + c.Acknowledged
	}
	for i := range page.Incidents {
		inc := &page.Incidents[i]
		v.Rows = append(v.Rows, listRow{
			Href: incidentHref(inc.ID), Severity: inc.Severity, SeverityClass: severityClass(inc.Severity),
			Title: inc.Title, Service: inc.ServiceName, Integration: inc.Scope,
			Age: age(now.Sub(inc.DetectedAt)), DetectedAt: formatTime(inc.DetectedAt),
			Alerts: strconv.FormatInt(inc.FiringAlerts, 10) + " / " + strconv.FormatInt(inc.AlertCount, 10),
			Status: inc.ShownStatus(), StatusClass: "st-" + inc.ShownStatus(), AcknowledgedBy: inc.AcknowledgedBy,
		})
	}
	if page.Next != "" {
		params := url.Values{"cursor": {page.Next}}
		if lq.status != statusDefault {
			params.Set("status", lq.status)
		}
		v.NextHref = listHref(params)
	}
	return v
}

func statusHeading(status string) string {
	switch status {
	case statusDefault:
		return "Active incidents"
	case "all":
		return "All incidents"
	}
	return "Incidents: " + status
}

// sortedCounts puts the four severities first, most severe first, and any
// other value a processor set after them.
func sortedCounts(counts []store.SeverityCount) []store.SeverityCount {
	out := slices.Clone(counts)
	rank := func(s string) int {
		if i := slices.Index(severities, s); i >= 0 {
			return i
		}
		return len(severities)
	}
	sort.SliceStable(out, func(i, j int) bool {
		ri, rj := rank(out[i].Severity), rank(out[j].Severity)
		if ri != rj {
			return ri < rj
		}
		return out[i].Severity < out[j].Severity
	})
	return out
}

// severityClass is the badge's CSS class: one of a fixed set, never a
// value from the data.
func severityClass(severity string) string {
	if slices.Contains(severities, severity) {
		return "sev-" + severity
	}
	return "sev-other"
}

// incidentView is an incident's page.
type incidentView struct {
	Title, Severity, SeverityClass, Status, StatusClass, Description string
	GeneratorURL                                                     string
	Fields                                                           []nameValue
	Labels, Annotations                                              []nameValue
	Alerts                                                           []alertRow
	Timeline                                                         []eventRow
	// AlertsTruncated: only the first alerts are shown; TimelineTruncated:
	// only the latest events.
	AlertsTruncated, TimelineTruncated bool
}

// nameValue is a row of a table; Link is set when the value is a web
// address worth following (html/template still checks its scheme).
type nameValue struct {
	Name, Value, Link string
}

type alertRow struct {
	Fingerprint, Status, StatusClass, Severity, SeverityClass, Title string
	StartsAt, EndsAt, Occurrences                                    string
	Labels                                                           []nameValue
}

type eventRow struct {
	At, Event, By, Note, Fingerprint string
}

func incidentViewOf(w *store.Whole, now time.Time) incidentView {
	inc, members, events := &w.Incident, w.Members, w.Timeline
	v := incidentView{
		AlertsTruncated: w.MoreMembers, TimelineTruncated: w.MoreTimeline,
		Title: inc.Title, Severity: inc.Severity, SeverityClass: severityClass(inc.Severity),
		Status: inc.ShownStatus(), StatusClass: "st-" + inc.ShownStatus(), Description: inc.Description,
		GeneratorURL: webLink(inc.GeneratorURL),
		Labels:       jsonPairs(inc.Labels), Annotations: jsonPairs(inc.Annotations),
	}
	add := func(name, value string) {
		if value != "" {
			v.Fields = append(v.Fields, nameValue{Name: name, Value: value})
		}
	}
	add("Detected", formatTime(inc.DetectedAt)+" ("+age(now.Sub(inc.DetectedAt))+" ago)")
	add("Last seen", formatTime(inc.LastSeenAt))
	if !inc.AcknowledgedAt.IsZero() {
		add("Acknowledged", formatTime(inc.AcknowledgedAt)+" by "+inc.AcknowledgedBy)
	}
	if !inc.ResolvedAt.IsZero() {
		add("Resolved", formatTime(inc.ResolvedAt))
	}
	add("Resolution", inc.Reason)
	add("Resolved by", inc.ResolvedBy)
	add("Service", inc.ServiceName)
	add("Integration", inc.Scope)
	add("Project", inc.Project)
	add("Source", inc.Source)
	add("Alerts firing / total", strconv.FormatInt(inc.FiringAlerts, 10)+" / "+strconv.FormatInt(inc.AlertCount, 10))
	add("Notifications", strconv.FormatInt(inc.Occurrences, 10))
	if inc.ReopenCount > 0 {
		add("Reopened", strconv.FormatInt(inc.ReopenCount, 10)+" times")
	}
	add("Fingerprint", inc.Fingerprint)
	add("Group", inc.GroupKey)
	add("Id", inc.ID)
	for i := range members {
		m := &members[i]
		row := alertRow{
			Fingerprint: m.Ref.Fingerprint, Status: m.Status, StatusClass: "st-" + m.Status, Severity: m.Severity,
			SeverityClass: severityClass(m.Severity), Title: m.Title, StartsAt: formatTime(m.Ref.StartsAt),
			Occurrences: strconv.FormatInt(m.Occurrences, 10), Labels: jsonPairs(m.Labels),
		}
		if !m.EndsAt.IsZero() {
			row.EndsAt = formatTime(m.EndsAt)
		}
		v.Alerts = append(v.Alerts, row)
	}
	for i := range events {
		e := &events[i]
		v.Timeline = append(v.Timeline, eventRow{At: formatTime(e.At), Event: e.Event, By: e.By, Note: e.Note, Fingerprint: e.Fingerprint})
	}
	return v
}

// jsonPairs reads a JSON object column (labels, annotations) as rows,
// sorted by name. Values that are not strings are shown as JSON.
func jsonPairs(raw string) []nameValue {
	var m map[string]any
	if json.Unmarshal([]byte(raw), &m) != nil {
		return nil
	}
	out := make([]nameValue, 0, len(m))
	for k, v := range m {
		s, ok := v.(string)
		if !ok {
			b, _ := json.Marshal(v)
			s = string(b)
		}
		out = append(out, nameValue{Name: k, Value: s, Link: webLink(s)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// webLink is s when it is an absolute http(s) address, else "": only those
// become links (a runbook, a dashboard, the generator URL).
func webLink(s string) string {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	return s
}

// formatTime is how pages show a time: UTC, to the second.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// age is a duration as a person reads it: 45s, 12m, 3h 5m, 2d 4h.
func age(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh %dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd %dh", int(d.Hours())/24, int(d.Hours())%24)
}
