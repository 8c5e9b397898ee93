// Package incident holds the contract shared by the alertwebhook receiver and
// the incident exporter: the log-record attribute keys, the severity mapping,
// the Alertmanager fingerprint and the verdict recorder that carries the
// store's answer back to the HTTP sender.
package incident

// EventName is the log record's EventName for every alert.
const EventName = "alert"

// EventNameInventory is the EventName of the record in which a receiver
// announces, at start and then periodically, every dedup scope it serves
// (AttrReceiverID, AttrIntegrationIDs). It carries no alert.fingerprint: it
// is not an alert. A scope no receiver announces any more has no sender left,
// so nothing will ever resolve its heartbeat incident.
const EventNameInventory = "alertwebhook.inventory"

// Attribute keys of an alert log record. They are a public contract: processors
// in the pipeline may read and rewrite them, and the exporter stores what it gets.
const (
	AttrTitle       = "incident.title"
	AttrDescription = "incident.description"
	AttrServiceName = "incident.service_name"
	AttrSeverity    = "incident.severity"
	AttrDetectedAt  = "incident.detected_at"

	AttrFingerprint     = "alert.fingerprint"
	AttrStatus          = "alert.status"
	AttrStartsAt        = "alert.starts_at"
	AttrEndsAt          = "alert.ends_at"
	AttrLabels          = "alert.labels"
	AttrAnnotations     = "alert.annotations"
	AttrSource          = "alert.source"
	AttrGeneratorURL    = "alert.generator_url"
	AttrGroupKey        = "alert.group_key"
	AttrReceiver        = "alert.receiver"
	AttrExternalURL     = "alert.external_url"
	AttrTruncatedAlerts = "alert.truncated_alerts"

	AttrDashboardURL = "alert.dashboard_url"
	AttrPanelURL     = "alert.panel_url"
	AttrSilenceURL   = "alert.silence_url"
	AttrImageURL     = "alert.image_url"
	AttrValues       = "alert.values"
	AttrOrgID        = "alert.org_id"

	// AttrCustomDetails is a PagerDuty event's payload.custom_details, as
	// sent (a map of any JSON values).
	AttrCustomDetails = "alert.custom_details"

	// AttrAlertIndex is the alert's index in the request's payload, so that
	// the answer names a rejected alert even when it has no fingerprint.
	AttrAlertIndex      = "webhook.alert.index"
	AttrIntegrationID   = "webhook.integration.id"
	AttrIntegrationType = "webhook.integration.type"
	AttrProject         = "webhook.project"
)

// Attribute keys of an inventory record (EventNameInventory).
const (
	// AttrReceiverID is the announcing receiver's component ID
	// ("alertwebhook", "alertwebhook/prod").
	AttrReceiverID = "webhook.receiver.id"
	// AttrIntegrationIDs is a slice of every dedup scope the receiver serves:
	// the values its alert records carry in AttrIntegrationID.
	AttrIntegrationIDs = "webhook.integration.ids"
)

// Values of alert.status.
const (
	StatusFiring   = "firing"
	StatusResolved = "resolved"
	// StatusAcknowledged: the sender acknowledged the alert (PagerDuty's
	// event_action acknowledge); the open incident holding it is acknowledged.
	StatusAcknowledged = "acknowledged"
)

// Values of alert.source: the payload format the alert arrived in.
const (
	SourceAlertmanager = "alertmanager"
	SourcePrometheus   = "prometheus"
	SourceGrafana      = "grafana"
	SourcePagerDuty    = "pagerduty"
	// SourceJSON: any JSON, mapped to these attributes by the user's
	// processors (a transform with OTTL).
	SourceJSON = "json"
)

// TimeLayout is how every timestamp attribute is written: RFC 3339 in UTC.
const TimeLayout = "2006-01-02T15:04:05.999999999Z07:00"
