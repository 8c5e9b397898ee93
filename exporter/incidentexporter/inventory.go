package incidentexporter // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter"

import (
	"slices"
	"sync"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/sre-copilot/incident-collector/internal/incident"
)

// inventory is what the alertwebhook receivers feeding this exporter serve,
// as each last announced it (incident.EventNameInventory). A heartbeat of a
// scope none of them serves has no sender left: it is forgotten, and its
// incident resolves. Before any announcement, every heartbeat is watched.
type inventory struct {
	mu     sync.Mutex
	scopes map[string][]string // receiver → the scopes it serves
}

// isInventory: lr is an announcement; it is taken, and is not an alert.
func (v *inventory) take(lr plog.LogRecord) bool {
	if lr.EventName() != incident.EventNameInventory {
		return false
	}
	attrs := lr.Attributes()
	receiver := rawStr(attrs, incident.AttrReceiverID)
	var ids []string
	if list, ok := attrs.Get(incident.AttrIntegrationIDs); ok && list.Type() == pcommon.ValueTypeSlice {
		for i := range list.Slice().Len() {
			ids = append(ids, list.Slice().At(i).AsString())
		}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.scopes == nil {
		v.scopes = map[string][]string{}
	}
	v.scopes[receiver] = ids
	return true
}

// served tells the scopes some receiver serves; ok is false until one
// announced itself.
func (v *inventory) served() (served func(scope string) bool, ok bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.scopes) == 0 {
		return nil, false
	}
	var all []string
	for _, ids := range v.scopes {
		all = append(all, ids...)
	}
	return func(scope string) bool { return slices.Contains(all, scope) }, true
}
