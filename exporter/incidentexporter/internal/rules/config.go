package rules

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sre-copilot/incident-collector/internal/incident"
)

// Grouping modes (exporter config grouping.by).
const (
	GroupByAlert    = "alert"
	GroupByGroupKey = "group_key"
	GroupByLabels   = "labels"
)

// Values of resolve_on.
const (
	ResolveOnAll   = "all"
	ResolveOnFirst = "first"
)

// Config is what the user configures of the rules.
type Config struct {
	// ResolveOn: all (default), the incident resolves when none of its
	// alerts still fires; first, the first resolved alert resolves it.
	ResolveOn string
	// ReopenWindow: a new alert of a group whose latest incident resolved
	// less than this before the alert started reopens that incident instead
	// of opening a new one (flapping). 0: off.
	ReopenWindow time.Duration
	// HeartbeatAlertname: firing alerts with this alertname are heartbeats
	// of their scope, not incidents. "": off.
	HeartbeatAlertname string
	// HeartbeatTimeout: a scope silent this long gets one critical incident.
	HeartbeatTimeout time.Duration
}

func (c *Config) isHeartbeat(a *Alert) bool {
	return c.HeartbeatAlertname != "" && a.AlertName == c.HeartbeatAlertname
}

// SourceHeartbeat is the source of the incidents a missing heartbeat opens.
const SourceHeartbeat = "heartbeat"

// heartbeatGroupKey is the group of a scope's heartbeat incident. No alert
// has it: an alert's group key is its fingerprint (never empty), a groupKey
// or a label hash.
const heartbeatGroupKey = ""

// HeartbeatGroupKey is the group key of heartbeat incidents, for the store's
// queries.
const HeartbeatGroupKey = heartbeatGroupKey

// Grouping chooses which incident an alert belongs to.
type Grouping struct {
	By     string   // alert (default) | group_key | labels
	Labels []string // by: labels
}

// KeyOf is the group key of an alert sent in a notification with groupKey
// notificationKey, whose labels label reads; "" when the alert is a group of
// its own (AlertOp):
//   - by alert: always.
//   - by group_key: the notification's groupKey (Alertmanager and Grafana
//     group by the user's group_by); none when it has none.
//   - by labels: a hash (FNV-1a, as fingerprints) of the listed labels'
//     values, a missing label counting as empty; none when the alert has
//     none of them.
func (g Grouping) KeyOf(notificationKey string, label func(name string) (string, bool)) string {
	switch g.By {
	case GroupByGroupKey:
		return StorableKey(notificationKey)
	case GroupByLabels:
		values := make(map[string]string, len(g.Labels))
		found := false
		for _, name := range g.Labels {
			v, ok := label(name)
			found = found || ok
			values[name] = v
		}
		if !found {
			return ""
		}
		return incident.Fingerprint(values, nil)
	default:
		return ""
	}
}

// maxGroupKeyLen bounds a stored group key like a fingerprint.
const maxGroupKeyLen = 512

// hashedKeyPrefix starts the stored form of a key that could not be stored as
// sent.
const hashedKeyPrefix = "sha256:"

// StorableKey is how a group key is stored. A key is an identity: two keys
// the sender told apart must stay apart. One that both stores keep as is
// (at most 512 bytes of valid UTF-8 without NUL) is stored as is; any other,
// and any key that starts like a hashed one, is stored as "sha256:" and the
// hash of its bytes as sent, so that no key sent can pass for another's
// stored form.
func StorableKey(k string) string {
	if k == "" {
		return ""
	}
	if len(k) <= maxGroupKeyLen && utf8.ValidString(k) && !strings.ContainsRune(k, 0) && !strings.HasPrefix(k, hashedKeyPrefix) {
		return k
	}
	sum := sha256.Sum256([]byte(k))
	return hashedKeyPrefix + hex.EncodeToString(sum[:])
}
