package incidentexporter // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter"

import (
	"errors"
	"net/http"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/rules"
	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/store"
	"github.com/sre-copilot/incident-collector/internal/incident"
)

// The JSON endpoints (README, "Incident API").

type listBody struct {
	Incidents  []apiIncident `json:"incidents"`
	NextCursor *string       `json:"next_cursor"`
}

type incidentBody struct {
	Incident apiIncident `json:"incident"`
	Alerts   []apiAlert  `json:"alerts"`
	Timeline []apiEvent  `json:"timeline"`
	// AlertsTruncated: more alerts than the first maxShown (alert_count
	// says how many); TimelineTruncated: more events before the last
	// maxShown.
	AlertsTruncated   bool `json:"alerts_truncated,omitempty"`
	TimelineTruncated bool `json:"timeline_truncated,omitempty"`
}

// maxShown bounds the alerts and the timeline of one incident's answer and
// page: a group can hold tens of thousands of alerts.
const maxShown = 1000

type actionAnswer struct {
	Incident apiIncident `json:"incident"`
	// Outcome is what the action did: acknowledged, unacknowledged,
	// resolved, or unchanged (it had been done already).
	Outcome string `json:"outcome"`
}

type heartbeatsBody struct {
	Heartbeats []apiHeartbeat `json:"heartbeats"`
}

type apiHeartbeat struct {
	Integration string `json:"integration"`
	Alertname   string `json:"alertname"`
	LastSeenAt  string `json:"last_seen_at"`
	Status      string `json:"status"` // ok | missing
}

// GET /api/v1/incidents
func (a *apiServer) listIncidents(w http.ResponseWriter, req *http.Request) {
	lq, err := parseListQuery(req.URL.RawQuery, defaultListLimit)
	if err != nil {
		failJSON(w, http.StatusBadRequest, err.Error())
		return
	}
	page, ok := a.listPage(w, req, &lq, failJSON)
	if !ok {
		return
	}
	body := listBody{Incidents: make([]apiIncident, len(page.Incidents))}
	for i := range page.Incidents {
		body.Incidents[i] = apiIncidentOf(&page.Incidents[i])
	}
	body.NextCursor = optionalString(page.Next)
	writeJSON(w, http.StatusOK, body)
}

// listPage reads a page of the list, or answers the failure.
func (a *apiServer) listPage(w http.ResponseWriter, req *http.Request, lq *listQuery, fail func(http.ResponseWriter, int, string)) (store.Page, bool) {
	ctx, cancel := a.storeContext(req)
	defer cancel()
	page, err := a.store.ListIncidents(ctx, lq.filter)
	switch {
	case errors.Is(err, store.ErrBadCursor):
		fail(w, http.StatusBadRequest, "cursor is not one this API returned: start again without it")
		return page, false
	case err != nil:
		a.logger.Debug("Listing incidents failed", zap.Error(err))
		storeFailure(w, err, fail)
		return page, false
	}
	return page, true
}

// GET /api/v1/incidents/{id}
func (a *apiServer) getIncident(w http.ResponseWriter, req *http.Request) {
	read, ok := a.readIncident(w, req, failJSON)
	if !ok {
		return
	}
	body := incidentBody{
		Incident: apiIncidentOf(&read.Incident), Alerts: make([]apiAlert, len(read.Members)), Timeline: make([]apiEvent, len(read.Timeline)),
		AlertsTruncated: read.MoreMembers, TimelineTruncated: read.MoreTimeline,
	}
	for i := range read.Members {
		body.Alerts[i] = apiAlertOf(&read.Members[i])
	}
	for i := range read.Timeline {
		body.Timeline[i] = apiEventOf(&read.Timeline[i])
	}
	writeJSON(w, http.StatusOK, body)
}

// readIncident reads the path's incident with its first alerts and latest
// timeline (maxShown of each), or answers why not (404, 503) with fail.
func (a *apiServer) readIncident(w http.ResponseWriter, req *http.Request, fail func(http.ResponseWriter, int, string)) (store.Whole, bool) {
	id, ok := incidentID(req)
	if !ok {
		notFound(w, id, fail)
		return store.Whole{}, false
	}
	ctx, cancel := a.storeContext(req)
	defer cancel()
	read, err := a.store.Incident(ctx, id, maxShown, maxShown)
	switch {
	case isNotFound(err):
		notFound(w, id, fail)
		return read, false
	case err != nil:
		a.logger.Debug("Reading an incident failed", zap.String("incident_id", id), zap.Error(err))
		storeFailure(w, err, fail)
		return read, false
	}
	return read, true
}

// POST /api/v1/incidents/{id}/acknowledge, …/unacknowledge, …/resolve
func (a *apiServer) act(w http.ResponseWriter, req *http.Request, kind rules.Kind) {
	id, ok := incidentID(req)
	if !ok {
		notFound(w, id, failJSON)
		return
	}
	body, status, err := readAction(req)
	if err != nil {
		failJSON(w, status, err.Error())
		return
	}
	ctx, cancel := a.storeContext(req)
	defer cancel()
	out, inc, err := a.store.Act(ctx, kind, id, body.by, body.note)
	switch {
	case isNotFound(err):
		notFound(w, id, failJSON)
		return
	case err != nil:
		a.logger.Debug("An action on an incident failed", zap.String("incident_id", id), zap.Error(err))
		storeFailure(w, err, failJSON)
		return
	case out.Verdict == incident.VerdictIgnored:
		// The action does not apply (the incident is resolved): the
		// reason is the store's, for example "Incident is resolved".
		failJSON(w, http.StatusConflict, out.Reason)
		return
	}
	if out.Verdict != incident.VerdictUnchanged {
		// People's actions are rare and worth a line: who did what.
		a.logger.Info("Incident changed through the API", zap.String("incident_id", id),
			zap.String("outcome", string(out.Verdict)), zap.String("by", body.by))
	}
	writeJSON(w, http.StatusOK, actionAnswer{Incident: apiIncidentOf(&inc), Outcome: string(out.Verdict)})
}

// GET /api/v1/heartbeats
func (a *apiServer) listHeartbeats(w http.ResponseWriter, req *http.Request) {
	ctx, cancel := a.storeContext(req)
	defer cancel()
	beats, err := a.store.Heartbeats(ctx)
	if err != nil {
		a.logger.Debug("Reading heartbeats failed", zap.Error(err))
		storeFailure(w, err, failJSON)
		return
	}
	body := heartbeatsBody{Heartbeats: make([]apiHeartbeat, len(beats))}
	for i, b := range beats {
		status := "ok"
		if b.Missing {
			status = "missing"
		}
		body.Heartbeats[i] = apiHeartbeat{Integration: b.Scope, Alertname: b.Alertname, LastSeenAt: b.LastSeenAt.Format(incident.TimeLayout), Status: status}
	}
	writeJSON(w, http.StatusOK, body)
}

// incidentID is the path's incident id in the form the store keeps (a
// lowercase UUID), and whether it is one at all; an id that is not one
// names no incident.
func incidentID(req *http.Request) (string, bool) {
	raw := req.PathValue("id")
	u, err := uuid.Parse(raw)
	if err != nil || len(raw) != 36 {
		return truncate(raw, 100), false
	}
	return u.String(), true
}
