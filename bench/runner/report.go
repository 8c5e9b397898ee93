package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sre-copilot/incident-collector/internal/loadgen"
)

type target struct {
	what  string
	value float64
	limit float64
	atMin bool // true: value must be ≥ limit; false: ≤ limit
	unit  string
}

func (t target) met() bool {
	if t.atMin {
		return t.value >= t.limit
	}
	return t.value <= t.limit
}

// find is the first row, in run order, of a server whose name starts with
// server: "collector, SQLite" runs before its grouping variant.
func find(rows []row, server, scenario string) *row {
	for i := range rows {
		if strings.HasPrefix(rows[i].server, server) && rows[i].scenario == scenario {
			return &rows[i]
		}
	}
	return nil
}

func render(o options, rows []row, halfRate *loadgen.Result, rss []int64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Benchmarks\n\nProduced by `make bench` on %s. Machine: %s.\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"), machine())
	fmt.Fprintf(&b, "Method: one run, one server at a time on this machine, the load generator (`internal/loadgen`, as `cmd/alertload`) "+
		"on the same cores with %d connections; %v of warm-up per server, then %v per measurement. Every figure is compared with the "+
		"baseline measured in the same run: a plain `net/http` + `encoding/json` server decoding the same Alertmanager body and "+
		"answering 200, without checks or storage (`bench/baseline`). The peer row is a real Alertmanager v0.31.1 taking the same alerts "+
		"(as Prometheus pushes them) on its own `POST /api/v2/alerts`, into memory. The collector runs with its own metrics off and the rate limit "+
		"out of the way; on SQLite and PostgreSQL every 2xx means the alert is committed (SQLite WAL, `synchronous=FULL`). Each "+
		"notification is one group (its own `groupKey`); the grouping row stores it with `grouping.by: group_key`.\n\n",
		o.conns, o.warmup, o.duration)

	b.WriteString("| server | load | alerts/s | requests/s | p50 ms | p99 ms | non-2xx | ratio to baseline |\n|---|---|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		base := find(rows, "baseline", r.scenario)
		ratio := r.res.AlertsPS / base.res.AlertsPS
		fmt.Fprintf(&b, "| %s | %s | %.0f | %.0f | %.2f | %.2f | %d | %.2f |\n", r.server, r.scenario, r.res.AlertsPS, r.res.RequestsPS,
			r.res.LatencyP50, r.res.LatencyP99, r.res.Non2xx+r.res.Errors, ratio)
	}

	var targets []target
	ratio := func(server, scenario string) float64 {
		r, base := find(rows, server, scenario), find(rows, "baseline", scenario)
		if r == nil || base == nil {
			return -1
		}
		return r.res.AlertsPS / base.res.AlertsPS
	}
	targets = append(targets,
		target{"receiver alone, 1-alert, × baseline", ratio("receiver alone", "1-alert unique"), 0.80, true, "×"},
		target{"SQLite, 1-alert unique, × baseline", ratio("collector, SQLite", "1-alert unique"), 0.45, true, "×"},
		target{"SQLite, 1-alert duplicate, × baseline", ratio("collector, SQLite", "1-alert duplicate"), 0.60, true, "×"},
	)
	if am, sqlite := find(rows, "Alertmanager", "1-alert unique"), find(rows, "collector, SQLite", "1-alert unique"); am != nil && sqlite != nil {
		targets = append(targets, target{"SQLite, 1-alert unique, × Alertmanager's in-memory ingest", sqlite.res.AlertsPS / am.res.AlertsPS, 1.3, true, "×"})
	}
	if grouped, alone := find(rows, "collector, SQLite, grouping", "100-alert unique"), find(rows, "collector, SQLite", "100-alert unique"); grouped != nil && alone != nil {
		targets = append(targets, target{"SQLite, 100-alert notifications, grouping by group_key × by alert", grouped.res.AlertsPS / alone.res.AlertsPS, 0.8, true, "×"})
	}
	if one, hundred := find(rows, "collector, SQLite", "1-alert unique"), find(rows, "collector, SQLite", "100-alert unique"); one != nil && hundred != nil {
		targets = append(targets, target{"SQLite, 100-alert alerts/s, × SQLite 1-alert unique", hundred.res.AlertsPS / one.res.AlertsPS, 5, true, "×"})
	}
	if find(rows, "collector, PostgreSQL", "1-alert unique") != nil {
		targets = append(targets, target{"PostgreSQL, 1-alert unique, × baseline", ratio("collector, PostgreSQL", "1-alert unique"), 0.20, true, "×"})
	}
	if halfRate != nil {
		targets = append(targets, target{
			fmt.Sprintf("SQLite p99 at half the maximum rate (%.0f req/s, %d non-2xx)", halfRate.RequestsPS, halfRate.Non2xx+halfRate.Errors),
			halfRate.LatencyP99, 10, false, "ms",
		})
	}
	if len(rss) == 2 {
		targets = append(targets,
			target{fmt.Sprintf("SQLite resident memory after %v at maximum rate", o.soak), float64(rss[0]) / (1 << 20), 200, false, "MB"},
			target{fmt.Sprintf("growth of resident memory over a further %v", o.soak), 100 * float64(rss[1]-rss[0]) / float64(rss[0]), 10, false, "%"},
		)
	}
	b.WriteString("\n## Targets\n\n| target | measured | limit | met |\n|---|---:|---:|---|\n")
	for _, t := range targets {
		op := "≥"
		if !t.atMin {
			op = "≤"
		}
		met := "yes"
		if !t.met() {
			met = "**no**"
		}
		fmt.Fprintf(&b, "| %s | %.2f %s | %s %.2f %s | %s |\n", t.what, t.value, t.unit, op, t.limit, t.unit, met)
	}
	// The reading of the profiles is written by hand and kept beside the runner.
	if notes, err := os.ReadFile(filepath.Join("bench", "analysis.md")); err == nil {
		b.WriteString("\n")
		b.Write(notes)
	}
	return b.String()
}
