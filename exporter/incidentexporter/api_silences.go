package incidentexporter // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter"

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/rules"
	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/store"
	"github.com/sre-copilot/incident-collector/internal/incident"
)

// The silences' endpoints (README, "Silences").

const (
	silenceExample   = `{"matchers":[{"name":"service","value":"api","op":"="}],"ends_at":"2026-12-07T18:00:00Z","created_by":"alice"}`
	silenceStatusAll = "all"
)

type apiSilence struct {
	ID          string          `json:"id"`
	Matchers    []rules.Matcher `json:"matchers"`
	StartsAt    string          `json:"starts_at"`
	EndsAt      string          `json:"ends_at"`
	CreatedBy   string          `json:"created_by"`
	Comment     string          `json:"comment"`
	Integration string          `json:"integration"`
	Status      string          `json:"status"`
}

type silenceBody struct {
	Silence apiSilence `json:"silence"`
}

type silencesBody struct {
	Silences []apiSilence `json:"silences"`
}

func apiSilenceOf(s *rules.Silence, now time.Time) apiSilence {
	return apiSilence{
		ID: s.ID, Matchers: s.Matchers, StartsAt: s.StartsAt.UTC().Format(incident.TimeLayout),
		EndsAt: s.EndsAt.UTC().Format(incident.TimeLayout), CreatedBy: s.CreatedBy, Comment: s.Comment,
		Integration: s.Scope, Status: s.Status(now),
	}
}

// silenceJSON is a new silence as sent.
type silenceJSON struct {
	Matchers    []rules.Matcher `json:"matchers"`
	StartsAt    string          `json:"starts_at"`
	EndsAt      string          `json:"ends_at"`
	CreatedBy   *string         `json:"created_by"`
	Comment     string          `json:"comment"`
	Integration string          `json:"integration"`
}

// newSilence checks who and the fields' shapes; the store checks the
// silence's rules (matchers and their bounds, times).
func (b *silenceJSON) newSilence() (store.NewSilence, error) {
	var problems []string
	by, err := person("created_by", b.CreatedBy)
	if err != nil {
		problems = append(problems, err.Error())
	}
	if err := note("comment", b.Comment); err != nil {
		problems = append(problems, err.Error())
	}
	if problem := incident.IdentityProblem("integration", b.Integration, incident.MaxFingerprintLen); b.Integration != "" && problem != "" {
		problems = append(problems, problem)
	}
	n := store.NewSilence{Matchers: b.Matchers, CreatedBy: by, Comment: b.Comment, Scope: b.Integration}
	for _, t := range []struct {
		field, v string
		dst      *time.Time
	}{{"starts_at", b.StartsAt, &n.StartsAt}, {"ends_at", b.EndsAt, &n.EndsAt}} {
		if t.v == "" {
			continue // starts_at: now; ends_at: the store says it is required
		}
		parsed, err := time.Parse(time.RFC3339Nano, t.v)
		if err != nil || parsed.UTC().Year() < 1 || parsed.UTC().Year() > 9999 {
			problems = append(problems, t.field+": not an RFC 3339 time, e.g. 2026-12-07T18:00:00Z")
			continue
		}
		*t.dst = parsed
	}
	if len(problems) > 0 {
		return n, errors.New(strings.Join(problems, "; "))
	}
	return n, nil
}

// POST /api/v1/silences
func (a *apiServer) createSilence(w http.ResponseWriter, req *http.Request) {
	var body silenceJSON
	if status, err := readJSON(req, &body, silenceExample); err != nil {
		failJSON(w, status, err.Error())
		return
	}
	n, err := body.newSilence()
	if err != nil {
		failJSON(w, http.StatusBadRequest, err.Error())
		return
	}
	ctx, cancel := a.storeContext(req)
	defer cancel()
	sil, err := a.store.CreateSilence(ctx, n)
	var invalid *store.InvalidSilenceError
	switch {
	case errors.As(err, &invalid):
		failJSON(w, http.StatusBadRequest, strings.Join(invalid.Problems, "; "))
		return
	case err != nil:
		a.logger.Debug("Creating a silence failed", zap.Error(err))
		storeFailure(w, err, failJSON)
		return
	}
	a.logger.Info("Silence created through the API", zap.String("silence_id", sil.ID), zap.String("by", sil.CreatedBy),
		zap.Time("ends_at", sil.EndsAt))
	writeJSON(w, http.StatusCreated, silenceBody{Silence: apiSilenceOf(&sil, a.now())})
}

// GET /api/v1/silences?status=active|pending|expired|all
func (a *apiServer) listSilences(w http.ResponseWriter, req *http.Request) {
	q := req.URL.Query()
	for name := range q {
		if name != "status" {
			failJSON(w, http.StatusBadRequest, "unknown parameter "+truncate(name, 64)+": use status")
			return
		}
	}
	status := q.Get("status")
	if len(q["status"]) > 1 {
		failJSON(w, http.StatusBadRequest, "status is given more than once")
		return
	}
	statuses := []string{rules.SilenceActive}
	switch status {
	case "", rules.SilenceActive:
	case rules.SilencePending, rules.SilenceExpired:
		statuses = []string{status}
	case silenceStatusAll:
		statuses = nil
	default:
		failJSON(w, http.StatusBadRequest, "status "+truncate(status, 64)+" is unknown: use active (the default), pending, expired or all")
		return
	}
	ctx, cancel := a.storeContext(req)
	defer cancel()
	all, err := a.store.Silences(ctx, statuses...)
	if err != nil {
		a.logger.Debug("Listing silences failed", zap.Error(err))
		storeFailure(w, err, failJSON)
		return
	}
	now := a.now()
	body := silencesBody{Silences: make([]apiSilence, len(all))}
	for i := range all {
		body.Silences[i] = apiSilenceOf(&all[i], now)
	}
	writeJSON(w, http.StatusOK, body)
}

// GET /api/v1/silences/{id}
func (a *apiServer) getSilence(w http.ResponseWriter, req *http.Request) {
	a.answerSilence(w, req, a.store.Silence)
}

// DELETE /api/v1/silences/{id}: the silence ends now, and what it held
// opens its incidents at once.
func (a *apiServer) expireSilence(w http.ResponseWriter, req *http.Request) {
	a.answerSilence(w, req, func(ctx context.Context, id string) (rules.Silence, error) {
		sil, err := a.store.ExpireSilence(ctx, id)
		if err == nil {
			a.logger.Info("Silence expired through the API", zap.String("silence_id", id))
		}
		return sil, err
	})
}

func (a *apiServer) answerSilence(w http.ResponseWriter, req *http.Request, do func(context.Context, string) (rules.Silence, error)) {
	id := req.PathValue("id")
	ctx, cancel := a.storeContext(req)
	defer cancel()
	sil, err := do(ctx, id)
	switch {
	case errors.Is(err, store.ErrSilenceNotFound):
		failJSON(w, http.StatusNotFound, "Silence not found: "+truncate(id, 100))
		return
	case err != nil:
		a.logger.Debug("A silence request failed", zap.String("silence_id", truncate(id, 100)), zap.Error(err))
		storeFailure(w, err, failJSON)
		return
	}
	writeJSON(w, http.StatusOK, silenceBody{Silence: apiSilenceOf(&sil, a.now())})
}
