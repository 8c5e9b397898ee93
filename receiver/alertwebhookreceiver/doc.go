//go:generate mdatagen metadata.yaml

// Package alertwebhookreceiver receives alert webhooks from Prometheus
// Alertmanager, Grafana unified alerting and Prometheus itself, and emits one
// log record per alert carrying the incident attributes of internal/incident.
package alertwebhookreceiver // import "github.com/sre-copilot/incident-collector/receiver/alertwebhookreceiver"
