package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/rules"
	"github.com/sre-copilot/incident-collector/internal/incident"
)

// The web view's counts: active incidents by severity, open and
// acknowledged apart; resolved ones are not counted.
func TestActiveCounts(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		s := e.open(Options{})
		counts, err := s.ActiveCounts(context.Background())
		require.NoError(t, err)
		assert.Empty(t, counts)
		var ids []string
		for i, sev := range []string{incident.SeverityCritical, incident.SeverityCritical, incident.SeverityHigh, "page-me", incident.SeverityLow} {
			a := firing(fmt.Sprintf("count-%d", i), t0.Add(time.Duration(i)*time.Minute))
			a.Severity = sev
			ids = append(ids, apply1(t, s, a).IncidentID)
		}
		act(t, s, rules.KindAcknowledge, ids[1])
		act(t, s, rules.KindResolve, ids[4])
		counts, err = s.ActiveCounts(context.Background())
		require.NoError(t, err)
		assert.Equal(t, []SeverityCount{
			{Severity: incident.SeverityCritical, Open: 1, Acknowledged: 1},
			{Severity: incident.SeverityHigh, Open: 1},
			{Severity: "page-me", Open: 1},
		}, counts)
	})
}
