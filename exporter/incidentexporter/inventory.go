package incidentexporter // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter"

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/sre-copilot/incident-collector/internal/incident"
)

// announcement is what an alertwebhook receiver announced it serves
// (incident.EventNameInventory): the store records it under this
// collector's instance, and a heartbeat of an integration no live collector
// announces any more is forgotten (README, "Heartbeats").
type announcement struct {
	receiver string
	scopes   []string
}

// announcementOf reads lr when it is an announcement.
func announcementOf(lr plog.LogRecord) (announcement, bool) {
	if lr.EventName() != incident.EventNameInventory {
		return announcement{}, false
	}
	attrs := lr.Attributes()
	a := announcement{receiver: rawStr(attrs, incident.AttrReceiverID)}
	if list, ok := attrs.Get(incident.AttrIntegrationIDs); ok && list.Type() == pcommon.ValueTypeSlice {
		for i := range list.Slice().Len() {
			a.scopes = append(a.scopes, list.Slice().At(i).AsString())
		}
	}
	return a, true
}
