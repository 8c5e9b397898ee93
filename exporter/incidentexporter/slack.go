package incidentexporter // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter"

import (
	"fmt"
	"strings"

	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/rules"
	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/store"
	"github.com/sre-copilot/incident-collector/internal/incident"
)

// slackMessage is a Slack incoming-webhook message. Mattermost and
// Rocket.Chat read only text, so text alone says everything: severity,
// title, service, alert count, what happened and who did it, the link.
type slackMessage struct {
	Text   string       `json:"text"`
	Blocks []slackBlock `json:"blocks"`
}

type slackBlock struct {
	Type     string      `json:"type"`
	Text     *slackText  `json:"text,omitempty"`
	Elements []slackText `json:"elements,omitempty"`
}

type slackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// Slack refuses a section's text over 3 000 characters, and the event would
// fail for good: each part is bounded, then the whole.
const (
	maxSlackField = 300
	maxSlackNote  = 1000
	maxSlackText  = 2900
)

var severityEmoji = map[string]string{
	incident.SeverityCritical: ":red_circle:",
	incident.SeverityHigh:     ":large_orange_circle:",
	incident.SeverityMedium:   ":large_yellow_circle:",
	incident.SeverityLow:      ":large_blue_circle:",
}

// slackOf is the message of one event, e.g.
// ":red_circle: [CRITICAL] HighErrorRate — api-gateway (3 alerts) · acknowledged by alice: on it · <url|source>".
func slackOf(e *store.OutboxEvent) slackMessage {
	inc := &e.Incident
	var b strings.Builder
	emoji := severityEmoji[inc.Severity]
	switch e.Event {
	case rules.EventResolved:
		emoji = ":white_check_mark:"
	case rules.EventAcknowledged:
		emoji = ":eyes:"
	}
	if emoji == "" {
		emoji = severityEmoji[incident.SeverityMedium]
	}
	fmt.Fprintf(&b, "%s [%s] %s", emoji, strings.ToUpper(slackEscape(inc.Severity)), slackEscape(truncate(inc.Title, maxSlackField)))
	if inc.ServiceName != "" {
		b.WriteString(" — " + slackEscape(truncate(inc.ServiceName, maxSlackField)))
	}
	alerts := "alert"
	if inc.AlertCount != 1 {
		alerts += "s"
	}
	fmt.Fprintf(&b, " (%d %s) · %s", inc.AlertCount, alerts, slackWhat(e))
	if link := linkOf(inc.GeneratorURL); link != "" {
		// A "|" would end the address and start the link's text.
		b.WriteString(" · <" + slackEscape(strings.ReplaceAll(link, "|", "%7C")) + "|source>")
	}
	text := truncate(b.String(), maxSlackText)
	context := fmt.Sprintf("Integration `%s` · incident `%s` · detected %s · status %s",
		slackEscape(inc.Scope), inc.ID, inc.DetectedAt.UTC().Format(incident.TimeLayout), inc.ShownStatus())
	return slackMessage{Text: text, Blocks: []slackBlock{
		{Type: "section", Text: &slackText{Type: "mrkdwn", Text: text}},
		{Type: "context", Elements: []slackText{{Type: "mrkdwn", Text: context}}},
	}}
}

// slackWhat says what happened, and who did it.
func slackWhat(e *store.OutboxEvent) string {
	what := e.Event
	switch e.Event {
	case rules.EventCreated:
		what = "opened"
	case rules.EventAlertAdded:
		what = "an alert joined"
	case rules.EventReopened:
		what = fmt.Sprintf("reopened (%d times)", e.Incident.ReopenCount)
	case rules.EventResolved:
		if e.Reason != "" && e.Reason != rules.ReasonManual {
			what += " (" + strings.ReplaceAll(e.Reason, "_", " ") + ")"
		}
	}
	if e.By != "" {
		what += " by " + slackEscape(truncate(e.By, maxSlackField))
	}
	if e.Note != "" {
		what += ": " + slackEscape(truncate(e.Note, maxSlackNote))
	}
	return what
}

// slackEscape escapes what Slack's mrkdwn reads as markup: a title can
// never become a link or a mention.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
