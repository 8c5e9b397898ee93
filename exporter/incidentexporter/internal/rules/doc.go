// Package rules decides what alerts, sweeps and people's actions do to
// incidents. It knows no SQL: it works on the rows a store read under the
// locks of their groups (State) and reports, for each operation, a verdict
// and the rows it changed. The store (package store) reads those rows, runs
// the rules and writes what changed, the same on SQLite and PostgreSQL;
// unique indexes there stand behind what the rules decide.
//
// Words, one meaning each:
//   - scope: the integration an alert came through (its dedup scope).
//   - alert: (scope, fingerprint); an instance of it is that plus its
//     startsAt, stored once as a member.
//   - group: the alerts that share an incident, (scope, group key); by
//     default one alert per group.
//   - incident: a group's open incident, or a resolved one.
//   - member: one alert instance of an incident, firing or resolved.
//
// Each rule lives in one file: alert.go (fire, resolve), resolve.go
// (an incident resolves, auto-resolve), heartbeat.go (dead man's switch).
package rules // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/rules"
