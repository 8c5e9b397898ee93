// Package rules decides what alerts, sweeps and people's actions do to
// incidents. It knows no SQL: it works on the rows a store read under the
// locks of their groups (State) and reports, for each operation, a verdict
// and the rows it changed. The store (package store, whose documentation
// holds the glossary: scope, alert, instance, member, group, incident) reads
// those rows, runs the rules and writes what changed, the same on SQLite and
// PostgreSQL; unique indexes there stand behind what the rules decide.
//
// Each rule lives in one file: alert.go (fire, resolve), resolve.go (an
// incident resolves, auto-resolve), heartbeat.go (dead man's switch).
package rules // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/rules"
