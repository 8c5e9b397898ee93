//go:generate mdatagen metadata.yaml

// Package incidentexporter stores alert log records (the contract of
// internal/incident) as deduplicated incidents in SQLite or PostgreSQL, and
// reports each alert's verdict back to the receiver that asked.
package incidentexporter // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter"
